"""Review mode's replay clock and the times a reviewer types: no Textual here, tested on its own.

`ReplayClock` is the console's clock in review mode (`WarRoomApp.clock`): the
header's runbook clocks read it, so they show the replay moment. At the end
of the recording (the default) it is the wall clock it wraps and nothing is
cut; elsewhere it stands still (paused) or moves at `speed` times real time,
and stops at the end of the recording.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SPEEDS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 300, 600, 1800)
"""The replay speeds `>` and `<` step through (times real time)."""

_SPAN = re.compile(r"(?P<value>\d+)(?P<unit>[hms])")
_RELATIVE = re.compile(r"^(?P<sign>[+-]?)\s*(?P<body>(?:\d+\s*[hms]\s*)+)$")
_CLOCK = re.compile(r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?$")
_UNITS = {"h": 3600, "m": 60, "s": 1}
END_WORDS = frozenset({"end", "live", "now"})
HINT = "use +12m or +1h5m after detection, 09:42 (UTC), an ISO time, or end"


class BadMoment(ValueError):
    """A time the reviewer typed that means nothing; the message says what would."""


def parse_moment(text: str, start: datetime, last: datetime | None = None) -> datetime | None:
    """The moment `text` names, relative to detection `start`; None for the end.

    - `+12m`, `+1h5m`, `-2m`, `90s`: that long after (or before) detection;
    - `09:42` or `09:42:10`: that UTC time of day, on the day (of the days
      around detection) nearest the recording's span `start`..`last`;
    - `2026-03-14T09:42:00Z` or any ISO time (naive means UTC);
    - `end`, `live` or `now`: the end of the recording.
    """
    typed = text.strip()
    if not typed:
        raise BadMoment(f"no time given: {HINT}")
    if typed.lower() in END_WORDS:
        return None
    try:
        return _moment(typed, start, last)
    except BadMoment:
        raise
    except (OverflowError, ValueError):
        # +99999999h is past the year 9999; +10**21m more than a timedelta holds; 5,000
        # digits more than int() reads: each was the console's crash, a traceback in the CLI.
        span = f"detection at {start:%Y-%m-%d %H:%M:%S} UTC"
        if last is not None:
            span += f", the recording ends at {last:%Y-%m-%d %H:%M:%S} UTC"
        shown = typed if len(typed) <= 40 else typed[:40] + "\N{HORIZONTAL ELLIPSIS}"
        raise BadMoment(f"{shown!r} is out of range ({span}): {HINT}") from None


def _moment(typed: str, start: datetime, last: datetime | None) -> datetime:
    """parse_moment's reading of a time that is not `end`, in UTC; OverflowError (or
    ValueError) for one out of range."""
    if match := _RELATIVE.match(typed.lower()):
        seconds = sum(
            int(part["value"]) * _UNITS[part["unit"]]
            for part in _SPAN.finditer(match["body"].replace(" ", ""))
        )
        span = timedelta(seconds=seconds)
        return start - span if match["sign"] == "-" else start + span
    if match := _CLOCK.match(typed):
        hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise BadMoment(f"{typed!r} is not a time of day: {HINT}")
        return _nearest_day(start.astimezone(UTC), last, hour, minute, second)
    try:
        moment = datetime.fromisoformat(typed.replace("z", "Z"))
    except ValueError:
        raise BadMoment(f"{typed!r} is not a time: {HINT}") from None
    # In UTC now: 0001-01-01T00:00+01:00 is before the calendar's first day in UTC, which
    # would overflow later, wherever it is compared or converted.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _nearest_day(
    start: datetime, last: datetime | None, hour: int, minute: int, second: int
) -> datetime:
    """That time of day on the day before, of or after `start`, nearest the span start..last."""
    end = max(last or start, start)
    candidates = [
        (start + timedelta(days=offset)).replace(
            hour=hour, minute=minute, second=second, microsecond=0
        )
        for offset in (-1, 0, 1)
    ]

    def distance(moment: datetime) -> timedelta:
        if moment < start:
            return start - moment
        return moment - end if moment > end else timedelta(0)

    return min(candidates, key=distance)


def speed_text(speed: float) -> str:
    """`10x`, `0.5x`."""
    return f"{speed:g}x"


class ReplayClock:
    """The moment review mode shows: the end (live), or a replay position, paused or playing.

    Call it for the moment (it is the app's clock). `base` is the wall clock
    used at the end; `monotonic` measures real time while playing (tests
    inject both).
    """

    def __init__(
        self,
        base: Callable[[], datetime],
        *,
        at: datetime | None = None,
        speed: float = 1,
        playing: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("the replay speed must be above zero")
        self.base = base
        self._monotonic = monotonic
        self.speed = speed
        self.last: datetime | None = None
        """The end of the recording: a playing replay stops there (None: not known yet)."""
        self._position = at
        self._anchor = monotonic()
        self.playing = playing and at is not None

    def __call__(self) -> datetime:
        return self.now()

    @property
    def at_end(self) -> bool:
        """Whether the whole recording is shown (no cut)."""
        return self._position is None

    def now(self) -> datetime:
        """The replay moment (the wall clock at the end); never past the end of the recording."""
        if self._position is None:
            return self.base()
        moment = self._position
        if self.playing:
            moment += timedelta(seconds=(self._monotonic() - self._anchor) * self.speed)
        if self.last is not None and moment > self.last:
            return self.last
        return moment

    def cut(self) -> datetime | None:
        """Where the record is cut: the replay moment, or None at the end."""
        return None if self._position is None else self.now()

    def finished(self) -> bool:
        """Whether a playing replay has reached the end of the recording."""
        return (
            self.playing
            and self._position is not None
            and self.last is not None
            and self.now() >= self.last
        )

    def seek(self, moment: datetime | None) -> None:
        """Show `moment` (None: the end, which also stops playing); the play state is kept."""
        self._position = moment
        self._anchor = self._monotonic()
        if moment is None:
            self.playing = False

    def play(self, start: datetime) -> None:
        """Play from here, or from `start` when at the end."""
        if self._position is None:
            self._position = start
        else:
            self._position = self.now()
        self._anchor = self._monotonic()
        self.playing = True

    def pause(self) -> None:
        if self._position is not None:
            self._position = self.now()
        self._anchor = self._monotonic()
        self.playing = False

    def change_speed(self, steps: int) -> float:
        """Step through `SPEEDS` (+1 faster, -1 slower) from the current speed; returns it."""
        if self._position is not None:
            self._position = self.now()  # the moment so far was reached at the old speed
        self._anchor = self._monotonic()
        faster = [s for s in SPEEDS if s > self.speed]
        slower = [s for s in SPEEDS if s < self.speed]
        if steps > 0 and faster:
            self.speed = faster[0]
        elif steps < 0 and slower:
            self.speed = slower[-1]
        return self.speed
