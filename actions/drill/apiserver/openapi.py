"""A stub OpenAPI v3 document per group/version, enough for `kubectl apply` to validate.

kubectl looks up each kind's POST/PUT/PATCH operation by
`x-kubernetes-group-version-kind`; finding a `fieldValidation` query parameter
there, it leaves validation to the server (sending fieldValidation=Strict)
instead of failing with "failed to download openapi".
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import GROUP_VERSIONS, RESOURCE_TYPES, ResourceType

_QUERY = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True},
     "description": text}
    for name, text in (("dryRun", "When present, indicates that modifications should not be "
                                  "persisted."),
                       ("fieldManager", "A name associated with the actor or entity making "
                                        "these changes."),
                       ("fieldValidation", "Strict, Warn or Ignore: what to do with unknown "
                                           "or duplicate fields."))
]


def _paths_for(resource: ResourceType, version: str) -> dict[str, Any]:
    prefix = f"/apis/{resource.group}/{version}" if resource.group else f"/api/{version}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    gvk = {"group": resource.group, "version": version, "kind": resource.kind}
    collection = f"{prefix}{scope}/{resource.plural}"

    def operation(action: str) -> dict[str, Any]:
        return {"operationId": f"{action}{resource.kind}", "parameters": _QUERY,
                "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}}}

    if resource.verbs == ("create",):
        return {collection: {"post": operation("post")}}
    return {
        collection: {"get": operation("list"), "post": operation("post")},
        collection + "/{name}": {"get": operation("get"), "put": operation("put"),
                                 "patch": operation("patch"), "delete": operation("delete")},
    }


def document(group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 stub for one group/version, None if not served."""
    paths: dict[str, Any] = {}
    for resource in RESOURCE_TYPES:
        if resource.group == group and version in resource.versions:
            paths.update(_paths_for(resource, version))
    if not paths:
        return None
    title = f"{group}/{version}" if group else version
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": title},
            "paths": paths, "components": {"schemas": {}}}


def _group_versions() -> list[tuple[str, str]]:
    return [("", "v1")] + [(g, v) for g, versions in GROUP_VERSIONS.items() for v in versions]


def relative_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def index() -> dict[str, Any]:
    """`/openapi/v3`: each group/version's document URL, with a content hash as kubectl expects."""
    paths = {}
    for group, version in _group_versions():
        body = json.dumps(document(group, version), sort_keys=True).encode()
        digest = hashlib.sha512(body).hexdigest()[:32].upper()
        paths[relative_path(group, version)] = {
            "serverRelativeURL": f"/openapi/v3/{relative_path(group, version)}?hash={digest}"}
    return {"paths": paths}


def lookup(relative: str) -> dict[str, Any] | None:
    """The document for `api/v1` or `apis/{group}/{version}`, None if unknown."""
    parts = relative.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        return document("", parts[1])
    if parts[:1] == ["apis"] and len(parts) == 3:
        return document(parts[1], parts[2])
    return None
