"""What the sources report besides alerts, on the record's timeline.

Alerts are recorded by the Falco follower itself (in batches, deduplicated).
Health changes, Warning events, drift findings and incident proposals are
few: each becomes one timeline entry, attached to the given incident, else
to the session's one open incident (`scope`: a drill's never goes to a real
incident or an older drill's, nor a live one to a drill's), else to none.

None of these is a person's doing: health and drift are warroom's observations, a
Warning event is the cluster's (its reporting component, e.g. kubelet): the console's
user is never named as their author.
"""

from __future__ import annotations

import json
from typing import Any

from actions.sources.health import SourceHealth
from actions.sources.policies import DriftReport
from actions.sources.warning_events import WarningEvent
from store import Record
from store.incidents import SessionScope

EVENT_KIND = "cluster.warning-event"
HEALTH_KIND = "source.health"
DRIFT_KIND = "policy.drift"
DRIFT_RESOLVED_KIND = "policy.drift-resolved"


class TimelineRecorder:
    """A sink: records health changes, Warning events and drift; ignores everything else."""

    def __init__(self, record: Record, *, incident_id: str | None = None,
                 scope: SessionScope | None = None) -> None:
        self.record = record
        self.incident_id = incident_id
        self.scope = scope or SessionScope()
        """Which open incidents are this session's (default: any)."""

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
        return session_incident(self.record, self.incident_id, self.scope)

    def __call__(self, item: object) -> None:
        if isinstance(item, SourceHealth):
            self._add(HEALTH_KIND, f"{item.source}: {item.state} ({item.detail})",
                      item.to_dict())
        elif isinstance(item, WarningEvent):
            self._add(EVENT_KIND,
                      f"Warning {item.reason} on {item.object}: {item.message}"
                      + (f" (x{item.count})" if item.count > 1 else ""), item.to_dict(),
                      actor=f"cluster: {item.component}" if item.component else "cluster")
        elif isinstance(item, DriftReport):
            for finding in item.new:
                self._add(DRIFT_KIND,
                          f"NetworkPolicy drift: {finding.name} {finding.kind} ({finding.detail})",
                          {**finding.to_dict(), "desired_file": item.desired_file})
            for finding in item.resolved:
                self._add(DRIFT_RESOLVED_KIND,
                          f"NetworkPolicy drift resolved: {finding.name} ({finding.kind})",
                          {**finding.to_dict(), "desired_file": item.desired_file})

    def _add(self, kind: str, summary: str, data: dict[str, Any], *,
             actor: str = "warroom") -> None:
        self.record.timeline.add(self.incident(), kind, summary, actor=actor, data=data)


def session_incident(record: Record, incident_id: str | None, scope: SessionScope) -> str | None:
    """What a source attaches an entry or evidence to: the incident it was given, else the one
    open incident of its session (`Incidents.sole`), else none."""
    if incident_id is not None:
        return incident_id
    incident = record.incidents.sole(scope)
    return incident.id if incident is not None else None
