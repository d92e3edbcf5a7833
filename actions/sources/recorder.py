"""What the sources report besides alerts, on the record's timeline.

Alerts are recorded by the Falco follower itself (in batches, deduplicated).
Health changes, Warning events, drift findings and incident proposals are
few: each becomes one timeline entry, attached to the given incident, else
to the one open incident, else to none.
"""

from __future__ import annotations

import json
from typing import Any

from actions.sources.events import WarningEvent
from actions.sources.health import SourceHealth
from actions.sources.policies import DriftReport
from store import Record

EVENT_KIND = "cluster.warning-event"
HEALTH_KIND = "source.health"
DRIFT_KIND = "policy.drift"
DRIFT_RESOLVED_KIND = "policy.drift-resolved"


class TimelineRecorder:
    """A sink: records health changes, Warning events and drift; ignores everything else."""

    def __init__(self, record: Record, *, incident_id: str | None = None,
                 actor: str = "warroom") -> None:
        self.record = record
        self.incident_id = incident_id
        self.actor = actor

    def recorded_event_keys(self) -> set[str]:
        """Keys of the Warning events already on the timeline (so a restart adds none twice)."""
        keys: set[str] = set()
        for row in self.record.query("SELECT data FROM timeline WHERE kind = ?", (EVENT_KIND,)):
            try:
                key = json.loads(row[0] or "{}").get("key")
            except ValueError:
                continue
            if isinstance(key, str):
                keys.add(key)
        return keys

    def incident(self) -> str | None:
        if self.incident_id is not None:
            return self.incident_id
        open_ones = self.record.incidents.open_ones()
        return open_ones[0].id if len(open_ones) == 1 else None

    def __call__(self, item: object) -> None:
        if isinstance(item, SourceHealth):
            self._add(HEALTH_KIND, f"{item.source}: {item.state} ({item.detail})",
                      item.to_dict())
        elif isinstance(item, WarningEvent):
            self._add(EVENT_KIND,
                      f"Warning {item.reason} on {item.object}: {item.message}"
                      + (f" (x{item.count})" if item.count > 1 else ""), item.to_dict())
        elif isinstance(item, DriftReport):
            for finding in item.new:
                self._add(DRIFT_KIND,
                          f"NetworkPolicy drift: {finding.name} {finding.kind} ({finding.detail})",
                          {**finding.to_dict(), "desired_file": item.desired_file})
            for finding in item.resolved:
                self._add(DRIFT_RESOLVED_KIND,
                          f"NetworkPolicy drift resolved: {finding.name} ({finding.kind})",
                          {**finding.to_dict(), "desired_file": item.desired_file})

    def _add(self, kind: str, summary: str, data: dict[str, Any]) -> None:
        self.record.timeline.add(self.incident(), kind, summary, actor=self.actor,
                                 data=data)
