"""The endpoints and endpointslice controllers: which pod addresses back each Service.

For a Service with a selector: one `Endpoints` of the same name (ready addresses,
`notReadyAddresses`, the ports with targetPort resolved against the pods'
container ports) and one `EndpointSlice` labelled `kubernetes.io/service-name`,
as k8s.io/kubernetes pkg/controller/endpoint and endpointslice write them. A
Service without a selector keeps whatever endpoints were written by hand.
`kubectl describe svc` prints its Endpoints line from the slices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import workloads as wl

if TYPE_CHECKING:
    from .cluster_state import ClusterState

SLICES = "discovery.k8s.io/v1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}


def sync_namespace(state: ClusterState, namespace: str) -> None:
    for service in state.peek("v1", "Service", namespace):
        sync_service(state, namespace, service["metadata"]["name"])


def _target_port(port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for container in (pod.get("spec") or {}).get("containers") or []:
        for declared in container.get("ports") or []:
            if declared.get("name") == target:
                return int(declared["containerPort"])
    return None


def _address(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName"),
            "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                          "uid": meta["uid"]}}


def sync_service(state: ClusterState, namespace: str, name: str) -> None:
    service = state.get("v1", "Service", namespace, name)
    selector = ((service or {}).get("spec") or {}).get("selector")
    if service is None:
        _delete(state, namespace, name)
        return
    if not selector:
        return
    pods = [p for p in state.peek("v1", "Pod", namespace)
            if (p.get("status") or {}).get("podIP")
            and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
    ports = (service.get("spec") or {}).get("ports") or []
    endpoint_ports = []
    for port in ports:
        number = next((n for n in (_target_port(port, p) for p in pods) if n), None)
        if number is None and isinstance(port.get("targetPort", port.get("port")), int):
            number = port.get("targetPort", port.get("port"))
        if number is not None:
            entry = {"port": number, "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry = {"name": port["name"], **entry}
            endpoint_ports.append(entry)
    ready = [p for p in pods if wl.pod_ready(p)]
    not_ready = [p for p in pods if not wl.pod_ready(p)]
    subset: dict[str, Any] = {}
    if ready:
        subset["addresses"] = [_address(p) for p in ready]
    if not_ready:
        subset["notReadyAddresses"] = [_address(p) for p in not_ready]
    if subset:
        subset["ports"] = endpoint_ports
    labels = dict(service["metadata"].get("labels") or {})
    endpoints: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": name, "namespace": namespace, "labels": labels}}
    if subset:
        endpoints["subsets"] = [subset]
    _write(state, endpoints, _stored(state, "v1", "Endpoints", namespace, name))
    slice_body: dict[str, Any] = {
        "apiVersion": SLICES, "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{name}-{wl.encode_hash(namespace + '/' + name, 5)}",
                     "namespace": namespace,
                     "labels": {**labels, SERVICE_NAME_LABEL: name, **MANAGED_BY},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                          "uid": service["metadata"]["uid"],
                                          "controller": True, "blockOwnerDeletion": True}]},
        "endpoints": [{"addresses": [p["status"]["podIP"]],
                       "conditions": {"ready": wl.pod_ready(p), "serving": wl.pod_ready(p),
                                      "terminating": False},
                       "nodeName": p["spec"].get("nodeName"),
                       "targetRef": _address(p)["targetRef"]} for p in pods],
        "ports": endpoint_ports}
    existing = _stored(state, SLICES, "EndpointSlice", namespace, slice_body["metadata"]["name"])
    _write(state, slice_body, existing)


def _stored(state: ClusterState, api_version: str, kind: str, namespace: str,
            name: str) -> dict[str, Any] | None:
    return next((o for o in state.peek(api_version, kind, namespace)
                 if o["metadata"]["name"] == name), None)


def _write(state: ClusterState, obj: dict[str, Any], existing: dict[str, Any] | None) -> None:
    if existing is None:
        state.create(obj, validate=False)
        return
    kept = {k: v for k, v in existing.items() if k != "metadata"}
    wanted = {k: v for k, v in obj.items() if k != "metadata"}
    if kept != wanted or existing["metadata"].get("labels") != obj["metadata"].get("labels"):
        state.replace({**obj, "metadata": {**existing["metadata"], **obj["metadata"],
                                           "resourceVersion": None}}, validate=False)


def _delete(state: ClusterState, namespace: str, name: str) -> None:
    if state.get("v1", "Endpoints", namespace, name) is not None:
        state.delete("v1", "Endpoints", namespace, name)
    for found in list(state.peek(SLICES, "EndpointSlice", namespace)):
        if (found["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name:
            state.delete(SLICES, "EndpointSlice", namespace, found["metadata"]["name"])
