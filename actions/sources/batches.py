"""What the Falco follower hands its subscribers after each commit to the record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # named only: the console imports this module before its first frame
    from actions.falco.alert import FalcoAlert
    from actions.falco.classify import Classification


@dataclass(frozen=True, slots=True)
class RecordedAlert:
    """An alert read from a pod's log, classified; `fresh` is False if the record already had it."""

    pod: str
    alert: FalcoAlert
    classification: Classification
    fresh: bool

    def to_dict(self) -> dict[str, Any]:
        alert = self.alert
        return {
            "type": "alert",
            "pod": self.pod,
            "time": alert.time,
            "time_ns": alert.time_ns,
            "rule": alert.rule,
            "priority": alert.priority,
            "source": alert.source,
            "hostname": alert.hostname,
            "tags": list(alert.tags),
            "output": alert.output,
            "output_fields": alert.output_fields,
            "severity": self.classification.severity,
            "category": self.classification.category,
            "matched_by": self.classification.matched_by,
            "dedupe_key": alert.dedupe_key,
            "warnings": list(alert.warnings),
        }


@dataclass(frozen=True, slots=True)
class RejectedInfo:
    """A line of a Falco pod's log that was not an alert (kept raw in the record)."""

    pod: str
    reason: str
    size: int


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """One commit: the alerts and rejected lines it recorded, and when it committed."""

    alerts: list[RecordedAlert]
    rejected: list[RejectedInfo]
    committed_at: datetime
    committed_ns: int
    """time.time_ns() right after the commit, to measure lag from a line's kubelet time."""
    duplicates: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    """Log lines this commit covered (alerts, rejected and blank)."""

    @property
    def fresh(self) -> list[RecordedAlert]:
        return [item for item in self.alerts if item.fresh]
