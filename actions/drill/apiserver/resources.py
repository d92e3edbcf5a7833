"""The resource types the drill cluster serves, in discovery order.

One `ResourceType` per group + plural, with every version it is served at
(preferred first). security.istio.io is listed before policy.linkerd.io, as a
real Istio + Linkerd cluster does, so kubectl resolves the ambiguous short name
`authorizationpolicy` to Istio's kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource: group, versions, names, scope, verbs."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    builtin: bool = True
    subresources: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, verbs)
    # What DELETE answers with, following the official client's return types.
    delete_returns_object: bool = False
    stored: bool = True

    @property
    def group_resource(self) -> str:
        """`networkpolicies.networking.k8s.io`, or `pods` in the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`NetworkPolicy.networking.k8s.io`, or `Pod` in the core group."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        """`group/version` (or bare `v1` for the core group)."""
        version = version or self.preferred_version
        return f"{self.group}/{version}" if self.group else version


def _core(kind: str, plural: str, **kwargs: object) -> ResourceType:
    return ResourceType(group="", versions=("v1",), kind=kind, plural=plural,
                        singular=kind.lower(), **kwargs)  # type: ignore[arg-type]


def _crd(group: str, versions: tuple[str, ...], kind: str, plural: str,
         **kwargs: object) -> ResourceType:
    return ResourceType(group=group, versions=versions, kind=kind, plural=plural,
                        singular=kind.lower(), builtin=False, delete_returns_object=True,
                        **kwargs)  # type: ignore[arg-type]


_POD_STREAMS = "create get"  # exec/attach/portforward: POST (SPDY) or GET (WebSocket)
_SCALE = ("Scale", "get patch update")

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    _core("Namespace", "namespaces", namespaced=False, short_names=("ns",)),
    _core("Pod", "pods", short_names=("po",), categories=("all",), delete_returns_object=True,
          subresources={"log": ("Pod", "get"), "exec": ("PodExecOptions", _POD_STREAMS),
                        "attach": ("PodAttachOptions", _POD_STREAMS),
                        "portforward": ("PodPortForwardOptions", _POD_STREAMS),
                        "ephemeralcontainers": ("Pod", "get patch update"),
                        "status": ("Pod", "get patch update")}),
    _core("Event", "events", short_names=("ev",)),
    _core("Service", "services", short_names=("svc",), categories=("all",),
          delete_returns_object=True,
          subresources={"proxy": ("ServiceProxyOptions", "create delete get patch update")}),
    _core("ServiceAccount", "serviceaccounts", short_names=("sa",), delete_returns_object=True),
    _core("Secret", "secrets"),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Endpoints", "endpoints", short_names=("ep",)),
    _core("Node", "nodes", namespaced=False, short_names=("no",), delete_returns_object=True,
          subresources={"status": ("Node", "get patch update")}),
    ResourceType(group="apps", versions=("v1",), kind="ControllerRevision",
                 plural="controllerrevisions", singular="controllerrevision"),
    ResourceType(group="apps", versions=("v1",), kind="DaemonSet", plural="daemonsets",
                 singular="daemonset", short_names=("ds",), categories=("all",),
                 subresources={"status": ("DaemonSet", "get patch update")}),
    ResourceType(group="apps", versions=("v1",), kind="Deployment", plural="deployments",
                 singular="deployment", short_names=("deploy",), categories=("all",),
                 subresources={"scale": _SCALE, "status": ("Deployment", "get patch update")}),
    ResourceType(group="apps", versions=("v1",), kind="ReplicaSet", plural="replicasets",
                 singular="replicaset", short_names=("rs",), categories=("all",),
                 subresources={"scale": _SCALE, "status": ("ReplicaSet", "get patch update")}),
    ResourceType(group="apps", versions=("v1",), kind="StatefulSet", plural="statefulsets",
                 singular="statefulset", short_names=("sts",), categories=("all",),
                 subresources={"scale": _SCALE, "status": ("StatefulSet", "get patch update")}),
    ResourceType(group="authentication.k8s.io", versions=("v1",), kind="SelfSubjectReview",
                 plural="selfsubjectreviews", singular="selfsubjectreview", namespaced=False,
                 verbs=("create",), stored=False),
    ResourceType(group="networking.k8s.io", versions=("v1",), kind="NetworkPolicy",
                 plural="networkpolicies", singular="networkpolicy", short_names=("netpol",)),
    ResourceType(group="authorization.k8s.io", versions=("v1",), kind="SelfSubjectAccessReview",
                 plural="selfsubjectaccessreviews", singular="selfsubjectaccessreview",
                 namespaced=False, verbs=("create",), stored=False),
    ResourceType(group="authorization.k8s.io", versions=("v1",), kind="SelfSubjectRulesReview",
                 plural="selfsubjectrulesreviews", singular="selfsubjectrulesreview",
                 namespaced=False, verbs=("create",), stored=False),
    ResourceType(group="discovery.k8s.io", versions=("v1",), kind="EndpointSlice",
                 plural="endpointslices", singular="endpointslice"),
    _crd("security.istio.io", ("v1", "v1beta1"), "AuthorizationPolicy", "authorizationpolicies",
         categories=("istio-io", "security-istio-io")),
    _crd("security.istio.io", ("v1", "v1beta1"), "PeerAuthentication", "peerauthentications",
         short_names=("pa",), categories=("istio-io", "security-istio-io")),
    _crd("policy.linkerd.io", ("v1beta3", "v1beta2", "v1beta1", "v1alpha1"), "Server", "servers",
         short_names=("srv",), categories=("policy",)),
    _crd("policy.linkerd.io", ("v1beta1", "v1alpha1"), "ServerAuthorization",
         "serverauthorizations", short_names=("saz", "serverauthz", "srvauthz"),
         categories=("policy",)),
    _crd("policy.linkerd.io", ("v1alpha1",), "AuthorizationPolicy", "authorizationpolicies",
         categories=("policy",)),
    _crd("policy.linkerd.io", ("v1alpha1",), "MeshTLSAuthentication", "meshtlsauthentications",
         short_names=("meshtlsauthn",), categories=("policy",)),
    _crd("policy.linkerd.io", ("v1alpha1",), "NetworkAuthentication", "networkauthentications",
         short_names=("netauthn", "networkauthn"), categories=("policy",)),
)

# Group order for /apis, as a real cluster lists its built-in groups before the CRDs'; a
# group's versions are listed newest (preferred) first.
GROUP_VERSIONS: dict[str, tuple[str, ...]] = {
    "apps": ("v1",),
    "authentication.k8s.io": ("v1",),
    "authorization.k8s.io": ("v1",),
    "networking.k8s.io": ("v1",),
    "discovery.k8s.io": ("v1",),
    "security.istio.io": ("v1", "v1beta1"),
    "policy.linkerd.io": ("v1beta3", "v1beta2", "v1beta1", "v1alpha1"),
}


def split_api_version(api_version: str) -> tuple[str, str]:
    """`networking.k8s.io/v1` -> ("networking.k8s.io", "v1"); `v1` -> ("", "v1")."""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version


def by_plural(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource served at /{group}/{version}/{plural}, or None."""
    for resource in RESOURCE_TYPES:
        if resource.group == group and resource.plural == plural and version in resource.versions:
            return resource
    return None


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """The resource type of apiVersion + kind, or None when not served."""
    group, version = split_api_version(api_version)
    for resource in RESOURCE_TYPES:
        if resource.group == group and resource.kind == kind and version in resource.versions:
            return resource
    return None


def in_group_version(group: str, version: str) -> list[ResourceType]:
    """Every resource served at one group/version, in discovery order."""
    return [r for r in RESOURCE_TYPES if r.group == group and version in r.versions]
