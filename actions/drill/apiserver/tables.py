"""Server-side printing: `meta.k8s.io/v1 Table` answers for `kubectl get`.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`;
with a Table it prints the real columns (POD-SELECTOR, STATUS, MODE...)
instead of NAME and AGE only. `includeObject` decides what each row carries:
`Metadata` (default, PartialObjectMetadata), `Object` (the full object, which
`--sort-by` needs) or `None`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .resources import ResourceType

Cell = Callable[[dict[str, Any], datetime], Any]


def wants_table(accept: str) -> bool:
    """Whether the Accept header asks for a meta.k8s.io/v1 Table."""
    for media_range in accept.split(","):
        params = {p.strip().split("=", 1)[0]: p.strip().split("=", 1)[-1]
                  for p in media_range.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("v") == "v1" \
                and params.get("g") == "meta.k8s.io":
            return True
    return False


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration, as the AGE column shows it."""
    if seconds < -1:
        return "<invalid>"
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // (24 * 365), (hours // 24) % 365
    return f"{years}y{days}d" if years < 8 and days else f"{years}y"


def _since(text: Any, now: datetime) -> str:
    if not isinstance(text, str) or not text:
        return "<unknown>"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def _age(obj: dict[str, Any], now: datetime) -> str:
    return _since(obj["metadata"].get("creationTimestamp"), now)


def _selector(selector: Any) -> str:
    if not isinstance(selector, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(expression.get("values") or [])
        parts.append(f"{expression.get('key')} {expression.get('operator', '').lower()} "
                     f"({values})")
    return ",".join(parts) or "<none>"


def _pod_ready(pod: dict[str, Any], now: datetime) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if not statuses and (pod.get("status") or {}).get("phase") == "Running":
        return f"{len(containers)}/{len(containers)}"
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(containers)}"


def _restarts(pod: dict[str, Any], now: datetime) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _ports(service: dict[str, Any], now: datetime) -> str:
    ports = (service.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _field(*path: str, default: Any = "<none>") -> Cell:
    def cell(obj: dict[str, Any], now: datetime) -> Any:
        current: Any = obj
        for part in path:
            current = current.get(part) if isinstance(current, dict) else None
        return default if current in (None, "") else current
    return cell


def _event_object(event: dict[str, Any], now: datetime) -> str:
    involved = event.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_last_seen(event: dict[str, Any], now: datetime) -> str:
    return _since(event.get("lastTimestamp") or event.get("eventTime")
                  or event["metadata"].get("creationTimestamp"), now)


COLUMNS: dict[tuple[str, str], list[tuple[str, str, Cell]]] = {
    ("", "Pod"): [("Ready", "string", _pod_ready),
                  ("Status", "string", _field("status", "phase", default="Unknown")),
                  ("Restarts", "integer", _restarts), ("Age", "string", _age)],
    ("", "Event"): [("Last Seen", "string", _event_last_seen),
                    ("Type", "string", _field("type", default="")),
                    ("Reason", "string", _field("reason", default="")),
                    ("Object", "string", _event_object),
                    ("Message", "string", _field("message", default=""))],
    ("", "Service"): [("Type", "string", _field("spec", "type", default="ClusterIP")),
                      ("Cluster-IP", "string", _field("spec", "clusterIP")),
                      ("External-IP", "string", _field("spec", "externalIP")),
                      ("Port(s)", "string", _ports), ("Age", "string", _age)],
    ("", "Secret"): [("Type", "string", _field("type", default="Opaque")),
                     ("Data", "integer", lambda o, n: len(o.get("data") or {})),
                     ("Age", "string", _age)],
    ("", "ServiceAccount"): [("Secrets", "integer", lambda o, n: len(o.get("secrets") or [])),
                             ("Age", "string", _age)],
    ("", "Namespace"): [("Status", "string", _field("status", "phase", default="Active")),
                        ("Age", "string", _age)],
    ("networking.k8s.io", "NetworkPolicy"): [
        ("Pod-Selector", "string", lambda o, n: _selector((o.get("spec") or {})
                                                          .get("podSelector"))),
        ("Age", "string", _age)],
    ("security.istio.io", "PeerAuthentication"): [
        ("Mode", "string", _field("spec", "mtls", "mode", default="")),
        ("Age", "string", _age)],
    ("security.istio.io", "AuthorizationPolicy"): [
        ("Action", "string", _field("spec", "action", default="")),
        ("Age", "string", _age)],
}


def table(resource: ResourceType, objects: list[dict[str, Any]], resource_version: str,
          include_object: str, now: datetime) -> dict[str, Any]:
    """The Table for a list (or a single object) of one resource."""
    name_column: tuple[str, str, Cell] = ("Name", "string", lambda o, n: o["metadata"]["name"])
    specific = COLUMNS.get((resource.group, resource.kind), [("Age", "string", _age)])
    # Events print NAME only with -o wide (priority 1), last, as the real event printer does.
    columns = [*specific, name_column] if resource.kind == "Event" else [name_column, *specific]
    definitions = [{"name": name, "type": kind, "format": "name" if name == "Name" else "",
                    "description": "",
                    "priority": 1 if name == "Name" and resource.kind == "Event" else 0}
                   for name, kind, _ in columns]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj, now) for _, _, cell in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
