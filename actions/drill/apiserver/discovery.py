"""Legacy discovery documents: /version, /api, /api/v1, /apis, /apis/{g}, /apis/{g}/{v}.

kubectl 1.37 asks for aggregated discovery first and falls back to these when
the answer is plain `application/json`.

A group the cluster has no CRDs for (`ClusterState.absent_groups`: the other
mesh's) is not listed anywhere and its documents are 404, as on a cluster that
never installed it: `kubectl api-resources` and the client's discovery then
agree with what the storage answers.
"""

from __future__ import annotations

from typing import Any

from .resources import GROUP_VERSIONS, ResourceType, in_group_version

VERSION_INFO = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-08-26T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version() -> dict[str, Any]:
    return dict(VERSION_INFO)


def core_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group(name: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in GROUP_VERSIONS[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def group_list(absent: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name) for name in GROUP_VERSIONS if name not in absent]}


def group(name: str, absent: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    if name not in GROUP_VERSIONS or name in absent:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _entries(resource: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entries = [entry]
    for sub, (kind, verbs) in resource.subresources.items():
        entries.append({"name": f"{resource.plural}/{sub}", "singularName": "",
                        "namespaced": resource.namespaced, "kind": kind,
                        "verbs": verbs.split()})
    return entries


def resource_list(group_name: str, version_name: str,
                  absent: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    resources = in_group_version(group_name, version_name)
    if not resources or group_name in absent:
        return None
    group_version = f"{group_name}/{version_name}" if group_name else version_name
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [entry for r in resources for entry in _entries(r)]}
