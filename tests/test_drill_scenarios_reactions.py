"""Reactions: what the team changes in the cluster changes what the drill plays."""

from __future__ import annotations

import copy
from collections.abc import Callable

from actions.drill import events as ev
from actions.drill.network import (
    ClusterView,
    Endpoint,
    connection_verdict,
    ip_in_block,
    network_verdict,
)

ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p"
TTS_ROUTER = "tts-router-7c9d8b6f4-x7p2q"


def isolation(app: str, name: str = "emergency-isolation-1741943520") -> dict:
    """The runbook's emergency isolation policy, as its script writes it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": "voicehive",
            "labels": {"emergency": "true", "created-by": "incident-response"},
        },
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def when_played(drill, inject_id: str, action: Callable[[], None], *, repetition: int = 0) -> None:
    """Run action (a cluster change) right after the given play of an inject."""
    seen = {"count": 0}

    def callback(event) -> None:
        if event.inject_id == inject_id and event.kind in (ev.INJECT, ev.SUPPRESSED):
            if seen["count"] == repetition:
                action()
            seen["count"] += 1

    drill.player.subscribe(callback)


def plays(drill, inject_id: str, kind: str) -> list:
    return [e for e in drill.player.history if e.inject_id == inject_id and e.kind == kind]


def orchestrator_alerts(drill) -> list[str]:
    return [
        line
        for line in drill.state.logs_of("falco-system", "falco-7xk2p")
        if line.startswith("{") and ORCHESTRATOR in line
    ]


async def test_isolation_stops_a_pods_alerts_and_traffic_and_deleting_it_restores(
    drill_factory,
) -> None:
    drill = await drill_factory("dns-exfiltration", speed=5000)
    state = drill.state
    when_played(drill, "https-upload-starts", lambda: state.create(isolation("orchestrator")))
    when_played(
        drill,
        "dig-again",
        lambda: state.delete(
            "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "emergency-isolation-1741943520"
        ),
        repetition=8,
    )
    await drill.play()

    reactions = [e.summary for e in drill.player.history if e.kind == ev.REACTION]
    assert any(
        f"{ORCHESTRATOR} is isolated by NetworkPolicy emergency-isolation-1741943520" in r
        for r in reactions
    )
    assert any(f"{ORCHESTRATOR} is no longer isolated" in r for r in reactions)
    assert any("traffic flow gateway-to-orchestrator stopped" in r for r in reactions)
    assert any("traffic flow gateway-to-orchestrator flows again" in r for r in reactions)

    # While isolated (300 s .. the 9th repeat of dig-again at 840 s) the orchestrator is silent.
    suppressed = [e for e in drill.player.history if e.kind == ev.SUPPRESSED]
    assert suppressed
    assert all(300 <= e.at <= 840 for e in suppressed)
    assert all(
        "isolated by NetworkPolicy emergency-isolation-1741943520" in e.summary for e in suppressed
    )
    tunnel = plays(drill, "tunnel-queries", ev.INJECT) + plays(
        drill, "tunnel-queries", ev.SUPPRESSED
    )
    assert {e.kind for e in tunnel if 300 < e.at < 840} == {ev.SUPPRESSED}
    assert {e.kind for e in tunnel if e.at > 840} == {ev.INJECT}  # the foothold was never removed
    alert_times = [
        e.at
        for e in drill.player.history
        if e.kind == ev.INJECT and e.inject_id in ("dig-again", "upload-connection")
    ]
    assert alert_times
    assert not [t for t in alert_times if 300 < t < 840]
    assert len(orchestrator_alerts(drill)) == len(
        [
            e
            for e in drill.player.history
            if e.kind == ev.INJECT
            and e.inject_id in ("first-dig", "dig-again", "api-recon", "upload-connection")
        ]
    )


async def test_isolation_stops_traffic_counters_in_prometheus(drill_factory, manual_clock) -> None:
    drill = await drill_factory("dns-exfiltration", clock=manual_clock, speed=1)
    query = (
        "sum by (destination_service_name) (rate(istio_requests_total{"
        'reporter="destination",destination_app="orchestrator",response_code="200"}[1m]))'
    )

    def rate() -> float:
        result = drill.engine.metrics(query, manual_clock.now().timestamp())["result"]
        return sum(float(r["value"][1]) for r in result)

    manual_clock.advance(120)
    assert rate() == 24 + 2  # api-gateway and pms-connector
    drill.state.create(isolation("orchestrator"))
    manual_clock.advance(120)
    assert rate() == 0
    failures = drill.engine.metrics(
        'sum(rate(istio_requests_total{source_app="api-gateway",destination_app="orchestrator",response_code="503"}[1m]))',
        manual_clock.now().timestamp(),
    )["result"]
    assert float(failures[0]["value"][1]) == 24  # the gateway's sidecar sees upstream failures
    drill.state.delete(
        "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "emergency-isolation-1741943520"
    )
    manual_clock.advance(120)
    assert rate() == 26


async def test_an_ip_in_the_except_list_stops_its_flows_and_alerts_only(drill_factory) -> None:
    drill = await drill_factory("suspicious-external-ip", speed=5000)
    state = drill.state

    def block() -> None:
        policy = copy.deepcopy(
            state.get(
                "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "external-api-segmentation"
            )
        )
        policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].append("203.0.113.66/32")
        state.replace(policy)

    when_played(drill, "first-beacon", block, repetition=4)
    await drill.play()

    reactions = [e.summary for e in drill.player.history if e.kind == ev.REACTION]
    assert any(
        f"egress from {TTS_ROUTER} to 203.0.113.66:8443 is now blocked by external-api-segmentation"
        in r
        for r in reactions
    )
    assert any("traffic flow beacon stopped" in r for r in reactions)
    beacons = plays(drill, "first-beacon", ev.INJECT)
    blocked = plays(drill, "first-beacon", ev.SUPPRESSED)
    assert len(beacons) == 5
    assert blocked
    assert min(e.at for e in blocked) > max(e.at for e in beacons)
    assert plays(drill, "reverse-shell", ev.INJECT) == []  # the later shell needs that address too
    # The vendor's address is untouched: its alerts and its traffic go on.
    assert plays(drill, "vendor-traffic-is-normal", ev.SUPPRESSED) == []
    assert drill.engine.traffic.flowing("tts-to-vendor")
    assert not drill.engine.traffic.flowing("beacon")
    assert any(
        o.action == "block-ip" and o.target == "203.0.113.66" for o in drill.engine.observations
    )


async def test_an_istio_deny_policy_stops_mesh_traffic_and_deleting_it_restores(
    drill_factory, manual_clock
) -> None:
    drill = await drill_factory("dns-exfiltration", clock=manual_clock)
    deny = {
        "apiVersion": "security.istio.io/v1beta1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "emergency-deny-1741943520", "namespace": "voicehive"},
        "spec": {"selector": {"matchLabels": {"app": "orchestrator"}}},
    }
    drill.state.create(deny)
    assert not drill.engine.traffic.flowing("gateway-to-orchestrator")
    assert drill.engine.traffic.verdict("gateway-to-orchestrator").layer == "mesh-authz"
    assert drill.engine.traffic.flowing("orchestrator-to-tts")  # the policy guards inbound only
    manual_clock.advance(120)
    denied = drill.engine.metrics(
        'sum(rate(istio_requests_total{reporter="destination",destination_app="orchestrator",response_code="403"}[1m]))',
        manual_clock.now().timestamp(),
    )["result"]
    assert float(denied[0]["value"][1]) == 26
    assert any(
        o.action == "mesh-deny" and o.target == "orchestrator" for o in drill.engine.observations
    )
    drill.state.delete(
        "security.istio.io/v1beta1", "AuthorizationPolicy", "voicehive", "emergency-deny-1741943520"
    )
    assert drill.engine.traffic.flowing("gateway-to-orchestrator")


async def test_mtls_strict_breaks_what_cannot_do_mtls_until_fixed(drill_factory) -> None:
    drill = await drill_factory("mtls-failure", speed=5000)
    state = drill.state

    def permissive() -> None:
        policy = copy.deepcopy(
            state.get("security.istio.io/v1", "PeerAuthentication", "voicehive", "default")
        )
        policy["spec"]["mtls"]["mode"] = "PERMISSIVE"
        state.replace(policy)

    traffic = drill.engine.traffic
    flows = (
        "booking-to-orchestrator",
        "gateway-to-orchestrator",
        "orchestrator-to-tts",
        "gateway-to-booking",
    )
    seen: dict[str, object] = {}

    def look() -> None:
        seen.update({f: traffic.flowing(f) for f in flows})
        seen["why"] = traffic.verdict("orchestrator-to-tts").why

    when_played(drill, "booking-unready", look)
    when_played(drill, "orchestrator-synced", permissive)
    await drill.play()
    why = seen.pop("why")
    # No sidecar on the client, or no tlsMode label on the server: refused. booking-service has
    # no sidecar to enforce STRICT, so the gateway still reaches it.
    assert seen == {
        "booking-to-orchestrator": False,
        "gateway-to-orchestrator": False,
        "orchestrator-to-tts": False,
        "gateway-to-booking": True,
    }
    assert "lacks the security.istio.io/tlsMode label" in str(why)
    assert all(traffic.flowing(f) for f in flows)
    observed = {(o.action, o.target) for o in drill.engine.observations}
    assert ("fix-config", "peerauthentication/default") in observed
    assert ("flow-restored", "booking-to-orchestrator") in observed


async def test_mtls_failures_show_as_source_503s_on_several_services(
    drill_factory, manual_clock
) -> None:
    """What the live traffic source's mTLS query sees (actions/sources/traffic.py)."""
    from actions.sources.traffic import MTLS_FAILURES, PLAINTEXT

    drill = await drill_factory("mtls-failure", clock=manual_clock)

    def by_service(query: str) -> dict[str, float]:
        data = drill.engine.metrics(query, manual_clock.now().timestamp())
        return {
            r["metric"].get("destination_service_name")
            or r["metric"]["destination_workload"]: float(r["value"][1])
            for r in data["result"]
        }

    manual_clock.advance(600)
    assert by_service(MTLS_FAILURES) == {}
    assert by_service(PLAINTEXT) == {"orchestrator": 30.0, "tts-router": 11.0}
    drill.state.apply(drill.scenario.injects[0].spec["object"])  # STRICT, as the inject does
    manual_clock.advance(600)
    assert by_service(MTLS_FAILURES) == {"orchestrator": 24.0, "tts-router": 11.0}
    assert by_service(PLAINTEXT) == {"orchestrator": 0.0, "tts-router": 0.0}


async def test_removing_the_foothold_ends_the_attack_for_good(drill_factory) -> None:
    drill = await drill_factory("dns-exfiltration", speed=5000)
    state = drill.state
    when_played(
        drill,
        "api-recon",
        lambda: state.delete("v1", "Secret", "voicehive", "orchestrator-token-x7k2p"),
    )
    await drill.play()
    after = [e for e in drill.player.history if e.at > 150 and e.malicious]
    assert after
    assert all(e.kind == ev.SUPPRESSED for e in after)
    assert all("eradicated" in e.summary for e in after)
    assert plays(drill, "normal-lookup", ev.SUPPRESSED) == []  # ordinary DNS goes on
    assert not drill.engine.traffic.flowing("exfil-https")
    assert any(o.action == "eradicated" for o in drill.engine.observations)


async def test_drift_undone_is_observed_as_fixed(drill_factory) -> None:
    drill = await drill_factory("network-policy-drift", speed=5000)
    state = drill.state
    original = copy.deepcopy(
        state.get("networking.k8s.io/v1", "NetworkPolicy", "voicehive", "tts-router-ingress")
    )

    def restore() -> None:
        state.create(
            {k: v for k, v in original.items() if k != "status"}
            | {
                "metadata": {
                    "name": "tts-router-ingress",
                    "namespace": "voicehive",
                    "labels": original["metadata"]["labels"],
                }
            }
        )

    when_played(drill, "delete-event", restore)
    await drill.play()
    observed = {(o.action, o.target) for o in drill.engine.observations}
    assert ("fix-config", "networkpolicy/tts-router-ingress") in observed
    assert ("fix-config", "networkpolicy/external-api-segmentation") not in observed


def _policy(spec: dict, name: str = "p", namespace: str = "voicehive") -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _pod(name: str, labels: dict, namespace: str = "voicehive", ip: str = "10.42.0.9") -> Endpoint:
    return Endpoint(
        ip=ip,
        pod={
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"podIP": ip},
        },
    )


def _view(*policies: dict, namespaces: dict[str, dict] | None = None) -> ClusterView:
    namespaces = namespaces or {}

    def list_objects(api_version: str, kind: str, namespace: str | None) -> list[dict]:
        if kind == "NetworkPolicy":
            return [p for p in policies if p["metadata"]["namespace"] == namespace]
        if kind == "Namespace":
            return [{"metadata": {"name": n, "labels": labels}} for n, labels in namespaces.items()]
        return []

    return ClusterView(list_objects)


def test_ip_blocks_honour_cidr_and_except() -> None:
    block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "203.0.113.66/32"]}
    assert ip_in_block("198.51.100.20", block)
    assert not ip_in_block("203.0.113.66", block)
    assert ip_in_block("203.0.113.67", block)
    assert not ip_in_block("10.42.1.17", block)
    assert not ip_in_block("2001:db8::1", block)  # an IPv4 cidr never admits IPv6
    assert not ip_in_block("not-an-ip", block)


def test_egress_rules_add_up_and_ports_and_selectors_count() -> None:
    orchestrator = _pod("orchestrator-1", {"app": "orchestrator", "tier": "core"})
    egress_https = _policy(
        {
            "podSelector": {
                "matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["orchestrator"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ]
            },
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["203.0.113.0/24"]}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
        name="https",
    )
    view = _view(egress_https)
    assert network_verdict(view, orchestrator, Endpoint("198.51.100.20"), 443).allowed
    assert not network_verdict(view, orchestrator, Endpoint("198.51.100.20"), 80).allowed
    assert not network_verdict(view, orchestrator, Endpoint("203.0.113.66"), 443).allowed
    # A second policy allowing that range wins: NetworkPolicies add up.
    allow_range = _policy(
        {
            "podSelector": {"matchLabels": {"tier": "core"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}],
        },
        name="range",
    )
    assert network_verdict(
        _view(egress_https, allow_range), orchestrator, Endpoint("203.0.113.66"), 443
    ).allowed
    # A pod the selector does not pick is not restricted at all.
    legacy = _pod("orchestrator-legacy", {"app": "orchestrator", "legacy": "yes"})
    assert network_verdict(view, legacy, Endpoint("203.0.113.66"), 25).allowed


def test_ingress_peers_need_the_right_namespace_and_pod() -> None:
    tts = _pod("tts-1", {"app": "tts-router"}, ip="10.42.2.31")
    policy = _policy(
        {
            "podSelector": {"matchLabels": {"app": "tts-router"}},
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "orchestrator"}}},
                        {
                            "namespaceSelector": {"matchLabels": {"team": "sre"}},
                            "podSelector": {"matchLabels": {"app": "prober"}},
                        },
                    ]
                }
            ],
        }
    )
    view = _view(policy, namespaces={"voicehive": {}, "tools": {"team": "sre"}, "other": {}})
    assert connection_verdict(view, "none", _pod("o", {"app": "orchestrator"}), tts, 8080).allowed
    assert not connection_verdict(
        view, "none", _pod("g", {"app": "api-gateway"}), tts, 8080
    ).allowed
    assert connection_verdict(
        view, "none", _pod("p", {"app": "prober"}, "tools"), tts, 8080
    ).allowed
    assert not connection_verdict(
        view, "none", _pod("p", {"app": "prober"}, "other"), tts, 8080
    ).allowed
    # A podSelector alone means the policy's own namespace.
    assert not connection_verdict(
        view, "none", _pod("o", {"app": "orchestrator"}, "tools"), tts, 8080
    ).allowed


async def test_linkerd_server_authorizations_decide_who_reaches_a_server(drill_factory) -> None:
    drill = await drill_factory("network-policy-drift")
    traffic = drill.engine.traffic
    assert traffic.flowing("orchestrator-to-booking")
    assert traffic.flowing("gateway-to-booking")
    authorization = copy.deepcopy(
        drill.state.get(
            "policy.linkerd.io/v1beta1",
            "ServerAuthorization",
            "voicehive",
            "booking-service-clients",
        )
    )
    authorization["spec"]["client"]["meshTLS"]["serviceAccounts"] = [{"name": "api-gateway"}]
    drill.state.replace(authorization)
    assert not traffic.flowing("orchestrator-to-booking")
    assert traffic.verdict("orchestrator-to-booking").layer == "mesh-authz"
    assert "booking-service-server" in traffic.verdict("orchestrator-to-booking").why
    assert traffic.flowing("gateway-to-booking")
    drill.state.delete(
        "policy.linkerd.io/v1beta1", "ServerAuthorization", "voicehive", "booking-service-clients"
    )
    assert not traffic.flowing("gateway-to-booking")  # a Server with no authorization admits no one
    drill.state.delete("policy.linkerd.io/v1beta3", "Server", "voicehive", "booking-service-server")
    assert traffic.flowing("gateway-to-booking")  # no Server: the proxy's default lets it through
