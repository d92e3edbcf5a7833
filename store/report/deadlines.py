"""The runbook's reporting clocks: what is due for an incident, by when, and what is late.

From "Compliance and Reporting":
- executive summary within 24 hours for P0/P1 incidents, counted from detection;
- detailed report within 1 week of resolution (recovery, else closure); until
  the incident is resolved this item has no due time yet;
- GDPR breach notification within 72 hours when a data breach is flagged,
  counted from detection: the earliest moment the team could have been aware,
  so the clock never starts later than the law's.

An item is done when the record holds a `report.issued` timeline entry for it
(`warroom report -o` writes one for the report it saved; `mark_done` for the
others). A detailed report issued before resolution does not count: it could
not describe the resolution. Writing a report to a file from the console is
not issuing it: `record_saved` keeps a `report.saved` entry (file, sha256) that
stops no clock, and `last_saved` finds it for the `report.issued` entry to quote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from store.models import Incident, parse_time

if TYPE_CHECKING:
    from store.record import Record

EXECUTIVE_SUMMARY = "executive-summary"
DETAILED_REPORT = "detailed-report"
GDPR_NOTIFICATION = "gdpr-notification"
DUE_KINDS = (EXECUTIVE_SUMMARY, DETAILED_REPORT, GDPR_NOTIFICATION)
ISSUED_KIND = "report.issued"

EXECUTIVE_SUMMARY_WITHIN = timedelta(hours=24)
DETAILED_REPORT_WITHIN = timedelta(weeks=1)
GDPR_WITHIN = timedelta(hours=72)

LABELS = {
    EXECUTIVE_SUMMARY: "executive summary",
    DETAILED_REPORT: "detailed report",
    GDPR_NOTIFICATION: "GDPR breach notification",
}


@dataclass(frozen=True, slots=True)
class Due:
    """One reporting obligation. `due_at` is None while it cannot be timed yet."""

    kind: str
    due_at: datetime | None
    done: bool
    overdue: bool
    done_at: datetime | None = None

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    def describe(self, now: datetime) -> str:
        """One line for a list: "executive summary due in 3h 10m", "... overdue by 2h"."""
        if self.done:
            when = f" {self.done_at:%Y-%m-%d %H:%M} UTC" if self.done_at else ""
            return f"{self.label} done{when}"
        if self.due_at is None:
            return f"{self.label} due 1 week after resolution"
        if self.overdue:
            return f"{self.label} overdue by {format_span(now - self.due_at)}"
        return f"{self.label} due in {format_span(self.due_at - now)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "done": self.done,
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "overdue": self.overdue,
        }


def format_span(span: timedelta) -> str:
    """A short human duration: "2d 3h", "3h 10m", "4m"."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def clock_start(incident: Incident) -> datetime:
    return incident.detected_at or incident.opened_at


def resolved_at(incident: Incident) -> datetime | None:
    return incident.recovered_at or incident.closed_at


def due_items(
    incident: Incident, now: datetime, done: Mapping[str, datetime] | None = None
) -> list[Due]:
    """What the runbook requires of this incident, in due order; `done`: kind -> when issued."""
    done = done or {}
    start = clock_start(incident)
    items: list[Due] = []

    def add(kind: str, due_at: datetime | None, done_at: datetime | None) -> None:
        finished = done_at is not None
        overdue = not finished and due_at is not None and now > due_at
        items.append(Due(kind, due_at, finished, overdue, done_at))

    if incident.severity in ("P0", "P1"):
        add(EXECUTIVE_SUMMARY, start + EXECUTIVE_SUMMARY_WITHIN, done.get(EXECUTIVE_SUMMARY))
    if incident.data_breach:
        add(GDPR_NOTIFICATION, start + GDPR_WITHIN, done.get(GDPR_NOTIFICATION))
    resolution = resolved_at(incident)
    detailed_done = done.get(DETAILED_REPORT)
    if resolution is None or (detailed_done is not None and detailed_done < resolution):
        detailed_done = None
    add(DETAILED_REPORT, resolution + DETAILED_REPORT_WITHIN if resolution else None, detailed_done)
    far_future = datetime.max.replace(tzinfo=start.tzinfo)
    items.sort(key=lambda item: item.due_at or far_future)
    return items


def done_items(record: Record, incident_id: str) -> dict[str, datetime]:
    """When each reporting item was last issued, from the record's `report.issued` entries."""
    rows = record.query(
        "SELECT at, data FROM timeline WHERE incident_id = ? AND kind = ? ORDER BY seq",
        (incident_id, ISSUED_KIND),
    )
    issued: dict[str, datetime] = {}
    for at, data in rows:
        kind = json.loads(data or "{}").get("item")
        moment = parse_time(at)
        if kind in DUE_KINDS and moment is not None:
            issued[kind] = moment
    return issued


def due_for(record: Record, incident: Incident, now: datetime) -> list[Due]:
    """`due_items` with what the record says is already done."""
    return due_items(incident, now, done_items(record, incident.id))


def mark_done(
    record: Record,
    incident_id: str,
    kind: str,
    *,
    actor: str | None = None,
    note: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> int:
    """Record that a reporting item was issued (a chained `report.issued` entry)."""
    if kind not in DUE_KINDS:
        raise ValueError(f"unknown reporting item {kind!r}; one of: {', '.join(DUE_KINDS)}")
    record.incidents.get_required(incident_id)
    summary = f"Issued: {LABELS[kind]}" + (f" ({note})" if note else "")
    return record.timeline.add(
        incident_id, ISSUED_KIND, summary, actor=actor, data={**(data or {}), "item": kind}
    )


SAVED_KIND = "report.saved"
SAVED_ITEMS = (EXECUTIVE_SUMMARY, DETAILED_REPORT)


def record_saved(
    record: Record,
    incident_id: str,
    kind: str,
    *,
    file: str,
    sha256: str,
    size: int,
    actor: str | None = None,
) -> int:
    """Record that a report was written to a file (a chained `report.saved` entry).

    Writing a file is not sending it: this stops no reporting clock. `mark_done`
    does, and can quote the file's hash from `last_saved`.
    """
    if kind not in SAVED_ITEMS:
        raise ValueError(f"a saved report is one of: {', '.join(SAVED_ITEMS)}, not {kind!r}")
    record.incidents.get_required(incident_id)
    return record.timeline.add(
        incident_id,
        SAVED_KIND,
        f"Saved the {LABELS[kind]} to {file}",
        actor=actor,
        data={"item": kind, "file": file, "sha256": sha256, "bytes": size},
    )


def last_saved(record: Record, incident_id: str, kind: str) -> dict[str, Any] | None:
    """The newest `report.saved` entry's data (item, file, sha256, bytes) for `kind`, if any."""
    rows = record.query(
        "SELECT data FROM timeline WHERE incident_id = ? AND kind = ? ORDER BY seq DESC",
        (incident_id, SAVED_KIND),
    )
    for (data,) in rows:
        entry = json.loads(data or "{}")
        if entry.get("item") == kind:
            return {key: entry.get(key) for key in ("item", "file", "sha256", "bytes")}
    return None
