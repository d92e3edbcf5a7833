"""The objects the policy evaluation reads, by kind and namespace, with cached lists.

`ClusterView(list_objects)` reads through a callable (the drill's cluster
state); `ClusterView.of(objects)` holds a snapshot (what a preview listed
through the official client, possibly with the action's change applied).
Objects of one API group share one store whatever version they are asked at,
as on a real API server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from actions.policy.selectors import labels_of

Obj = dict[str, Any]
ListObjects = Callable[[str, str, str | None], list[Obj]]

NETWORK_POLICY = ("networking.k8s.io/v1", "NetworkPolicy")
ISTIO = "security.istio.io/v1"
LINKERD_SERVER = "policy.linkerd.io/v1beta3"
LINKERD_V1BETA1 = "policy.linkerd.io/v1beta1"
LINKERD_V1ALPHA1 = "policy.linkerd.io/v1alpha1"
# Linkerd's kinds and the version the view asks for (any served version shows the same object).
LINKERD_VERSIONS = {
    "Server": LINKERD_SERVER,
    "ServerAuthorization": LINKERD_V1BETA1,
    "AuthorizationPolicy": LINKERD_V1ALPHA1,
    "MeshTLSAuthentication": LINKERD_V1ALPHA1,
    "NetworkAuthentication": LINKERD_V1ALPHA1,
}
ISTIO_ROOT_NAMESPACE = "istio-system"


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


class ClusterView:
    """Read access for the evaluation; lists are cached until `invalidate()`."""

    def __init__(self, list_objects: ListObjects, *, mesh_root: str = ISTIO_ROOT_NAMESPACE) -> None:
        self._list_uncached = list_objects
        self._cache: dict[tuple[str, str, str | None], list[Obj]] = {}
        self._pods_by_name: dict[str | None, dict[str, Obj]] = {}
        self.istio_root_namespace = mesh_root

    @classmethod
    def of(cls, objects: Iterable[Obj]) -> ClusterView:
        """A view over a snapshot of objects (any mix of kinds and namespaces)."""
        by_kind: dict[tuple[str, str], list[Obj]] = {}
        for obj in objects:
            key = (_group(str(obj.get("apiVersion") or "")), str(obj.get("kind") or ""))
            by_kind.setdefault(key, []).append(obj)

        def list_objects(api_version: str, kind: str, namespace: str | None) -> list[Obj]:
            found = by_kind.get((_group(api_version), kind), [])
            if namespace is None:
                return list(found)
            return [o for o in found if (o.get("metadata") or {}).get("namespace") == namespace]

        return cls(list_objects)

    def invalidate(self) -> None:
        self._cache = {}
        self._pods_by_name = {}

    def objects(self, api_version: str, kind: str, namespace: str | None) -> list[Obj]:
        key = (api_version, kind, namespace)
        cache = self._cache
        if key not in cache:
            cache[key] = self._list_uncached(api_version, kind, namespace)
        return cache[key]

    def pods(self, namespace: str | None = None) -> list[Obj]:
        return self.objects("v1", "Pod", namespace)

    def pod(self, namespace: str | None, name: str) -> Obj | None:
        index = self._pods_by_name.get(namespace)
        if index is None:
            index = self._pods_by_name[namespace] = {}
            for pod in self.pods(namespace):
                index.setdefault(str(pod["metadata"]["name"]), pod)
        return index.get(name)

    def network_policies(self, namespace: str) -> list[Obj]:
        return self.objects(*NETWORK_POLICY, namespace)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """The namespace's labels, with the one the API server always sets."""
        for item in self.objects("v1", "Namespace", None):
            if item["metadata"]["name"] == namespace:
                labels = labels_of(item)
                labels.setdefault("kubernetes.io/metadata.name", namespace)
                return labels
        return {"kubernetes.io/metadata.name": namespace}

    def namespace_annotations(self, namespace: str) -> dict[str, str]:
        for item in self.objects("v1", "Namespace", None):
            if item["metadata"]["name"] == namespace:
                return dict(item["metadata"].get("annotations") or {})
        return {}

    def istio(self, kind: str, namespace: str) -> list[Obj]:
        return self.objects(ISTIO, kind, namespace)

    def linkerd(self, kind: str, namespace: str) -> list[Obj]:
        return self.objects(LINKERD_VERSIONS[kind], kind, namespace)
