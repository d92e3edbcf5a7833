"""Parse an API path into what it addresses: group, version, resource, namespace, name."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import status
from .resources import ResourceType, by_plural


@dataclass(frozen=True)
class Target:
    """What one request path addresses; `resource` None means the discovery document."""

    group: str
    version: str
    resource: ResourceType | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    rest: tuple[str, ...] = field(default=())

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def parse(path: str) -> Target:
    """`/api/v1/namespaces/ns/pods/p/log` -> Target; ApiError 404 when nothing is served there."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise status.unknown_resource()
    if not rest:
        return Target(group, version)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = by_plural(group, version, rest[0])
    if resource is None or (namespace is not None and not resource.namespaced):
        raise status.unknown_resource()
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) >= 3 else None
    if subresource is not None and subresource not in resource.subresources:
        raise status.unknown_resource()
    if len(rest) > 3 and subresource != "proxy":
        raise status.unknown_resource()
    return Target(group, version, resource, namespace, name, subresource, tuple(rest[3:]))
