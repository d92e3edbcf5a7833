"""The `scale`, `status` and `ephemeralcontainers` subresources.

- `.../scale` (Deployment, ReplicaSet, StatefulSet): an autoscaling/v1 Scale whose
  `spec.replicas` is the workload's; GET, PUT and PATCH, as `kubectl scale` uses them.
- `.../status`: the object; a write changes only its `status`.
- `pods/.../ephemeralcontainers`: the patch `kubectl debug` sends; only
  `spec.ephemeralContainers` may change (the API server's rule), and the new
  container is reported running, so `kubectl debug` goes on to attach.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import field_checks, options, patch, status
from . import workloads as wl
from .paths import Target
from .resources import ResourceType
from .responses import json_response

if TYPE_CHECKING:
    from .cluster_state import ClusterState

SCALE_RESOURCE = ResourceType(group="autoscaling", versions=("v1",), kind="Scale",
                              plural="scale", singular="scale")


async def serve(state: ClusterState, target: Target, request: web.Request,
                read_json: Any) -> web.Response:
    """Answer one request to a scale, status or ephemeralcontainers subresource."""
    resource = target.resource
    assert resource is not None
    assert target.name is not None
    method = request.method
    document = await read_json(request) if method in ("PUT", "PATCH") else None
    dry_run = options.dry_run(request.query, "PatchOptions" if method == "PATCH"
                              else "UpdateOptions") if document is not None else False
    with state.lock:
        current = state.get(target.api_version, resource.kind, target.namespace, target.name)
        if current is None:
            raise status.not_found(resource, target.name)
        if target.subresource == "scale":
            return _scale(state, current, method, request.content_type, document, dry_run)
        if method == "GET":
            return json_response(current)
        changed = _patched(current, method, request.content_type, document)
        if target.subresource == "status":
            if not isinstance(changed, dict) or not isinstance(changed.get("status", {}), dict):
                raise status.bad_request("status must be an object")
            updated = {**current, "status": changed.get("status") or {}}
        else:
            updated = _with_ephemeral_containers(current, changed, state)
        return json_response(state.replace(updated, dry_run=dry_run))


def _patched(current: dict[str, Any], method: str, content_type: str,
             document: Any) -> dict[str, Any]:
    """The body of a PUT, or current with a PATCH applied."""
    try:
        if method == "PUT":
            if not isinstance(document, dict):
                raise status.bad_request("the body of the request must be a JSON object")
            sent = document.get("metadata", {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise status.error(409, "Conflict", "the object has been modified; please "
                                   "apply your changes to the latest version and try again")
            return document
        if content_type == patch.JSON_PATCH:
            return patch.apply_json_patch(current, document)
        if content_type == patch.MERGE_PATCH:
            return patch.apply_merge_patch(current, document)  # type: ignore[no-any-return]
        if content_type == patch.STRATEGIC_MERGE_PATCH:
            return patch.apply_strategic_merge_patch(current, document)  # type: ignore[no-any-return]
    except patch.PatchFailed as failed:
        if failed.bad_request:
            raise status.bad_request(str(failed)) from None
        raise status.unprocessable(str(failed)) from None
    raise status.unsupported_media_type([patch.JSON_PATCH, patch.MERGE_PATCH,
                                         patch.STRATEGIC_MERGE_PATCH])


def scale_of(workload: dict[str, Any]) -> dict[str, Any]:
    meta = workload["metadata"]
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {key: meta[key] for key in ("name", "namespace", "uid",
                                                    "resourceVersion", "creationTimestamp")},
            "spec": {"replicas": int((workload.get("spec") or {}).get("replicas", 1))},
            "status": {"replicas": int((workload.get("status") or {}).get("replicas") or 0),
                       "selector": wl.selector_text((workload.get("spec") or {})
                                                    .get("selector"))}}


def _scale(state: ClusterState, workload: dict[str, Any], method: str, content_type: str,
           document: Any, dry_run: bool) -> web.Response:
    current = scale_of(workload)
    if method == "GET":
        return json_response(current)
    wanted = _patched(current, method, content_type, document)
    spec = wanted.get("spec") if isinstance(wanted, dict) else None
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    name = workload["metadata"]["name"]
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise status.invalid(SCALE_RESOURCE, name, [field_checks.invalid(
            "spec.replicas", replicas, "must be greater than or equal to 0")])
    updated = copy.deepcopy(workload)
    updated["spec"]["replicas"] = replicas
    return json_response(scale_of(state.replace(updated, dry_run=dry_run)))


def _with_ephemeral_containers(pod: dict[str, Any], changed: dict[str, Any],
                               state: ClusterState) -> dict[str, Any]:
    """pod with only spec.ephemeralContainers taken from changed, new ones running."""
    if not isinstance(changed, dict) or not isinstance(changed.get("spec"), dict) \
            or not isinstance(changed["spec"].get("ephemeralContainers", []), list) \
            or not all(isinstance(c, dict) for c in changed["spec"].get(
                "ephemeralContainers", [])):
        raise status.bad_request("spec.ephemeralContainers must be a list of containers")
    before = copy.deepcopy(pod)
    before["spec"].pop("ephemeralContainers", None)
    after = copy.deepcopy(changed)
    (after.get("spec") or {}).pop("ephemeralContainers", None)
    if (before.get("spec"), before["metadata"].get("labels")) != (
            after.get("spec"), (after.get("metadata") or {}).get("labels")):
        raise status.invalid(
            ResourceType(group="", versions=("v1",), kind="Pod", plural="pods",
                         singular="pod"), pod["metadata"]["name"],
            [field_checks.forbidden("spec", "pod updates may not change fields other than "
                                            "`spec.ephemeralContainers`")])
    containers = list((changed.get("spec") or {}).get("ephemeralContainers") or [])
    old = {c.get("name") for c in pod["spec"].get("ephemeralContainers") or []}
    updated = copy.deepcopy(pod)
    updated["spec"]["ephemeralContainers"] = containers
    statuses = list(updated.setdefault("status", {}).get("ephemeralContainerStatuses") or [])
    stamp = wl.timestamp(state.clock())
    for container in containers:
        if container.get("name") in old:
            continue
        statuses.append({"name": container.get("name"), "image": container.get("image"),
                         "imageID": "", "ready": False, "restartCount": 0,
                         "containerID": "containerd://" + wl.encode_hash(
                             f"{pod['metadata']['uid']}/{container.get('name')}", 32),
                         "state": {"running": {"startedAt": stamp}}})
    updated["status"]["ephemeralContainerStatuses"] = statuses
    return updated
