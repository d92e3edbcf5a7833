"""Who may talk to whom in the drill cluster: NetworkPolicies, Istio and Linkerd policy, mTLS.

Evaluated over the cluster's current objects (plain dicts), the way the
network and the mesh would:

- NetworkPolicy: a pod is isolated for a direction when a policy in its
  namespace selects it (podSelector matchLabels/matchExpressions) with that
  policy type; traffic is then allowed only if a rule of one of those policies
  admits the peer (podSelector, namespaceSelector, ipBlock cidr minus except,
  evaluated with `ipaddress`) and the port. Policies add up, as in Kubernetes.
- One deliberate exception, documented in docs/scenarios.md: a policy that
  selects a pod for both Ingress and Egress with no rules at all (the runbook's
  emergency isolation) cuts the pod off completely, as the runbook intends.
  On a real cluster another policy that allows the traffic would still win;
  the drill reports that in `why` so a facilitator can teach it.
- Istio AuthorizationPolicy (DENY first, then ALLOW, an ALLOW policy without
  rules allows nothing) and PeerAuthentication STRICT against a client
  without a sidecar.
- Linkerd Server + ServerAuthorization: a Server selecting the pod and port
  admits only the clients some ServerAuthorization names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from actions.selectors import labels_of, policy_types, selector_matches

Obj = dict[str, Any]
ISTIO_ROOT_NAMESPACE = "istio-system"
ISTIO_GROUPS = ("security.istio.io/v1", "security.istio.io/v1beta1")
LINKERD_SERVER_VERSIONS = (
    "policy.linkerd.io/v1beta3",
    "policy.linkerd.io/v1beta2",
    "policy.linkerd.io/v1beta1",
    "policy.linkerd.io/v1alpha1",
)


@dataclass(frozen=True)
class Verdict:
    """Whether traffic gets through, and the object that decided it."""

    allowed: bool
    why: str
    blocked_by: str | None = None
    layer: str = ""  # "network", "mesh-authz", "mtls"

    @classmethod
    def ok(cls, why: str = "allowed") -> Verdict:
        return cls(True, why)


# --- selectors: actions/selectors.py ------------------------------------------------


def ip_in_block(ip: str, block: Obj) -> bool:
    """An ipBlock admits ip: inside cidr and outside every except range."""
    try:
        address = ipaddress.ip_address(ip)
        if address not in ipaddress.ip_network(str(block.get("cidr")), strict=False):
            return False
        for excluded in block.get("except") or []:
            network = ipaddress.ip_network(str(excluded), strict=False)
            if address.version == network.version and address in network:
                return False
    except ValueError:
        return False
    return True


# --- the view of the cluster the evaluation needs -----------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One side of a connection: a pod (with labels, namespace, service account) or an IP."""

    ip: str
    pod: Obj | None = None

    @property
    def namespace(self) -> str | None:
        return (self.pod or {}).get("metadata", {}).get("namespace")

    @property
    def name(self) -> str:
        return (self.pod or {}).get("metadata", {}).get("name", self.ip)

    @property
    def labels(self) -> dict[str, str]:
        return labels_of(self.pod) if self.pod else {}

    @property
    def service_account(self) -> str:
        return ((self.pod or {}).get("spec") or {}).get("serviceAccountName") or "default"

    @property
    def receives_mtls(self) -> bool:
        """Istio's auto mTLS: clients' sidecars send mTLS only to a pod labelled tlsMode=istio."""
        return self.has_sidecar and self.labels.get("security.istio.io/tlsMode") == "istio"

    @property
    def has_sidecar(self) -> bool:
        if not self.pod:
            return False
        containers = (self.pod.get("spec") or {}).get("containers") or []
        return any(c.get("name") in ("istio-proxy", "linkerd-proxy") for c in containers)


class ClusterView:
    """Read access the evaluation needs; `list_objects(api_version, kind, namespace)`.

    Lists are cached until `invalidate()`, which the engine calls on every
    change the cluster reports: evaluation reads the same few lists many times.
    """

    def __init__(self, list_objects: Callable[[str, str, str | None], list[Obj]]) -> None:
        self._list_uncached = list_objects
        self._cache: dict[tuple[str, str, str | None], list[Obj]] = {}

    def invalidate(self) -> None:
        self._cache = {}

    def _list(self, api_version: str, kind: str, namespace: str | None) -> list[Obj]:
        key = (api_version, kind, namespace)
        cache = self._cache
        if key not in cache:
            cache[key] = self._list_uncached(api_version, kind, namespace)
        return cache[key]

    def pods(self, namespace: str | None) -> list[Obj]:
        return self._list("v1", "Pod", namespace)

    def network_policies(self, namespace: str) -> list[Obj]:
        return self._list("networking.k8s.io/v1", "NetworkPolicy", namespace)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        for item in self._list("v1", "Namespace", None):
            if item["metadata"]["name"] == namespace:
                labels = labels_of(item)
                labels.setdefault("kubernetes.io/metadata.name", namespace)
                return labels
        return {"kubernetes.io/metadata.name": namespace}

    def istio(self, kind: str, namespace: str) -> list[Obj]:
        # v1 and v1beta1 share their objects on the server; one version is enough.
        return self._list(ISTIO_GROUPS[0], kind, namespace)

    def linkerd(self, kind: str, namespace: str) -> list[Obj]:
        if kind == "Server":
            return self._list(LINKERD_SERVER_VERSIONS[0], kind, namespace)
        return self._list("policy.linkerd.io/v1beta1", kind, namespace)


# --- NetworkPolicy ------------------------------------------------------------------


def selecting(policies: Iterable[Obj], pod: Obj, direction: str) -> list[Obj]:
    return [
        p
        for p in policies
        if direction in policy_types(p)
        and selector_matches((p.get("spec") or {}).get("podSelector"), labels_of(pod))
    ]


def is_isolation_policy(policy: Obj) -> bool:
    """The runbook's emergency isolation: both directions, no rules at all."""
    spec = policy.get("spec") or {}
    return (
        policy_types(policy) >= {"Ingress", "Egress"}
        and not spec.get("ingress")
        and not spec.get("egress")
    )


def isolating_policy(view: ClusterView, pod: Obj) -> str | None:
    """The name of an isolation policy selecting the pod, if any."""
    namespace = pod["metadata"]["namespace"]
    for policy in view.network_policies(namespace):
        if is_isolation_policy(policy) and selector_matches(
            (policy.get("spec") or {}).get("podSelector"), labels_of(pod)
        ):
            return str(policy["metadata"]["name"])
    return None


def _port_matches(rule: Obj, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        if (entry.get("protocol") or "TCP").upper() != protocol.upper():
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, int):
            end = entry.get("endPort") or wanted
            if wanted <= port <= end:
                return True
        elif str(wanted) == str(port):
            return True
    return False


def _peer_matches(view: ClusterView, peer: Obj, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return ip_in_block(other.ip, peer["ipBlock"])
    if other.pod is None:
        return False  # pod and namespace selectors never match addresses outside the cluster
    pod_selector = peer.get("podSelector")
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        if other.namespace != policy_namespace:
            return False
    elif not selector_matches(namespace_selector, view.namespace_labels(str(other.namespace))):
        return False
    return pod_selector is None or selector_matches(pod_selector, other.labels)


def _direction_verdict(
    view: ClusterView, pod: Obj, other: Endpoint, direction: str, port: int, protocol: str
) -> Verdict:
    namespace = pod["metadata"]["namespace"]
    policies = selecting(view.network_policies(namespace), pod, direction)
    if not policies:
        return Verdict.ok(
            f"no NetworkPolicy selects {namespace}/{pod['metadata']['name']} for {direction}"
        )
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    for policy in policies:
        for rule in (policy.get("spec") or {}).get(rules_key) or []:
            peers = rule.get(peers_key)
            if not _port_matches(rule, port, protocol):
                continue
            if not peers or any(_peer_matches(view, peer, namespace, other) for peer in peers):
                return Verdict.ok(
                    f"{direction} allowed by NetworkPolicy {policy['metadata']['name']}"
                )
    names = ", ".join(p["metadata"]["name"] for p in policies)
    return Verdict(
        False, f"{direction} to/from {other.name} not allowed by {names}", names, "network"
    )


def network_verdict(
    view: ClusterView, source: Endpoint, dest: Endpoint, port: int, protocol: str = "TCP"
) -> Verdict:
    """Whether NetworkPolicies let source reach dest:port (either side may be an outside IP)."""
    for end in (source, dest):
        if end.pod is not None and (policy := isolating_policy(view, end.pod)):
            return Verdict(
                False, f"{end.name} is isolated by NetworkPolicy {policy}", policy, "network"
            )
    if source.pod is not None:
        verdict = _direction_verdict(view, source.pod, dest, "Egress", port, protocol)
        if not verdict.allowed:
            return verdict
    if dest.pod is not None:
        verdict = _direction_verdict(view, dest.pod, source, "Ingress", port, protocol)
        if not verdict.allowed:
            return verdict
    return Verdict.ok()


# --- Istio ----------------------------------------------------------------------------


def _applies_to(policy: Obj, pod: Obj) -> bool:
    spec = policy.get("spec") or {}
    return selector_matches(spec.get("selector"), labels_of(pod))


def _glob(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


def _source_matches(source: Obj, client: Endpoint) -> bool:
    principal = (
        f"cluster.local/ns/{client.namespace}/sa/{client.service_account}"
        if client.pod is not None and client.has_sidecar
        else ""
    )
    namespace = client.namespace or ""
    checks = (
        ("principals", principal, True),
        ("notPrincipals", principal, False),
        ("namespaces", namespace, True),
        ("notNamespaces", namespace, False),
    )
    for key, value, positive in checks:
        patterns = source.get(key)
        if patterns is None:
            continue
        hit = bool(value) and any(_glob(str(p), value) for p in patterns)
        if hit != positive:
            return False
    for key, positive in (("ipBlocks", True), ("notIpBlocks", False)):
        blocks = source.get(key)
        if blocks is not None:
            hit = any(ip_in_block(client.ip, {"cidr": b}) for b in blocks)
            if hit != positive:
                return False
    return True


def _rule_matches(rule: Obj, client: Endpoint, port: int) -> bool:
    sources = rule.get("from")
    if sources and not any(_source_matches(s.get("source") or {}, client) for s in sources):
        return False
    targets = rule.get("to")
    if targets:

        def port_ok(target: Obj) -> bool:
            ports = (target.get("operation") or {}).get("ports")
            return not ports or str(port) in [str(p) for p in ports]

        if not any(port_ok(t) for t in targets):
            return False
    return True


def istio_verdict(view: ClusterView, client: Endpoint, server: Endpoint, port: int) -> Verdict:
    """AuthorizationPolicy and PeerAuthentication for a request to a pod with a sidecar."""
    if server.pod is None or not server.has_sidecar:
        return Verdict.ok("no sidecar on the server: Istio does not enforce")
    pod = server.pod
    namespaces = {ISTIO_ROOT_NAMESPACE, str(server.namespace)}
    policies = [
        p
        for ns in sorted(namespaces)
        for p in view.istio("AuthorizationPolicy", ns)
        if _applies_to(p, pod)
    ]
    for policy in policies:
        spec = policy.get("spec") or {}
        if spec.get("action") == "DENY" and any(
            _rule_matches(r, client, port) for r in spec.get("rules") or []
        ):
            name = policy["metadata"]["name"]
            return Verdict(
                False, f"denied by AuthorizationPolicy {name} (DENY)", name, "mesh-authz"
            )
    allows = [p for p in policies if (p.get("spec") or {}).get("action", "ALLOW") == "ALLOW"]
    if allows and not any(
        _rule_matches(r, client, port)
        for p in allows
        for r in (p.get("spec") or {}).get("rules") or []
    ):
        names = ", ".join(p["metadata"]["name"] for p in allows)
        return Verdict(
            False,
            f"no ALLOW rule of AuthorizationPolicy {names} matches {client.name}",
            names,
            "mesh-authz",
        )
    mode, source = peer_authentication_mode(view, pod)
    if mode == "STRICT" and not client.has_sidecar:
        return Verdict(
            False,
            f"mTLS STRICT ({source}) and {client.name} has no sidecar to present a certificate",
            source,
            "mtls",
        )
    if mode == "STRICT" and not server.receives_mtls:
        return Verdict(
            False,
            f"mTLS STRICT ({source}) but {server.name} lacks the security.istio.io/tlsMode "
            f"label, so {client.name}'s sidecar sends it plaintext",
            source,
            "mtls",
        )
    return Verdict.ok()


def peer_authentication_mode(view: ClusterView, pod: Obj) -> tuple[str, str]:
    """The effective mTLS mode for a workload and the PeerAuthentication that sets it."""
    namespace = pod["metadata"]["namespace"]
    candidates = view.istio("PeerAuthentication", namespace)
    workload = [
        p for p in candidates if (p.get("spec") or {}).get("selector") and _applies_to(p, pod)
    ]
    namespace_wide = [p for p in candidates if not (p.get("spec") or {}).get("selector")]
    root = [
        p
        for p in view.istio("PeerAuthentication", ISTIO_ROOT_NAMESPACE)
        if not (p.get("spec") or {}).get("selector")
    ]
    for group in (workload, namespace_wide, root):
        for policy in group:
            mode = ((policy.get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET"
            if mode != "UNSET":
                return (
                    mode,
                    "PeerAuthentication "
                    f"{policy['metadata']['namespace']}/{policy['metadata']['name']}",
                )
    return "PERMISSIVE", "the mesh default"


# --- Linkerd ----------------------------------------------------------------------------


def linkerd_verdict(view: ClusterView, client: Endpoint, server: Endpoint, port: int) -> Verdict:
    if server.pod is None or not server.has_sidecar:
        return Verdict.ok("no proxy on the server: Linkerd does not enforce")
    namespace = str(server.namespace)
    servers = [
        s
        for s in view.linkerd("Server", namespace)
        if selector_matches((s.get("spec") or {}).get("podSelector"), server.labels)
        and str((s.get("spec") or {}).get("port")) in (str(port), "")
    ]
    if not servers:
        return Verdict.ok("no Linkerd Server selects this port")
    authorizations = view.linkerd("ServerAuthorization", namespace)
    for srv in servers:
        name = srv["metadata"]["name"]
        for auth in authorizations:
            target = (auth.get("spec") or {}).get("server") or {}
            if target.get("name") != name and not (
                target.get("selector") and selector_matches(target["selector"], labels_of(srv))
            ):
                continue
            if _linkerd_client_allowed((auth.get("spec") or {}).get("client") or {}, client):
                return Verdict.ok(f"authorized by ServerAuthorization {auth['metadata']['name']}")
    names = ", ".join(s["metadata"]["name"] for s in servers)
    return Verdict(
        False,
        f"no ServerAuthorization for Server {names} admits {client.name}",
        names,
        "mesh-authz",
    )


def _linkerd_client_allowed(client_rule: Obj, client: Endpoint) -> bool:
    if client_rule.get("unauthenticated"):
        return True
    mesh_tls = client_rule.get("meshTLS")
    if not mesh_tls or not client.has_sidecar:
        return False
    if mesh_tls.get("unauthenticatedTLS"):
        return True
    identity = (
        f"{client.service_account}.{client.namespace}.serviceaccount.identity.linkerd.cluster.local"
    )
    if any(_glob(str(i), identity) for i in mesh_tls.get("identities") or []):
        return True
    return any(
        sa.get("name") == client.service_account
        and sa.get("namespace", client.namespace) == client.namespace
        for sa in mesh_tls.get("serviceAccounts") or []
    )


def connection_verdict(
    view: ClusterView, mesh: str, source: Endpoint, dest: Endpoint, port: int, protocol: str = "TCP"
) -> Verdict:
    """Everything between a source and a destination, network first, then the mesh."""
    verdict = network_verdict(view, source, dest, port, protocol)
    if not verdict.allowed or dest.pod is None:
        return verdict
    if mesh == "istio":
        return istio_verdict(view, source, dest, port)
    if mesh == "linkerd":
        return linkerd_verdict(view, source, dest, port)
    return verdict
