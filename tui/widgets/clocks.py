"""The header's runbook clocks: time since detection against MTTD, MTTC and MTTR targets.

Pure functions over an `Incident` and a moment, so the colours are tested
without a screen and the header never reads the wall clock itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from store import Incident
from store.metrics import TARGETS

WARNING_SHARE = 0.8  # amber from 80 % of the target, red once it is reached
CLOCKS = (("mttd", "ack", "acknowledged_at"), ("mttc", "contain", "contained_at"),
          ("mttr", "recover", "recovered_at"))  # fmt: skip

OK, WARNING, BREACHED, MET, LATE = "ok", "warning", "breached", "met", "late"


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
        """`4:20/5m`: elapsed against the target."""
        return f"{duration(self.elapsed)}/{target_text(self.target)}"


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


def since_detection(incident: Incident, now: datetime) -> timedelta:
    start = incident.detected_at or incident.opened_at
    return now - start


def clock_states(incident: Incident, now: datetime) -> list[ClockState]:
    """The three clocks for `incident` at `now`."""
    start = incident.detected_at or incident.opened_at
    states = []
    for key, label, field_name in CLOCKS:
        target = TARGETS[key]
        done: datetime | None = getattr(incident, field_name)
        if done is not None:
            elapsed = done - start
            state = MET if elapsed < target else LATE  # the runbook: "MTTD < 5 min"
        else:
            elapsed = now - start
            if elapsed >= target:
                state = BREACHED
            elif elapsed >= target * WARNING_SHARE:
                state = WARNING
            else:
                state = OK
        states.append(ClockState(key, label, elapsed, target, state))
    return states
