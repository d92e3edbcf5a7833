"""The speeds a facilitator may play a drill at: one range for the console's + and -,
`warroom drill --speed` and `warroom drill control speed X` (and its socket API).

Slower than real time for a walk-through, up to an hour a minute: faster than that a
15-minute drill is over before anyone can read an alert (`speed 1000` ended one in about a
second). The player itself takes any positive speed (tests and benches run scenarios at
thousands of times real time); the bound is the facilitator's.
"""

from __future__ import annotations

# The console's notches; the first and last are the range's bounds.
FACILITATOR_SPEEDS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
MIN_SPEED = FACILITATOR_SPEEDS[0]
MAX_SPEED = FACILITATOR_SPEEDS[-1]
SPEED_RANGE = f"a number from {MIN_SPEED:g} to {MAX_SPEED:g} (times real time)"


def speed_problem(speed: object) -> str | None:
    """What is wrong with `speed` as a facilitator's speed, or None when it is allowed."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) \
            or not MIN_SPEED <= speed <= MAX_SPEED:  # NaN fails both comparisons
        return f"the speed must be {SPEED_RANGE}"
    return None
