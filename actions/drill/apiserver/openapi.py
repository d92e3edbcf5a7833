"""OpenAPI v3 per group/version, with the real schemas, so `kubectl explain` and apply work.

kubectl looks up each kind's POST/PUT/PATCH operation by
`x-kubernetes-group-version-kind`; finding a `fieldValidation` query parameter
there, it leaves validation to the server (sending fieldValidation=Strict)
instead of failing with "failed to download openapi". `kubectl explain` reads
`components.schemas`: the built-in kinds' Kubernetes 1.37 definitions
(`actions.drill.schemas.kubernetes_definitions`) and the CRDs' schemas shipped in
`actions.drill.schemas`, turned back from JSON Schema into OpenAPI 3.0 form (one
`type` and `nullable`, IntOrString as `x-kubernetes-int-or-string`, refs under
`#/components/schemas/`). Documents are built on first request and cached:
drill start-up never pays for them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from .. import schemas
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
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
# Kubernetes' own names for the built-in kinds' definitions.
_API_PACKAGES = {"": "core", "networking.k8s.io": "networking", "apps": "apps",
                 "authorization.k8s.io": "authorization",
                 "authentication.k8s.io": "authentication", "autoscaling": "autoscaling",
                 "discovery.k8s.io": "discovery"}


def definition_name(group: str, version: str, kind: str) -> str:
    """`io.k8s.api.apps.v1.Deployment`; a CRD's `io.istio.security.v1.AuthorizationPolicy`."""
    if group in _API_PACKAGES:
        return f"io.k8s.api.{_API_PACKAGES[group]}.{version}.{kind}"
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _openapi_form(schema: Any) -> Any:
    """A JSON Schema (2020-12) node as OpenAPI 3.0 writes it."""
    if isinstance(schema, list):
        return [_openapi_form(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("oneOf") and all(isinstance(o, dict) and set(o) == {"type"}
                                   for o in schema["oneOf"]):
        # IntOrString, as the converter wrote it.
        shown = {k: v for k, v in schema.items() if k != "oneOf"}
        return {**shown, "type": "string", "format": "int-or-string",
                "x-kubernetes-int-or-string": True}
    shown = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            shown[key] = value.replace("#/$defs/", "#/components/schemas/")
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if types:
                shown["type"] = types[0]
            if "null" in value:
                shown["nullable"] = True
        elif key in ("$schema", "$id", "$comment", "$defs", "title", "const"):
            continue
        elif key in ("properties", "patternProperties"):
            shown[key] = {name: _openapi_form(item) for name, item in value.items()}
        else:
            shown[key] = _openapi_form(value)
    return shown


def _references(schema: Any, found: set[str]) -> None:
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            found.add(reference.removeprefix("#/$defs/"))
        for value in schema.values():
            _references(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _references(value, found)


def _closure(root: str, definitions: dict[str, Any]) -> list[str]:
    names, pending = [root], [root]
    while pending:
        found: set[str] = set()
        _references(definitions[pending.pop()], found)
        for name in sorted(found - set(names)):
            if name in definitions:
                names.append(name)
                pending.append(name)
    return names


def _kind_schemas(resource: ResourceType, version: str) -> dict[str, Any]:
    """components.schemas entries for one kind: its definition and what it refers to."""
    name = definition_name(resource.group, version, resource.kind)
    gvk = [{"group": resource.group, "version": version, "kind": resource.kind}]
    if resource.builtin:
        definitions = schemas.kubernetes_definitions()
        if name not in definitions:
            return {}
        found = {item: _openapi_form(definitions[item])
                 for item in _closure(name, definitions)}
    else:
        validator = schemas.validator_for(resource.api_version(version), resource.kind)
        if validator is None:
            return {}
        document = validator.schema
        found = {item: _openapi_form(body) for item, body in (document.get("$defs") or {}).items()}
        found[name] = _openapi_form(document)
    found[name]["x-kubernetes-group-version-kind"] = gvk
    return found


def _paths_for(resource: ResourceType, version: str) -> dict[str, Any]:
    prefix = f"/apis/{resource.group}/{version}" if resource.group else f"/api/{version}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    gvk = {"group": resource.group, "version": version, "kind": resource.kind}
    collection = f"{prefix}{scope}/{resource.plural}"
    reference = {"$ref": "#/components/schemas/"
                         + definition_name(resource.group, version, resource.kind)}

    def operation(action: str) -> dict[str, Any]:
        return {"operationId": f"{action}{resource.kind}", "parameters": _QUERY,
                "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK",
                                      "content": {"application/json": {"schema": reference}}}}}

    if resource.verbs == ("create",):
        return {collection: {"post": operation("post")}}
    return {
        collection: {"get": operation("list"), "post": operation("post")},
        collection + "/{name}": {"get": operation("get"), "put": operation("put"),
                                 "patch": operation("patch"), "delete": operation("delete")},
    }


@functools.cache
def document(group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document for one group/version, None if not served."""
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    for resource in RESOURCE_TYPES:
        if resource.group == group and version in resource.versions:
            paths.update(_paths_for(resource, version))
            components.update(_kind_schemas(resource, version))
    if not paths:
        return None
    title = f"{group}/{version}" if group else version
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": title},
            "paths": paths, "components": {"schemas": dict(sorted(components.items()))}}


def _group_versions() -> list[tuple[str, str]]:
    return [("", "v1")] + [(g, v) for g, versions in GROUP_VERSIONS.items() for v in versions]


def relative_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _hash(group: str, version: str) -> str:
    """A stable content hash for the index, without building the document: it changes only
    with this code's definitions and the served kinds."""
    served = [(r.group, r.kind, r.verbs) for r in RESOURCE_TYPES
              if r.group == group and version in r.versions]
    text = json.dumps([schemas.KUBERNETES_DEFINITIONS, group, version, served])
    return hashlib.sha512(text.encode()).hexdigest()[:32].upper()


def index(absent: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`/openapi/v3`: each group/version's document URL, with a content hash as kubectl expects
    (none for the groups the cluster does not have)."""
    return {"paths": {
        relative_path(group, version): {
            "serverRelativeURL": f"/openapi/v3/{relative_path(group, version)}"
                                 f"?hash={_hash(group, version)}"}
        for group, version in _group_versions() if group not in absent}}


def lookup(relative: str, absent: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    """The document for `api/v1` or `apis/{group}/{version}`, None if unknown or absent."""
    parts = relative.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        return document("", parts[1])
    if parts[:1] == ["apis"] and len(parts) == 3 and parts[1] not in absent:
        return document(parts[1], parts[2])
    return None
