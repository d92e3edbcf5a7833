"""Istio (sidecar mode): AuthorizationPolicy and PeerAuthentication, as istio.io defines them.

Only a request that reaches a workload through its sidecar is affected: a
server without an istio-proxy container enforces nothing, and no policy here
touches a workload's own outbound traffic.

PeerAuthentication (mTLS the server accepts): a workload policy (selector,
with portLevelMtls per port) wins over the namespace's policy (no selector),
which wins over the mesh-wide one in the root namespace; UNSET inherits;
nothing at all means PERMISSIVE. STRICT refuses plaintext; DISABLE and
PERMISSIVE accept it. A client's sidecar sends mTLS (auto mTLS) only to
endpoints labelled security.istio.io/tlsMode=istio, and to none in DISABLE;
a client without a sidecar always sends plaintext.

AuthorizationPolicy: the policies that apply to a workload are those of the
root namespace without a selector (the whole mesh) or whose selector matches
it, and those of its own namespace without a selector or whose selector
matches; policies with targetRef(s) bind to gateways and waypoints, not
sidecars. Evaluated in order: CUSTOM (this cluster has no extension
provider, and Istio turns the rules of a CUSTOM policy whose provider is
unknown into deny rules), then DENY (a matching rule denies), then ALLOW (if
any ALLOW policy applies, a request must match one of their rules, so an
ALLOW policy without rules allows nothing); AUDIT decides nothing.

A rule matches when its from, to and when all match (absent: any); a list of
sources or operations matches if one does; within one, every field set must
match. principals and namespaces come from the peer's certificate, so
plaintext never matches them. For TCP traffic, a rule using HTTP-only fields
(methods, paths, hosts, requestPrincipals, remoteIpBlocks, request.* keys)
never matches in an ALLOW policy, while in DENY and CUSTOM policies those
fields are ignored, so the rule denies more, not less.

Sources: docs/policy-semantics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.policy.endpoints import Endpoint, Obj, Verdict, glob_matches, ip_in_cidr
from actions.policy.selectors import labels_of, selector_matches
from actions.policy.view import ClusterView

HTTP_PROTOCOLS = ("http", "http2", "grpc")
HTTP_ONLY_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
HTTP_ONLY_SOURCE = (
    "requestPrincipals",
    "notRequestPrincipals",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
)


@dataclass(frozen=True)
class Request:
    """What an authorization rule can see of one request (or TCP connection)."""

    client: Endpoint
    server: Endpoint
    port: int
    protocol: str = "tcp"  # tcp | http | http2 | grpc
    mtls: bool = False
    method: str = "GET"
    path: str = "/"
    host: str = ""

    @property
    def http(self) -> bool:
        return self.protocol in HTTP_PROTOCOLS

    @property
    def principal(self) -> str:
        if not self.mtls or self.client.pod is None:
            return ""
        return f"cluster.local/ns/{self.client.namespace}/sa/{self.client.service_account}"

    @property
    def source_namespace(self) -> str:
        return str(self.client.namespace) if self.mtls and self.client.pod is not None else ""


def _name(policy: Obj) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


# ----- PeerAuthentication ------------------------------------------------------------------


def peer_authentication_mode(
    view: ClusterView, pod: Obj, port: int | None = None
) -> tuple[str, str]:
    """The mTLS mode a workload accepts on a port, and the PeerAuthentication that sets it."""
    namespace = str(pod["metadata"]["namespace"])
    labels = labels_of(pod)
    own = view.istio("PeerAuthentication", namespace)
    root = view.istio("PeerAuthentication", view.istio_root_namespace)
    workload = [
        p
        for p in own
        if (p.get("spec") or {}).get("selector")
        and selector_matches((p.get("spec") or {})["selector"], labels)
    ]
    namespace_wide = [p for p in own if not (p.get("spec") or {}).get("selector")]
    mesh_wide = [p for p in root if not (p.get("spec") or {}).get("selector")]
    for group in (workload, namespace_wide, mesh_wide):
        # Several at one level: the oldest wins.
        for policy in sorted(
            group, key=lambda p: str(p["metadata"].get("creationTimestamp") or "")
        ):
            spec = policy.get("spec") or {}
            if group is workload and port is not None:
                port_mode = ((spec.get("portLevelMtls") or {}).get(str(port)) or {}).get("mode")
                if port_mode and port_mode != "UNSET":
                    return str(port_mode), f"PeerAuthentication {_name(policy)} (port {port})"
            mode = (spec.get("mtls") or {}).get("mode") or "UNSET"
            if mode != "UNSET":
                return str(mode), f"PeerAuthentication {_name(policy)}"
    return "PERMISSIVE", "the mesh default"


def client_sends_mtls(view: ClusterView, client: Endpoint, server: Endpoint, port: int) -> bool:
    """Auto mTLS: the client's sidecar originates mTLS to a labelled, non-DISABLE server."""
    if not client.has_proxy("istio-proxy") or not server.istio_mtls_ready or server.pod is None:
        return False
    return peer_authentication_mode(view, server.pod, port)[0] != "DISABLE"


# ----- AuthorizationPolicy ---------------------------------------------------------------------


def applicable_policies(view: ClusterView, pod: Obj) -> list[Obj]:
    """The AuthorizationPolicies that bind to this workload's sidecar."""
    namespace = str(pod["metadata"]["namespace"])
    labels = labels_of(pod)
    found = []
    namespaces = dict.fromkeys((view.istio_root_namespace, namespace))
    for ns in namespaces:
        for policy in view.istio("AuthorizationPolicy", ns):
            spec = policy.get("spec") or {}
            if spec.get("targetRef") or spec.get("targetRefs"):
                continue
            selector = spec.get("selector")
            if selector is None or selector_matches(selector, labels):
                found.append(policy)
    return found


def _values_match(patterns: Any, value: str) -> bool:
    return any(glob_matches(str(p), value) for p in patterns or [])


def _cidrs_match(blocks: Any, ip: str) -> bool:
    return any(ip_in_cidr(ip, str(b)) for b in blocks or [])


def _source_matches(source: Obj, request: Request, ignore_http: bool) -> bool:
    checks: list[tuple[str, bool]] = []
    for key, value in (("principals", request.principal), ("namespaces", request.source_namespace)):
        if key in source:
            checks.append((key, _values_match(source[key], value)))
        if f"not{key[0].upper()}{key[1:]}" in source:
            checks.append((key, not _values_match(source[f"not{key[0].upper()}{key[1:]}"], value)))
    if "ipBlocks" in source:
        checks.append(("ipBlocks", _cidrs_match(source["ipBlocks"], request.client.ip)))
    if "notIpBlocks" in source:
        checks.append(("notIpBlocks", not _cidrs_match(source["notIpBlocks"], request.client.ip)))
    if not ignore_http:
        if "remoteIpBlocks" in source:
            checks.append(("remote", _cidrs_match(source["remoteIpBlocks"], request.client.ip)))
        if "notRemoteIpBlocks" in source:
            checks.append(
                ("remote", not _cidrs_match(source["notRemoteIpBlocks"], request.client.ip))
            )
        if "requestPrincipals" in source:
            checks.append(("jwt", False))  # the drill's requests carry no JWT
    return all(ok for _, ok in checks)


def _operation_matches(operation: Obj, request: Request, ignore_http: bool) -> bool:
    if "ports" in operation and str(request.port) not in [str(p) for p in operation["ports"]]:
        return False
    if "notPorts" in operation and str(request.port) in [str(p) for p in operation["notPorts"]]:
        return False
    if ignore_http:
        return True
    for key, value in (
        ("hosts", request.host),
        ("methods", request.method),
        ("paths", request.path),
    ):
        if key in operation and not _values_match(operation[key], value):
            return False
        negated = f"not{key[0].upper()}{key[1:]}"
        if negated in operation and _values_match(operation[negated], value):
            return False
    return True


def _condition_value(key: str, request: Request) -> str | None:
    """What a `when` key evaluates to for this request; None when the request has no such value."""
    known = {
        "source.ip": request.client.ip,
        "remote.ip": request.client.ip,
        "source.namespace": request.source_namespace or None,
        "source.principal": request.principal or None,
        "destination.ip": request.server.ip,
        "destination.port": str(request.port),
    }
    return known.get(key)


def _condition_matches(condition: Obj, request: Request, ignore_http: bool) -> bool:
    key = str(condition.get("key") or "")
    if key.startswith("request.") or key.startswith("experimental."):
        if ignore_http:
            return True
        value = None  # no headers or JWT claims in the drill's requests
    else:
        value = _condition_value(key, request)
    values, not_values = condition.get("values"), condition.get("notValues")
    if key in ("source.ip", "remote.ip", "destination.ip"):
        hit = value is not None and _cidrs_match(values, value)
        miss = value is not None and _cidrs_match(not_values, value)
    else:
        hit = value is not None and _values_match(values, value)
        miss = value is not None and _values_match(not_values, value)
    return (values is None or hit) and not miss


def _uses_http_only_fields(rule: Obj) -> bool:
    for item in rule.get("from") or []:
        if any(k in (item.get("source") or {}) for k in HTTP_ONLY_SOURCE):
            return True
    for item in rule.get("to") or []:
        if any(k in (item.get("operation") or {}) for k in HTTP_ONLY_OPERATION):
            return True
    return any(str(c.get("key") or "").startswith("request.") for c in rule.get("when") or [])


def rule_matches(rule: Obj, request: Request, action: str) -> bool:
    """Whether one rule matches; HTTP-only fields on TCP follow Istio's safe choice per action."""
    if not isinstance(rule, dict):
        return False
    ignore_http = not request.http
    if ignore_http and action == "ALLOW" and _uses_http_only_fields(rule):
        return False
    sources = rule.get("from")
    if sources and not any(
        _source_matches(s.get("source") or {}, request, ignore_http) for s in sources
    ):
        return False
    operations = rule.get("to")
    if operations and not any(
        _operation_matches(o.get("operation") or {}, request, ignore_http) for o in operations
    ):
        return False
    return all(_condition_matches(c, request, ignore_http) for c in rule.get("when") or [])


def _action(policy: Obj) -> str:
    return str((policy.get("spec") or {}).get("action") or "ALLOW")


def _matches(policy: Obj, request: Request) -> bool:
    action = _action(policy)
    return any(
        rule_matches(r, request, action) for r in (policy.get("spec") or {}).get("rules") or []
    )


def authorization_verdict(view: ClusterView, request: Request) -> Verdict:
    """CUSTOM, then DENY, then ALLOW, for a request reaching the server's sidecar."""
    assert request.server.pod is not None
    policies = applicable_policies(view, request.server.pod)
    for action in ("CUSTOM", "DENY"):
        for policy in policies:
            if _action(policy) == action and _matches(policy, request):
                why = "denied by AuthorizationPolicy"
                if action == "CUSTOM":
                    why = "denied by the CUSTOM AuthorizationPolicy (no extension provider here)"
                return Verdict.denied(f"{why} {_name(policy)}", _name(policy), "mesh-authz")
    allows = [p for p in policies if _action(p) == "ALLOW"]
    if not allows:
        return Verdict.ok("no ALLOW AuthorizationPolicy applies")
    matched = tuple(_name(p) for p in allows if _matches(p, request))
    if matched:
        return Verdict.ok(f"allowed by AuthorizationPolicy {', '.join(matched)}", matched)
    names = ", ".join(_name(p) for p in allows)
    return Verdict.denied(
        f"no rule of the ALLOW AuthorizationPolicies {names} matches {request.client.describe()}",
        names,
        "mesh-authz",
    )


def istio_verdict(
    view: ClusterView,
    client: Endpoint,
    server: Endpoint,
    port: int,
    protocol: str = "tcp",
    *,
    method: str = "GET",
    path: str = "/",
    host: str = "",
) -> Verdict:
    """mTLS, then authorization, for a connection to a pod (no sidecar: nothing enforced)."""
    if server.pod is None or not server.has_proxy("istio-proxy"):
        return Verdict.ok("no sidecar on the server: Istio enforces nothing")
    mtls = client_sends_mtls(view, client, server, port)
    mode, source = peer_authentication_mode(view, server.pod, port)
    if mode == "STRICT" and not mtls:
        if not client.has_proxy("istio-proxy"):
            reason = f"{client.describe()} has no sidecar to present a certificate"
        else:
            reason = (
                f"{server.describe()} lacks the security.istio.io/tlsMode label, so "
                f"{client.describe()}'s sidecar sends it plaintext"
            )
        return Verdict.denied(f"mTLS STRICT ({source}) and {reason}", source, "mtls")
    request = Request(client, server, port, protocol, mtls, method, path, host)
    return authorization_verdict(view, request)
