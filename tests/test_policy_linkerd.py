"""Linkerd inbound policy semantics (actions/policy/linkerd.py)."""

from __future__ import annotations

from typing import Any

from actions.policy import ClusterView, Endpoint
from actions.policy.linkerd import linkerd_verdict

NS = "voicehive"


def pod(
    name: str,
    app: str,
    ip: str,
    *,
    meshed: bool = True,
    sa: str | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str = NS,
) -> dict[str, Any]:
    containers = [{"name": app, "ports": [{"name": "http", "containerPort": 8080}]}]
    if meshed:
        containers.insert(0, {"name": "linkerd-proxy"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app},
            "annotations": annotations or {},
        },
        "spec": {"containers": containers, "serviceAccountName": sa or app},
        "status": {"podIP": ip},
    }


def obj(
    kind: str,
    name: str,
    spec: dict[str, Any],
    version: str = "v1beta1",
    namespace: str = NS,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": f"policy.linkerd.io/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": spec,
    }


BOOKING = pod("booking", "booking-service", "10.42.2.45")
GATEWAY = pod("gw", "api-gateway", "10.42.3.12")
ORCHESTRATOR = pod("orch", "orchestrator", "10.42.1.17")
UNMESHED = pod("legacy", "legacy", "10.42.9.9", meshed=False)
SERVER = obj(
    "Server",
    "booking-service-server",
    {"podSelector": {"matchLabels": {"app": "booking-service"}}, "port": 8080},
    version="v1beta3",
    labels={"tier": "data"},
)


def verdict(
    *objects: dict[str, Any],
    client: dict[str, Any],
    server: dict[str, Any] = BOOKING,
    port: int = 8080,
    namespaces: list[dict[str, Any]] | None = None,
) -> Any:
    cluster = ClusterView.of([*(namespaces or []), *objects])
    return linkerd_verdict(cluster, Endpoint.of_pod(client), Endpoint.of_pod(server), port)


def test_without_a_server_the_default_policy_decides() -> None:
    assert verdict(client=UNMESHED).allowed  # all-unauthenticated by default
    strict = pod(
        "booking2",
        "booking-service",
        "10.42.2.46",
        annotations={"config.linkerd.io/default-inbound-policy": "all-authenticated"},
    )
    assert verdict(client=GATEWAY, server=strict).allowed
    assert not verdict(client=UNMESHED, server=strict).allowed
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NS,
            "annotations": {"config.linkerd.io/default-inbound-policy": "deny"},
        },
    }
    denied = verdict(client=GATEWAY, namespaces=[namespace])
    assert not denied.allowed
    assert "default policy deny" in denied.why


def test_a_server_with_no_authorization_denies_unless_its_access_policy_allows() -> None:
    denied = verdict(SERVER, client=GATEWAY)
    assert not denied.allowed
    assert "accessPolicy deny" in denied.why
    audit = obj(
        "Server",
        "booking-service-server",
        {**SERVER["spec"], "accessPolicy": "audit"},
        version="v1beta3",
    )
    assert verdict(audit, client=GATEWAY).allowed
    assert verdict(SERVER, client=GATEWAY, port=9090).allowed  # another port: no Server


def test_a_server_selects_named_ports() -> None:
    named = obj(
        "Server",
        "by-name",
        {"podSelector": {"matchLabels": {"app": "booking-service"}}, "port": "http"},
        version="v1beta3",
    )
    assert not verdict(named, client=GATEWAY).allowed


def test_server_authorizations_by_service_account_identity_selector_and_unauthenticated() -> None:
    by_sa = obj(
        "ServerAuthorization",
        "clients",
        {
            "server": {"name": "booking-service-server"},
            "client": {"meshTLS": {"serviceAccounts": [{"name": "api-gateway"}]}},
        },
    )
    assert verdict(SERVER, by_sa, client=GATEWAY).allowed
    assert not verdict(SERVER, by_sa, client=ORCHESTRATOR).allowed
    by_identity = obj(
        "ServerAuthorization",
        "ids",
        {
            "server": {"selector": {"matchLabels": {"tier": "data"}}},
            "client": {
                "meshTLS": {
                    "identities": ["*.voicehive.serviceaccount.identity.linkerd.cluster.local"]
                }
            },
        },
    )
    assert verdict(SERVER, by_identity, client=ORCHESTRATOR).allowed
    assert not verdict(SERVER, by_identity, client=UNMESHED).allowed
    anyone = obj(
        "ServerAuthorization",
        "any",
        {"server": {"name": "booking-service-server"}, "client": {"unauthenticated": True}},
    )
    assert verdict(SERVER, anyone, client=UNMESHED).allowed
    other_ns_sa = obj(
        "ServerAuthorization",
        "other-ns",
        {
            "server": {"name": "booking-service-server"},
            "client": {
                "meshTLS": {"serviceAccounts": [{"name": "api-gateway", "namespace": "tools"}]}
            },
        },
    )
    assert not verdict(SERVER, other_ns_sa, client=GATEWAY).allowed


def test_server_authorization_networks_limit_client_addresses() -> None:
    narrow = obj(
        "ServerAuthorization",
        "net",
        {
            "server": {"name": "booking-service-server"},
            "client": {"unauthenticated": True, "networks": [{"cidr": "10.42.3.0/24"}]},
        },
    )
    assert verdict(SERVER, narrow, client=GATEWAY).allowed
    assert not verdict(SERVER, narrow, client=ORCHESTRATOR).allowed


def test_authorization_policies_need_every_required_authentication() -> None:
    mtls = obj(
        "MeshTLSAuthentication",
        "gateway-id",
        {"identityRefs": [{"kind": "ServiceAccount", "name": "api-gateway"}]},
        version="v1alpha1",
    )
    network = obj(
        "NetworkAuthentication",
        "pods",
        {"networks": [{"cidr": "10.42.0.0/16"}]},
        version="v1alpha1",
    )
    policy = obj(
        "AuthorizationPolicy",
        "gw",
        {
            "targetRef": {
                "group": "policy.linkerd.io",
                "kind": "Server",
                "name": "booking-service-server",
            },
            "requiredAuthenticationRefs": [
                {
                    "group": "policy.linkerd.io",
                    "kind": "MeshTLSAuthentication",
                    "name": "gateway-id",
                },
                {"group": "policy.linkerd.io", "kind": "NetworkAuthentication", "name": "pods"},
            ],
        },
        version="v1alpha1",
    )
    assert verdict(SERVER, mtls, network, policy, client=GATEWAY).allowed
    assert not verdict(SERVER, mtls, network, policy, client=ORCHESTRATOR).allowed
    nobody = obj(
        "MeshTLSAuthentication",
        "nobody",
        {"identities": ["nobody.emergency-deny.invalid"]},
        version="v1alpha1",
    )
    emergency = obj(
        "AuthorizationPolicy",
        "emergency",
        {
            "targetRef": {
                "group": "policy.linkerd.io",
                "kind": "Server",
                "name": "booking-service-server",
            },
            "requiredAuthenticationRefs": [
                {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "nobody"}
            ],
        },
        version="v1alpha1",
    )
    assert not verdict(SERVER, nobody, emergency, client=GATEWAY).allowed
    namespace_wide = obj(
        "AuthorizationPolicy",
        "ns",
        {"targetRef": {"kind": "Namespace", "name": NS}, "requiredAuthenticationRefs": []},
        version="v1alpha1",
    )
    assert verdict(SERVER, namespace_wide, client=UNMESHED).allowed


def test_only_meshed_servers_enforce() -> None:
    unmeshed_server = pod("plain", "booking-service", "10.42.2.47", meshed=False)
    assert verdict(SERVER, client=GATEWAY, server=unmeshed_server).allowed
