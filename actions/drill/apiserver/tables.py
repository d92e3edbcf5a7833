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
Column = tuple[str, str, Cell, int]  # name, type, cell, priority (1: only with -o wide)


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


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") != "Pod":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict)]


def _container_names(obj: dict[str, Any], now: datetime) -> str:
    return ",".join(str(c.get("name")) for c in _containers(obj)) or "<none>"


def _images(obj: dict[str, Any], now: datetime) -> str:
    return ",".join(str(c.get("image")) for c in _containers(obj)) or "<none>"


def _workload_selector(obj: dict[str, Any], now: datetime) -> str:
    return _selector((obj.get("spec") or {}).get("selector"))


def _status_int(*path: str) -> Cell:
    def cell(obj: dict[str, Any], now: datetime) -> int:
        current: Any = obj.get("status") or {}
        for part in path:
            current = current.get(part) if isinstance(current, dict) else None
        return int(current or 0)
    return cell


def _ready_of(ready_field: str, desired: Cell) -> Cell:
    def cell(obj: dict[str, Any], now: datetime) -> str:
        return f"{int((obj.get('status') or {}).get(ready_field) or 0)}/{desired(obj, now)}"
    return cell


def _spec_replicas(obj: dict[str, Any], now: datetime) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1) or 0)


def _pod_ip(pod: dict[str, Any], now: datetime) -> str:
    return str((pod.get("status") or {}).get("podIP") or "<none>")


def _node_status(node: dict[str, Any], now: datetime) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(node: dict[str, Any], now: datetime) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = [k[len(prefix):] for k in (node["metadata"].get("labels") or {})
             if k.startswith(prefix)]
    return ",".join(sorted(roles)) or "<none>"


def _node_address(kind: str) -> Cell:
    def cell(node: dict[str, Any], now: datetime) -> str:
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == kind:
                return str(address.get("address"))
        return "<none>"
    return cell


def _node_info(key: str) -> Cell:
    def cell(node: dict[str, Any], now: datetime) -> str:
        return str(((node.get("status") or {}).get("nodeInfo") or {}).get(key) or "<unknown>")
    return cell


def _first_three(addresses: list[str]) -> str:
    if not addresses:
        return "<none>"
    shown = ",".join(addresses[:3])
    return shown + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")


def _endpoints(obj: dict[str, Any], now: datetime) -> str:
    found = [f"{a.get('ip')}:{p.get('port')}" for subset in obj.get("subsets") or []
             for p in subset.get("ports") or [{}] for a in subset.get("addresses") or []]
    return _first_three(found)


def _slice_endpoints(obj: dict[str, Any], now: datetime) -> str:
    return _first_three([a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []])


def _slice_ports(obj: dict[str, Any], now: datetime) -> str:
    return ",".join(str(p.get("port")) for p in obj.get("ports") or []) or "<unset>"


def _revision_controller(obj: dict[str, Any], now: datetime) -> str:
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            group = str(reference.get("apiVersion", "")).partition("/")[0]
            return f"{str(reference.get('kind')).lower()}.{group}/{reference.get('name')}"
    return "<none>"


def _service_selector(obj: dict[str, Any], now: datetime) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"


WIDE = 1  # priority of the columns `-o wide` adds
_WORKLOAD_WIDE: list[Column] = [("Containers", "string", _container_names, WIDE),
                                ("Images", "string", _images, WIDE),
                                ("Selector", "string", _workload_selector, WIDE)]

COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): [("Ready", "string", _pod_ready, 0),
                  ("Status", "string", _field("status", "phase", default="Unknown"), 0),
                  ("Restarts", "integer", _restarts, 0), ("Age", "string", _age, 0),
                  ("IP", "string", _pod_ip, WIDE),
                  ("Node", "string", _field("spec", "nodeName"), WIDE),
                  ("Nominated Node", "string", _field("status", "nominatedNodeName"), WIDE),
                  ("Readiness Gates", "string", lambda o, n: "<none>", WIDE)],
    ("", "Event"): [("Last Seen", "string", _event_last_seen, 0),
                    ("Type", "string", _field("type", default=""), 0),
                    ("Reason", "string", _field("reason", default=""), 0),
                    ("Object", "string", _event_object, 0),
                    ("Message", "string", _field("message", default=""), 0)],
    ("", "Service"): [("Type", "string", _field("spec", "type", default="ClusterIP"), 0),
                      ("Cluster-IP", "string", _field("spec", "clusterIP"), 0),
                      ("External-IP", "string", _field("spec", "externalIP"), 0),
                      ("Port(s)", "string", _ports, 0), ("Age", "string", _age, 0),
                      ("Selector", "string", _service_selector, WIDE)],
    ("", "Secret"): [("Type", "string", _field("type", default="Opaque"), 0),
                     ("Data", "integer", lambda o, n: len(o.get("data") or {}), 0),
                     ("Age", "string", _age, 0)],
    ("", "ConfigMap"): [("Data", "integer",
                         lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                         0), ("Age", "string", _age, 0)],
    ("", "ServiceAccount"): [("Secrets", "integer", lambda o, n: len(o.get("secrets") or []),
                              0), ("Age", "string", _age, 0)],
    ("", "Namespace"): [("Status", "string", _field("status", "phase", default="Active"), 0),
                        ("Age", "string", _age, 0)],
    ("", "Node"): [("Status", "string", _node_status, 0), ("Roles", "string", _node_roles, 0),
                   ("Age", "string", _age, 0),
                   ("Version", "string", _node_info("kubeletVersion"), 0),
                   ("Internal-IP", "string", _node_address("InternalIP"), WIDE),
                   ("External-IP", "string", _node_address("ExternalIP"), WIDE),
                   ("OS-Image", "string", _node_info("osImage"), WIDE),
                   ("Kernel-Version", "string", _node_info("kernelVersion"), WIDE),
                   ("Container-Runtime", "string", _node_info("containerRuntimeVersion"),
                    WIDE)],
    ("", "Endpoints"): [("Endpoints", "string", _endpoints, 0), ("Age", "string", _age, 0)],
    ("discovery.k8s.io", "EndpointSlice"): [
        ("AddressType", "string", _field("addressType"), 0),
        ("Ports", "string", _slice_ports, 0), ("Endpoints", "string", _slice_endpoints, 0),
        ("Age", "string", _age, 0)],
    ("apps", "Deployment"): [
        ("Ready", "string", _ready_of("readyReplicas", _spec_replicas), 0),
        ("Up-to-date", "integer", _status_int("updatedReplicas"), 0),
        ("Available", "integer", _status_int("availableReplicas"), 0),
        ("Age", "string", _age, 0), *_WORKLOAD_WIDE],
    ("apps", "ReplicaSet"): [
        ("Desired", "integer", _spec_replicas, 0),
        ("Current", "integer", _status_int("replicas"), 0),
        ("Ready", "integer", _status_int("readyReplicas"), 0),
        ("Age", "string", _age, 0), *_WORKLOAD_WIDE],
    ("apps", "DaemonSet"): [
        ("Desired", "integer", _status_int("desiredNumberScheduled"), 0),
        ("Current", "integer", _status_int("currentNumberScheduled"), 0),
        ("Ready", "integer", _status_int("numberReady"), 0),
        ("Up-to-date", "integer", _status_int("updatedNumberScheduled"), 0),
        ("Available", "integer", _status_int("numberAvailable"), 0),
        ("Node Selector", "string", lambda o, n: ",".join(
            f"{k}={v}" for k, v in (((o.get("spec") or {}).get("template") or {}).get("spec")
                                    or {}).get("nodeSelector", {}).items()) or "<none>", 0),
        ("Age", "string", _age, 0), *_WORKLOAD_WIDE],
    ("apps", "StatefulSet"): [
        ("Ready", "string", _ready_of("readyReplicas", _spec_replicas), 0),
        ("Age", "string", _age, 0), *_WORKLOAD_WIDE[:2]],
    ("apps", "ControllerRevision"): [
        ("Controller", "string", _revision_controller, 0),
        ("Revision", "integer", lambda o, n: int(o.get("revision") or 0), 0),
        ("Age", "string", _age, 0)],
    ("networking.k8s.io", "NetworkPolicy"): [
        ("Pod-Selector", "string", lambda o, n: _selector((o.get("spec") or {})
                                                          .get("podSelector")), 0),
        ("Age", "string", _age, 0)],
    ("security.istio.io", "PeerAuthentication"): [
        ("Mode", "string", _field("spec", "mtls", "mode", default=""), 0),
        ("Age", "string", _age, 0)],
    ("security.istio.io", "AuthorizationPolicy"): [
        ("Action", "string", _field("spec", "action", default=""), 0),
        ("Age", "string", _age, 0)],
}


def table(resource: ResourceType, objects: list[dict[str, Any]], resource_version: str,
          include_object: str, now: datetime) -> dict[str, Any]:
    """The Table for a list (or a single object) of one resource."""
    # Events print NAME only with -o wide (priority 1), last, as the real event printer does.
    event = resource.kind == "Event"
    name_column: Column = ("Name", "string", lambda o, n: o["metadata"]["name"],
                           WIDE if event else 0)
    specific = COLUMNS.get((resource.group, resource.kind), [("Age", "string", _age, 0)])
    columns = [*specific, name_column] if event else [name_column, *specific]
    definitions = [{"name": name, "type": kind, "format": "name" if name == "Name" else "",
                    "description": "", "priority": priority}
                   for name, kind, _, priority in columns]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj, now) for _, _, cell, _ in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
