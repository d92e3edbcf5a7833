"""The header's runbook clocks: MTTD, MTTC and MTTR against the runbook's targets.

What each clock measures is `store.response_times` (one definition for the
header, the drill score, the report and `warroom metrics`): from the
incident's first sign to its acknowledgement, containment and recovery. Pure
functions over an `Incident`, its first linked alert's time and a moment, so
the colours are tested without a screen and the header never reads the wall
clock or the record itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from store import Incident
from store.response_times import clock_start, response_times

WARNING_SHARE = 0.8  # amber from 80 % of the target, red once it is reached
CLOCKS = (("mttd", "ack", "acknowledged_at"), ("mttc", "contain", "contained_at"),
          ("mttr", "recover", "recovered_at"))  # fmt: skip

OK, WARNING, BREACHED, MET, LATE = "ok", "warning", "breached", "met", "late"
NOT_APPLICABLE = "not-applicable"  # MTTC and MTTR of a false positive


@dataclass(frozen=True, slots=True)
class ClockState:
    """One clock: its label, elapsed time, target and state (ok/warning/breached/met/late)."""

    key: str
    label: str
    elapsed: timedelta
    target: timedelta
    state: str

    def text(self, *, short: bool = False) -> str:
        """`MTTD 4:20/5m` (met: a check mark, late: `late`, breached: `OVER`, so the state
        shows without colour); short: `D 4:20/5m` (`!` once past the target)."""
        if short:
            mark = {MET: "\N{CHECK MARK}", LATE: "!", BREACHED: "!"}.get(self.state, "")
            return f"{self.key[-1].upper()} {self.span()}{mark}"
        mark = {MET: " \N{CHECK MARK}", LATE: " late", BREACHED: " OVER"}.get(self.state, "")
        return f"{self.key.upper()} {self.span()}{mark}"

    def span(self) -> str:
        """`4:20/5m`: elapsed against the target (`-/15m` when it does not apply)."""
        shown = "-" if self.state == NOT_APPLICABLE else duration(self.elapsed)
        return f"{shown}/{target_text(self.target)}"


def duration(span: timedelta) -> str:
    """`m:ss` under an hour, `h:mm:ss` beyond; negative spans show as 0:00."""
    seconds = max(int(span.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def target_text(span: timedelta) -> str:
    """A target as the runbook writes it: `5m`, `15m`, `2h`."""
    minutes = int(span.total_seconds()) // 60
    return f"{minutes // 60}h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes}m"


def since_detection(
    incident: Incident, now: datetime, first_alert: datetime | None = None
) -> timedelta:
    """How long since the incident's first sign (`store.response_times.clock_start`)."""
    return now - clock_start(incident, first_alert)


def clock_states(
    incident: Incident, now: datetime, first_alert: datetime | None = None
) -> list[ClockState]:
    """The three clocks for `incident` (whose first linked alert is `first_alert`) at `now`.

    A closed incident's clocks stop at its closing: what was not reached by then never was.
    """
    if incident.closed_at is not None:
        now = min(now, incident.closed_at)
    states = []
    for (key, label, _field), time in zip(
        CLOCKS, response_times(incident, first_alert).values(), strict=True
    ):
        target = time.target
        elapsed = time.span(now) or timedelta(0)
        if not time.applies:
            state = NOT_APPLICABLE
        elif time.end is not None:
            state = MET if time.met() else LATE
        elif elapsed >= target:  # the runbook: "MTTD < 5 min", so 5:00 is already missed
            state = BREACHED
        elif elapsed >= target * WARNING_SHARE:
            state = WARNING
        else:
            state = OK
        states.append(ClockState(key, label, elapsed, target, state))
    return states
