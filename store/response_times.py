"""The runbook's response times, MTTD, MTTC and MTTR, defined once for every place that shows them.

runbook.md, "Metrics and KPIs": Mean Time to Detection (MTTD) target < 5 minutes,
Mean Time to Containment (MTTC) < 15 minutes, Mean Time to Recovery (MTTR) < 2 hours.
Its phases count from one zero, the first sign of the incident: "Phase 1: Detection
and Analysis (0-15 minutes)", "Phase 2: Containment (15-30 minutes)" ... "Phase 4:
Recovery (60-120 minutes)", so MTTR's 2 hours end Phase 4 counted from that zero.
Hence one start for the three times:

- start: the incident's first sign, the earliest of the time warroom received
  its first linked alert (`first_received_time`) and its `detected_at` (when
  warroom received the first alert of the proposal accepted, the opening when
  the incident was opened by hand); `opened_at` when it has neither. Never the
  time written in the alert itself: Falco's `time` is a field of a line that
  whoever can write to the stream controls (a forged or replayed line, a skewed
  node clock), so it would let an attacker move MTTD anywhere; warroom's own
  receipt is a clock the attacker does not hold. Falco's time stays on the alert
  and in the report, for the story.
- MTTD: start -> `acknowledged_at` (Phase 1's first step, "Acknowledge the Alert").
- MTTC: start -> `contained_at`.
- MTTR: start -> `recovered_at`.
- A false positive (flagged, or whose last decision is "false-positive") has no
  MTTC or MTTR: nothing was contained or recovered.
- An end recorded before the start (clock skew between Falco and the record)
  counts as zero.
- A target is met strictly below it, as the runbook writes it ("< 5 minutes").

The header clocks (`tui/views/clocks.py`, given `first_received_time` by the
war room's record read), the drill score
(`actions/drill/score.py`), the report and `warroom metrics` (`store/metrics.py`)
all call `response_times`; none computes a span of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from store.alert_summary import first_received_time

if TYPE_CHECKING:
    from store.models import Incident
    from store.record import Record

MEASURES = ("mttd", "mttc", "mttr")
TARGETS = {
    "mttd": timedelta(minutes=5),
    "mttc": timedelta(minutes=15),
    "mttr": timedelta(hours=2),
}
NAMES = {
    "mttd": "Mean Time to Detection (MTTD)",
    "mttc": "Mean Time to Containment (MTTC)",
    "mttr": "Mean Time to Recovery (MTTR)",
}
END_FIELDS = {"mttd": "acknowledged_at", "mttc": "contained_at", "mttr": "recovered_at"}
END_WORDS = {"mttd": "acknowledged", "mttc": "contained", "mttr": "recovered"}
FALSE_POSITIVE = "false-positive"
DEFINITIONS = {
    "start": "the incident's first sign: the earliest of when warroom received its first "
    "linked alert and detected_at (opened_at when it has neither)",
    "mttd": "start -> acknowledged_at",
    "mttc": "start -> contained_at (not for false positives)",
    "mttr": "start -> recovered_at (not for false positives)",
    "met": "strictly below the runbook's target",
}


def clock_start(incident: Incident, first_alert: datetime | None = None) -> datetime:
    """When the incident's clocks start: its first sign (see the module docstring)."""
    known = [moment for moment in (first_alert, incident.detected_at) if moment is not None]
    return min(known) if known else incident.opened_at


def is_false_positive(incident: Incident, last_decision: str | None = None) -> bool:
    """Flagged a false positive, or its last recorded decision says so."""
    return incident.false_positive or last_decision == FALSE_POSITIVE


@dataclass(frozen=True, slots=True)
class ResponseTime:
    """One of the three times of one incident: from its start to its end, if reached."""

    key: str
    start: datetime
    end: datetime | None
    applies: bool = True
    """False for MTTC and MTTR of a false positive."""

    @property
    def name(self) -> str:
        return NAMES[self.key]

    @property
    def target(self) -> timedelta:
        return TARGETS[self.key]

    @property
    def reached(self) -> bool:
        return self.applies and self.end is not None

    def span(self, now: datetime | None = None) -> timedelta | None:
        """Start to end; while not reached, start to `now` (None without `now`). Never negative."""
        if not self.applies:
            return None
        end = self.end if self.end is not None else now
        if end is None:
            return None
        return max(end - self.start, timedelta(0))

    def seconds(self, now: datetime | None = None) -> float | None:
        span = self.span(now)
        return None if span is None else span.total_seconds()

    def met(self, target: timedelta | None = None) -> bool | None:
        """Reached strictly within `target` (the runbook's by default); None while not reached."""
        span = self.span()
        if span is None or self.end is None:
            return None
        return span < (target if target is not None else self.target)


def response_times(
    incident: Incident,
    first_alert: datetime | None = None,
    *,
    last_decision: str | None = None,
) -> dict[str, ResponseTime]:
    """MTTD, MTTC and MTTR of `incident` whose first linked alert warroom received at
    `first_alert` (`first_received_time`)."""
    start = clock_start(incident, first_alert)
    false_positive = is_false_positive(incident, last_decision)
    return {
        key: ResponseTime(
            key,
            start,
            getattr(incident, END_FIELDS[key]),
            applies=key == "mttd" or not false_positive,
        )
        for key in MEASURES
    }


def incident_response_times(record: Record, incident_id: str) -> dict[str, ResponseTime]:
    """`response_times` of a recorded incident, its first alert and last decision read."""
    incident = record.incidents.get_required(incident_id)
    decisions = record.decisions.for_incident(incident_id)
    return response_times(
        incident,
        first_received_time(record, incident_id),
        last_decision=decisions[-1].decision if decisions else None,
    )
