"""What one notification says, independent of the channel that carries it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store import PHASE_TITLES, Incident

EVENT_TITLES = {
    "opened": "Incident opened",
    "severity-changed": "Severity changed",
    "action-taken": "Action taken",
    "phase-changed": "Phase changed",
    "acknowledged": "Incident acknowledged",
    "escalated": "Escalated",
    "resolved": "Incident resolved",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """An incident event to announce. Every text field may be hostile; channels neutralise it."""

    incident: Incident
    event: str
    at: datetime
    details: dict[str, str] = field(default_factory=dict)
    record_head: str | None = None
    """The record's chain head (`entries:hash`) when the notice was written: an anchor kept by
    the receiver, for `warroom verify --anchor` to find a later truncation or rollback."""

    @property
    def headline(self) -> str:
        """One line saying what happened, e.g. "Severity changed P2 -> P1"."""
        d = self.details
        match self.event:
            case "severity-changed" if d.get("from") and d.get("to"):
                return f"Severity changed {d['from']} -> {d['to']}"
            case "phase-changed" if d.get("phase"):
                return f"Phase changed to {PHASE_TITLES.get(d['phase'], d['phase'])}"
            case "action-taken" if d.get("action"):
                target = f" {d['target']}" if d.get("target") else ""
                outcome = f" ({d['outcome']})" if d.get("outcome") else ""
                return f"Action taken: {d['action']}{target}{outcome}"
            case "escalated" if d.get("role"):
                return f"Escalated to {d['role']}"
            case "acknowledged" if d.get("by"):
                return f"Incident acknowledged by {d['by']}"
        return EVENT_TITLES.get(self.event, self.event)

    @property
    def drill_prefix(self) -> str:
        return "[DRILL] " if self.incident.drill else ""

    def facts(self) -> dict[str, Any]:
        """The incident's facts as plain JSON values (custom_details, SIEM events)."""
        i = self.incident
        facts: dict[str, Any] = {
            "incident_id": i.id,
            "title": i.title,
            "severity": i.severity,
            "status": i.status,
            "phase": i.phase,
            "opened_at": i.opened_at.isoformat(),
            "detected_at": i.detected_at.isoformat() if i.detected_at else None,
            "drill": i.drill,
            "category": i.category,
            "commander": i.commander,
            "cluster_context": i.cluster_context,
            "namespace": i.namespace,
            "record_head": self.record_head,
        }
        return {key: value for key, value in facts.items() if value is not None}
