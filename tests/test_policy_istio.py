"""Istio AuthorizationPolicy and PeerAuthentication semantics (actions/policy/istio.py)."""

from __future__ import annotations

from typing import Any

from actions.policy import ClusterView, Endpoint
from actions.policy.istio import istio_verdict, peer_authentication_mode
from actions.policy.reachability import connection_verdict

NS = "voicehive"


def pod(
    name: str,
    app: str,
    ip: str,
    *,
    sidecar: bool = True,
    tls_label: bool = True,
    namespace: str = NS,
    sa: str | None = None,
) -> dict[str, Any]:
    labels = {"app": app}
    containers = [{"name": app}]
    if sidecar:
        containers.append({"name": "istio-proxy"})
        if tls_label:
            labels["security.istio.io/tlsMode"] = "istio"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": containers, "serviceAccountName": sa or app},
        "status": {"podIP": ip},
    }


def authz(
    name: str, spec: dict[str, Any], namespace: str = NS, created: str = ""
) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": spec,
    }


def peer(
    name: str,
    mode: str,
    namespace: str = NS,
    selector: dict[str, Any] | None = None,
    ports: dict[str, str] | None = None,
    created: str = "",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"mtls": {"mode": mode}}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {port: {"mode": m} for port, m in ports.items()}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": spec,
    }


GATEWAY = pod("gw", "api-gateway", "10.42.3.12")
ORCHESTRATOR = pod("orch", "orchestrator", "10.42.1.17")
BOOKING = pod("booking", "booking-service", "10.42.2.45")
PMS_NO_SIDECAR = pod("pms", "pms-connector", "10.42.3.27", sidecar=False)
ONLY_GATEWAY = {"from": [{"source": {"principals": ["cluster.local/ns/voicehive/sa/api-gateway"]}}]}


def check(
    *objects: dict[str, Any],
    client: dict[str, Any],
    server: dict[str, Any],
    port: int = 8080,
    protocol: str = "http",
) -> Any:
    cluster = ClusterView.of(list(objects))
    return istio_verdict(cluster, Endpoint.of_pod(client), Endpoint.of_pod(server), port, protocol)


def test_no_policy_allows_and_an_allow_policy_with_no_rules_allows_nothing() -> None:
    assert check(client=GATEWAY, server=BOOKING).allowed
    nothing = authz("emergency-deny", {"selector": {"matchLabels": {"app": "booking-service"}}})
    verdict = check(nothing, client=GATEWAY, server=BOOKING)
    assert not verdict.allowed
    assert verdict.layer == "mesh-authz"


def test_allow_policies_are_ored_so_an_emergency_deny_does_not_beat_another_allow() -> None:
    allow = authz(
        "booking-allow",
        {"selector": {"matchLabels": {"app": "booking-service"}}, "rules": [ONLY_GATEWAY]},
    )
    nothing = authz("emergency-deny", {"selector": {"matchLabels": {"app": "booking-service"}}})
    assert check(allow, nothing, client=GATEWAY, server=BOOKING).allowed
    assert not check(allow, nothing, client=ORCHESTRATOR, server=BOOKING).allowed


def test_deny_wins_over_allow_and_custom_without_a_provider_denies() -> None:
    allow_all = authz("allow-all", {"rules": [{}]})
    deny = authz("deny-gw", {"action": "DENY", "rules": [ONLY_GATEWAY]})
    verdict = check(allow_all, deny, client=GATEWAY, server=BOOKING)
    assert not verdict.allowed
    assert "voicehive/deny-gw" in verdict.why
    custom = authz(
        "ext", {"action": "CUSTOM", "provider": {"name": "opa"}, "rules": [ONLY_GATEWAY]}
    )
    verdict = check(allow_all, custom, client=GATEWAY, server=BOOKING)
    assert not verdict.allowed
    assert "CUSTOM" in verdict.why
    assert check(allow_all, custom, client=ORCHESTRATOR, server=BOOKING).allowed
    audit = authz("audit", {"action": "AUDIT", "rules": [{}]})
    assert check(audit, client=GATEWAY, server=BOOKING).allowed


def test_policies_bind_by_namespace_selector_and_root_namespace() -> None:
    elsewhere = authz("deny-all-elsewhere", {}, namespace="tools")
    assert check(elsewhere, client=GATEWAY, server=BOOKING).allowed
    namespace_wide = authz("ns-nothing", {})
    assert not check(namespace_wide, client=GATEWAY, server=BOOKING).allowed
    mesh_wide = authz("mesh-nothing", {}, namespace="istio-system")
    assert not check(mesh_wide, client=GATEWAY, server=BOOKING).allowed
    other_workload = authz("tts-nothing", {"selector": {"matchLabels": {"app": "tts-router"}}})
    assert check(other_workload, client=GATEWAY, server=BOOKING).allowed
    waypoint = authz("waypoint", {"targetRefs": [{"kind": "Gateway", "name": "w"}]})
    assert check(waypoint, client=GATEWAY, server=BOOKING).allowed


def test_only_traffic_through_a_sidecar_is_affected() -> None:
    nothing = authz("nothing", {})
    no_sidecar_server = pod("legacy", "legacy", "10.42.9.9", sidecar=False)
    assert check(nothing, client=GATEWAY, server=no_sidecar_server).allowed


def test_principals_and_namespaces_need_mtls() -> None:
    allow = authz(
        "booking-allow",
        {
            "selector": {"matchLabels": {"app": "booking-service"}},
            "rules": [{"from": [{"source": {"namespaces": ["voicehive"]}}]}],
        },
    )
    assert check(allow, client=GATEWAY, server=BOOKING).allowed
    # Plaintext (no sidecar on the client) carries no principal and no namespace.
    assert not check(allow, client=PMS_NO_SIDECAR, server=BOOKING).allowed
    # A server without the tlsMode label gets plaintext from the client's sidecar too.
    unlabelled = pod("booking2", "booking-service", "10.42.2.46", tls_label=False)
    assert not check(allow, client=GATEWAY, server=unlabelled).allowed
    ips = authz("by-ip", {"rules": [{"from": [{"source": {"ipBlocks": ["10.42.3.0/24"]}}]}]})
    assert check(ips, client=PMS_NO_SIDECAR, server=BOOKING).allowed


def test_operations_and_conditions() -> None:
    port_rule = authz("port", {"rules": [{"to": [{"operation": {"ports": ["9090"]}}]}]})
    assert not check(port_rule, client=GATEWAY, server=BOOKING).allowed
    assert check(port_rule, client=GATEWAY, server=BOOKING, port=9090).allowed
    methods = authz("get-only", {"rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
    assert check(methods, client=GATEWAY, server=BOOKING).allowed
    post = authz("post-only", {"rules": [{"to": [{"operation": {"methods": ["POST"]}}]}]})
    assert not check(post, client=GATEWAY, server=BOOKING).allowed
    when = authz(
        "when", {"rules": [{"when": [{"key": "source.namespace", "values": ["voicehive"]}]}]}
    )
    assert check(when, client=GATEWAY, server=BOOKING).allowed
    not_when = authz(
        "not-when", {"rules": [{"when": [{"key": "source.ip", "notValues": ["10.42.3.0/24"]}]}]}
    )
    assert not check(not_when, client=GATEWAY, server=BOOKING).allowed


def test_http_only_fields_on_tcp_traffic_never_allow_but_still_deny() -> None:
    allow_get = authz("get-only", {"rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
    assert check(allow_get, client=GATEWAY, server=BOOKING).allowed
    assert not check(allow_get, client=GATEWAY, server=BOOKING, protocol="tcp").allowed
    deny_post = authz(
        "deny-post", {"action": "DENY", "rules": [{"to": [{"operation": {"methods": ["POST"]}}]}]}
    )
    assert check(deny_post, client=GATEWAY, server=BOOKING).allowed  # an HTTP GET
    assert not check(deny_post, client=GATEWAY, server=BOOKING, protocol="tcp").allowed


def test_peer_authentication_workload_then_namespace_then_mesh_and_ports() -> None:
    cluster = ClusterView.of(
        [
            peer("mesh", "STRICT", namespace="istio-system"),
            peer("ns", "PERMISSIVE"),
            peer(
                "booking", "UNSET", selector={"app": "booking-service"}, ports={"9090": "DISABLE"}
            ),
        ]
    )
    assert peer_authentication_mode(cluster, BOOKING, 8080)[0] == "PERMISSIVE"  # UNSET inherits
    assert peer_authentication_mode(cluster, BOOKING, 9090)[0] == "DISABLE"
    assert peer_authentication_mode(ClusterView.of([]), BOOKING, 8080) == (
        "PERMISSIVE",
        "the mesh default",
    )
    oldest = ClusterView.of(
        [
            peer("b", "PERMISSIVE", created="2026-02-01T00:00:00Z"),
            peer("a", "STRICT", created="2026-01-01T00:00:00Z"),
        ]
    )
    assert peer_authentication_mode(oldest, BOOKING, 8080)[0] == "STRICT"


def test_strict_refuses_plaintext_from_clients_without_sidecars_or_to_unlabelled_servers() -> None:
    strict = peer("default", "STRICT")
    verdict = check(strict, client=PMS_NO_SIDECAR, server=BOOKING)
    assert (verdict.allowed, verdict.layer) == (False, "mtls")
    assert "has no sidecar" in verdict.why
    unlabelled = pod("orch2", "orchestrator", "10.42.1.18", tls_label=False)
    verdict = check(strict, client=GATEWAY, server=unlabelled)
    assert "lacks the security.istio.io/tlsMode label" in verdict.why
    assert check(strict, client=GATEWAY, server=BOOKING).allowed
    assert check(peer("default", "PERMISSIVE"), client=PMS_NO_SIDECAR, server=BOOKING).allowed


def test_network_comes_before_the_mesh_and_udp_skips_the_mesh() -> None:
    cut = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": NS},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    cluster = ClusterView.of([cut, authz("nothing", {})])
    verdict = connection_verdict(
        cluster, "istio", Endpoint.of_pod(GATEWAY), Endpoint.of_pod(BOOKING), 8080, "TCP", "http"
    )
    assert verdict.layer == "network"
    open_cluster = ClusterView.of([authz("nothing", {})])
    assert connection_verdict(
        open_cluster, "istio", Endpoint.of_pod(GATEWAY), Endpoint.of_pod(BOOKING), 53, "UDP"
    ).allowed
