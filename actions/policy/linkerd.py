"""Linkerd inbound policy, as linkerd.io and its CRDs define it.

Only meshed pods (a linkerd-proxy container) enforce anything, on inbound
traffic. For a connection to pod:port:

- If no Server selects that pod and port, the default inbound policy
  decides: the pod's `config.linkerd.io/default-inbound-policy` annotation,
  else its namespace's, else the cluster's (`all-unauthenticated` unless the
  installation says otherwise). all-unauthenticated and audit allow
  everyone; all-authenticated allows meshed clients; cluster-authenticated
  meshed clients from the cluster networks; cluster-unauthenticated any
  client from the cluster networks; deny nobody.
- If a Server selects it (port by number, or by the pod's named container
  port), a request passes when an authorization of that Server admits it:
  a ServerAuthorization naming the Server (or selecting it by labels), or an
  AuthorizationPolicy whose targetRef is the Server or the namespace.
  Otherwise the Server's accessPolicy decides (v1beta3; default deny).
- ServerAuthorization `client`: `unauthenticated: true` admits anyone;
  `meshTLS` admits meshed clients by `identities` (globs),
  `serviceAccounts` (namespace defaults to the authorization's) or
  `unauthenticatedTLS`; `networks` limits the client addresses.
- AuthorizationPolicy: every requiredAuthenticationRef must be satisfied
  (MeshTLSAuthentication by identities or identityRefs, NetworkAuthentication
  by networks, a ServiceAccount); an empty list requires nothing.

A meshed client's identity is `<sa>.<ns>.serviceaccount.identity.linkerd.cluster.local`.
Sources: docs/policy-semantics.md.
"""

from __future__ import annotations

from actions.policy.endpoints import (
    LINKERD_PROXY,
    Endpoint,
    Obj,
    Verdict,
    glob_matches,
    ip_in_block,
)
from actions.policy.selectors import labels_of, selector_matches
from actions.policy.view import ClusterView

DEFAULT_POLICY_ANNOTATION = "config.linkerd.io/default-inbound-policy"
CLUSTER_DEFAULT_POLICY = "all-unauthenticated"
# Linkerd's default clusterNetworks.
CLUSTER_NETWORKS = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")


def identity(client: Endpoint) -> str:
    if client.pod is None or not client.has_proxy(LINKERD_PROXY):
        return ""
    return (
        f"{client.service_account}.{client.namespace}.serviceaccount.identity.linkerd.cluster.local"
    )


def _in_cluster(client: Endpoint) -> bool:
    return any(ip_in_block(client.ip, {"cidr": cidr}) for cidr in CLUSTER_NETWORKS)


def default_policy_allows(policy: str, client: Endpoint) -> bool:
    meshed = bool(identity(client))
    return {
        "all-unauthenticated": True,
        "audit": True,
        "all-authenticated": meshed,
        "cluster-authenticated": meshed and _in_cluster(client),
        "cluster-unauthenticated": _in_cluster(client),
        "deny": False,
    }.get(policy, False)


def default_policy(view: ClusterView, server: Endpoint) -> tuple[str, str]:
    """(policy, where it comes from) for a port no Server selects."""
    if DEFAULT_POLICY_ANNOTATION in server.annotations:
        return server.annotations[DEFAULT_POLICY_ANNOTATION], f"pod {server.describe()}"
    ns_annotations = view.namespace_annotations(str(server.namespace))
    if DEFAULT_POLICY_ANNOTATION in ns_annotations:
        return ns_annotations[DEFAULT_POLICY_ANNOTATION], f"namespace {server.namespace}"
    return CLUSTER_DEFAULT_POLICY, "the cluster default"


def servers_for(view: ClusterView, server: Endpoint, port: int) -> list[Obj]:
    """The Servers selecting this pod and port (Linkerd admits no overlap; all are returned)."""
    found = []
    for item in view.linkerd("Server", str(server.namespace)):
        spec = item.get("spec") or {}
        if "podSelector" not in spec or not selector_matches(spec["podSelector"], server.labels):
            continue
        wanted = spec.get("port")
        if isinstance(wanted, int) and wanted == port:
            found.append(item)
        elif isinstance(wanted, str) and (
            (wanted.isdigit() and int(wanted) == port) or server.named_port(wanted, "TCP") == port
        ):
            found.append(item)
    return found


def _networks_admit(networks: object, client: Endpoint) -> bool:
    if not networks:
        return True
    return any(isinstance(n, dict) and ip_in_block(client.ip, n) for n in networks)  # type: ignore[attr-defined]


def server_authorization_admits(authorization: Obj, client: Endpoint) -> bool:
    rule = (authorization.get("spec") or {}).get("client") or {}
    if not _networks_admit(rule.get("networks"), client):
        return False
    if rule.get("unauthenticated"):
        return True
    mesh_tls = rule.get("meshTLS")
    who = identity(client)
    if not isinstance(mesh_tls, dict) or not who:
        return False
    if mesh_tls.get("unauthenticatedTLS"):
        return True
    if any(glob_matches(str(i), who) for i in mesh_tls.get("identities") or []):
        return True
    own_namespace = (authorization.get("metadata") or {}).get("namespace")
    return any(
        isinstance(sa, dict)
        and sa.get("name") == client.service_account
        and sa.get("namespace", own_namespace) == client.namespace
        for sa in mesh_tls.get("serviceAccounts") or []
    )


def _authentication_satisfied(
    view: ClusterView, ref: Obj, namespace: str, client: Endpoint
) -> bool:
    kind = ref.get("kind")
    ref_namespace = str(ref.get("namespace") or namespace)
    name = ref.get("name")
    who = identity(client)
    if kind == "ServiceAccount":
        return bool(who) and client.service_account == name and client.namespace == ref_namespace
    if kind not in ("MeshTLSAuthentication", "NetworkAuthentication"):
        return False
    candidates = [
        item
        for item in view.linkerd(str(kind), ref_namespace)
        if name is None or item["metadata"]["name"] == name
    ]
    for item in candidates:
        spec = item.get("spec") or {}
        if kind == "NetworkAuthentication":
            if _networks_admit(
                spec.get("networks") or [{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}], client
            ):
                return True
            continue
        if not who:
            continue
        if any(glob_matches(str(i), who) for i in spec.get("identities") or []):
            return True
        for target in spec.get("identityRefs") or []:
            target_ns = str(target.get("namespace") or item["metadata"]["namespace"])
            if target.get("kind") == "ServiceAccount" and (
                target.get("name") in ("*", client.service_account)
                and target_ns == client.namespace
            ):
                return True
            if target.get("kind") == "Namespace" and target.get("name") == client.namespace:
                return True
    return False


def authorization_policy_admits(view: ClusterView, policy: Obj, client: Endpoint) -> bool:
    namespace = str(policy["metadata"]["namespace"])
    refs = (policy.get("spec") or {}).get("requiredAuthenticationRefs") or []
    return all(_authentication_satisfied(view, ref, namespace, client) for ref in refs)


def _authorizations(view: ClusterView, server_obj: Obj) -> list[tuple[str, Obj]]:
    namespace = str(server_obj["metadata"]["namespace"])
    name = server_obj["metadata"]["name"]
    found: list[tuple[str, Obj]] = []
    for item in view.linkerd("ServerAuthorization", namespace):
        target = (item.get("spec") or {}).get("server") or {}
        if target.get("name") == name or (
            target.get("selector") and selector_matches(target["selector"], labels_of(server_obj))
        ):
            found.append(("ServerAuthorization", item))
    for item in view.linkerd("AuthorizationPolicy", namespace):
        ref = (item.get("spec") or {}).get("targetRef") or {}
        if (ref.get("kind") == "Server" and ref.get("name") == name) or (
            ref.get("kind") == "Namespace" and ref.get("name") == namespace
        ):
            found.append(("AuthorizationPolicy", item))
    return found


def linkerd_verdict(view: ClusterView, client: Endpoint, server: Endpoint, port: int) -> Verdict:
    if server.pod is None or not server.has_proxy(LINKERD_PROXY):
        return Verdict.ok("no proxy on the server: Linkerd enforces nothing")
    servers = servers_for(view, server, port)
    if not servers:
        policy, where = default_policy(view, server)
        if default_policy_allows(policy, client):
            return Verdict.ok(f"no Server selects port {port}: default policy {policy} ({where})")
        return Verdict.denied(
            f"no Server selects port {port} and the default policy {policy} ({where}) "
            f"refuses {client.describe()}",
            f"default-inbound-policy {policy}",
            "mesh-authz",
        )
    admitted = []
    for server_obj in servers:
        for kind, item in _authorizations(view, server_obj):
            admits = (
                server_authorization_admits(item, client)
                if kind == "ServerAuthorization"
                else authorization_policy_admits(view, item, client)
            )
            if admits:
                admitted.append(f"{kind} {item['metadata']['name']}")
    if admitted:
        return Verdict.ok(f"authorized by {', '.join(admitted)}", tuple(admitted))
    names = ", ".join(s["metadata"]["name"] for s in servers)
    access = str((servers[0].get("spec") or {}).get("accessPolicy") or "deny")
    if default_policy_allows(access, client):
        return Verdict.ok(f"Server {names} accessPolicy {access} admits it")
    return Verdict.denied(
        f"no authorization of Server {names} admits {client.describe()} (accessPolicy {access})",
        names,
        "mesh-authz",
    )
