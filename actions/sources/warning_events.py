"""Warning events of a namespace, streamed (the runbook's `kubectl get events`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from actions.kube.streams import Backoff
from actions.sources.health import HealthReporter
from actions.sources.listwatch import ListWatch, Objects


@dataclass(frozen=True, slots=True)
class WarningEvent:
    """One Warning event as it stands (its count grows when it repeats)."""

    namespace: str
    name: str
    uid: str
    reason: str
    message: str
    object: str
    """`kind/name` of the object involved, e.g. `pod/orchestrator-6f8d9c7b5d-k2x9p`."""
    count: int
    first_seen: str
    last_seen: str
    component: str

    @property
    def key(self) -> str:
        """Same for the same occurrence; a repeat (higher count) is a new one."""
        return f"{self.uid or self.namespace + '/' + self.name}#{self.count}"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "event", "namespace": self.namespace, "name": self.name,
                "reason": self.reason, "message": self.message, "object": self.object,
                "count": self.count, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "component": self.component, "key": self.key}


def warning_event(obj: dict[str, Any]) -> WarningEvent:
    metadata = obj.get("metadata") or {}
    involved = obj.get("involvedObject") or {}
    series = obj.get("series") or {}
    count = series.get("count") or obj.get("count") or 1
    last = (series.get("lastObservedTime") or obj.get("lastTimestamp") or obj.get("eventTime")
            or metadata.get("creationTimestamp") or "")
    return WarningEvent(
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or ""),
        object=f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        count=int(count) if str(count).isdigit() else 1,
        first_seen=str(obj.get("firstTimestamp") or obj.get("eventTime") or last),
        last_seen=str(last),
        component=str((obj.get("source") or {}).get("component")
                      or obj.get("reportingComponent") or ""),
    )


class WarningEvents:
    """`await WarningEvents(api, "voicehive").run(sink)`: each new Warning event, once."""

    SOURCE = "events"

    def __init__(self, api: Any, namespace: str, *, already_seen: Iterable[str] = (),
                 relist_seconds: int = 300, backoff: Backoff | None = None) -> None:
        self.namespace = namespace
        self.seen: set[str] = set(already_seen)
        self.listwatch = ListWatch(
            api, f"/api/v1/namespaces/{namespace}/events", what=f"Warning events in {namespace}",
            query=[("fieldSelector", "type=Warning")], relist_seconds=relist_seconds,
            backoff=backoff)

    async def run(self, sink: Callable[[object], None]) -> None:
        health = HealthReporter(self.SOURCE, sink)

        def on_change(kind: str, obj: dict[str, Any] | None, objects: Objects) -> None:
            if kind == "DELETED":
                return
            fresh = [warning_event(item) for item in
                     (objects.values() if obj is None else [obj])
                     if item.get("type", "Warning") == "Warning"]
            fresh.sort(key=lambda event: event.last_seen)
            for event in fresh:
                if event.key not in self.seen:
                    self.seen.add(event.key)
                    sink(event)

        await self.listwatch.run(on_change, health.report)
