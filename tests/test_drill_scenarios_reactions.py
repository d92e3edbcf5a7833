"""Reactions: what the team changes in the cluster changes what the drill plays."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from actions.drill import events as ev
from actions.drill.engine import TICK_SECONDS
from actions.sources.hubble import HubbleFlow, parse_flow
from tests.isolation_helpers import cut_off, runbook_deny_all

ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p"
TTS_ROUTER = "tts-router-7c9d8b6f4-x7p2q"


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


def hubble_flows(drill) -> list[HubbleFlow]:
    """The DROPPED and DNS flows the drill's Hubble shows, as warroom's Hubble source reads them."""
    found = [parse_flow(line.encode()) for line in drill.engine.hubble.lines()]
    return [f for f in found if isinstance(f, HubbleFlow)]


async def test_the_runbooks_deny_all_alone_leaves_the_orchestrator_talking(drill_factory) -> None:
    """NetworkPolicies add up: external-api-segmentation still allows DNS and HTTPS out."""
    drill = await drill_factory("dns-exfiltration", speed=5000)
    when_played(
        drill, "https-upload-starts", lambda: drill.state.create(runbook_deny_all("orchestrator"))
    )
    await drill.play()

    reactions = [e.summary for e in drill.player.history if e.kind == ev.REACTION]
    leak = next(r for r in reactions if "NetworkPolicies add up" in r)
    assert "external-api-segmentation" in leak
    assert "orchestrator-ingress" in leak
    assert plays(drill, "tunnel-queries", ev.SUPPRESSED) == []
    assert plays(drill, "upload-connection", ev.SUPPRESSED) == []
    assert drill.engine.traffic.flowing("exfil-https")
    assert drill.engine.traffic.flowing("gateway-to-orchestrator")
    assert not any(o.action == "isolate" for o in drill.engine.observations)


async def test_cutting_the_orchestrator_off_stops_its_traffic_not_its_attempts(
    drill_factory,
) -> None:
    drill = await drill_factory("dns-exfiltration", speed=5000)
    state = drill.state
    when_played(drill, "https-upload-starts", lambda: cut_off(state, "orchestrator"))
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
        f"{ORCHESTRATOR} is cut off by NetworkPolicy emergency-isolation-1741943520" in r
        for r in reactions
    )
    assert any("traffic flow gateway-to-orchestrator stopped" in r for r in reactions)
    assert any(
        o.action == "isolate" and o.target == "orchestrator" for o in drill.engine.observations
    )
    # The tunnel's queries never reach kube-dns while cut off (300 s .. 840 s) ...
    tunnel = plays(drill, "tunnel-queries", ev.INJECT) + plays(
        drill, "tunnel-queries", ev.SUPPRESSED
    )
    assert {e.kind for e in tunnel if 300 < e.at < 840} == {ev.SUPPRESSED}
    # ... but the code keeps running: Falco still sees dig, and the upload's connect().
    assert {e.kind for e in plays(drill, "dig-again", ev.INJECT) if 300 < e.at < 840} == {ev.INJECT}
    assert all(e.at < 300 or e.at > 840 for e in plays(drill, "upload-connection", ev.INJECT))
    dropped = [f for f in hubble_flows(drill) if f.verdict == "DROPPED"]
    assert {(f.destination_port, f.protocol) for f in dropped} >= {(53, "UDP"), (443, "TCP")}
    assert all(
        f.source == f"voicehive/{ORCHESTRATOR}" or f.destination == f"voicehive/{ORCHESTRATOR}"
        for f in dropped
    )
    # Deleting the deny-all opens the pod completely: no policy selects it any more.
    assert any(f"{ORCHESTRATOR} is no longer cut off" in r for r in reactions)
    assert {e.kind for e in tunnel if e.at > 840} == {ev.INJECT}


async def test_a_new_flow_shows_in_rate_5m_within_two_scrapes(drill_factory, manual_clock) -> None:
    """Real Prometheus extrapolates over the samples it has: no 5-minute blind spot."""
    drill = await drill_factory("dns-exfiltration", clock=manual_clock)
    query = (
        "sum(rate(istio_tcp_sent_bytes_total"
        '{destination_service="upload.cdn-telemetry.example.net"}[5m]))'
    )

    def rate() -> float:
        result = drill.engine.metrics(query, manual_clock.now().timestamp())["result"]
        return float(result[0]["value"][1]) if result else 0.0

    manual_clock.advance(60)
    drill.engine.traffic.set_wanted("exfil-https", manual_clock.now().timestamp(), active=True)
    manual_clock.advance(TICK_SECONDS)  # one scrape with the new series: no rate yet
    assert rate() == 0.0
    manual_clock.advance(2 * TICK_SECONDS)
    assert rate() > 1850000 * 30 / 300 * 0.9  # about half a minute of 1.85 MB/s over 5 minutes
    manual_clock.advance(300)
    assert rate() == pytest.approx(1850000, rel=0.01)


async def test_cut_off_stops_traffic_counters_in_prometheus(drill_factory, manual_clock) -> None:
    drill = await drill_factory("dns-exfiltration", clock=manual_clock, speed=1)
    query = (
        "sum by (destination_service_name) (rate(istio_requests_total{"
        'reporter="destination",destination_app="orchestrator",response_code="200"}[1m]))'
    )

    def rate() -> float:
        result = drill.engine.metrics(query, manual_clock.now().timestamp())["result"]
        return sum(float(r["value"][1]) for r in result)

    manual_clock.advance(120)
    assert rate() == pytest.approx(24 + 2)  # api-gateway and pms-connector
    cut_off(drill.state, "orchestrator")
    manual_clock.advance(120)
    assert rate() == 0
    failures = drill.engine.metrics(
        'sum(rate(istio_requests_total{source_app="api-gateway",destination_app="orchestrator",response_code="503"}[1m]))',
        manual_clock.now().timestamp(),
    )["result"]
    assert float(failures[0]["value"][1]) == pytest.approx(24)  # the gateway's sidecar: UF,URX
    drill.state.delete(
        "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "emergency-isolation-1741943520"
    )
    manual_clock.advance(120)
    assert rate() == pytest.approx(26)


async def test_the_reaction_shows_in_traffic_logs_hubble_and_metrics_within_one_tick(
    drill_factory, manual_clock
) -> None:
    drill = await drill_factory("dns-exfiltration", clock=manual_clock)
    engine = drill.engine
    manual_clock.advance(300)
    engine.traffic.set_wanted("exfil-https", manual_clock.now().timestamp(), active=True)
    engine.tick(300)
    assert engine.traffic.flowing("exfil-https")
    logged = len(drill.state.logs_of("voicehive", ORCHESTRATOR))
    flows = len(engine.hubble.lines())

    cut_off(drill.state, "orchestrator")
    assert not engine.traffic.flowing("exfil-https")  # the traffic: at once
    manual_clock.advance(TICK_SECONDS)
    engine.tick(300 + TICK_SECONDS)

    new_lines = drill.state.logs_of("voicehive", ORCHESTRATOR)[logged:]
    assert any(
        "telemetry.exporter upload to upload.cdn-telemetry.example.net:443 failed" in line
        for line in new_lines
    )
    new_flows = [parse_flow(line.encode()) for line in engine.hubble.lines()[flows:]]
    assert any(
        isinstance(f, HubbleFlow) and f.verdict == "DROPPED" and f.destination_ip == "203.0.113.66"
        for f in new_flows
    )
    failing = engine.metrics(
        'istio_requests_total{source_app="api-gateway",destination_app="orchestrator",response_code="503"}',
        manual_clock.now().timestamp(),
    )["result"]
    assert failing
    assert float(failing[0]["value"][1]) > 0


async def test_a_blocked_address_stops_its_flow_not_the_attempts_falco_sees(drill_factory) -> None:
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
    # The SDK keeps trying: every beacon still raises Falco's connect() alert, now dropped.
    beacons = plays(drill, "first-beacon", ev.INJECT)
    assert len(beacons) == 15
    assert plays(drill, "first-beacon", ev.SUPPRESSED) == []
    assert all("the connection is dropped" in e.summary for e in beacons[5:])
    # A shell needs a connection that opens: the reverse shell never happens.
    shells = plays(drill, "reverse-shell", ev.SUPPRESSED)
    assert shells
    assert plays(drill, "reverse-shell", ev.INJECT) == []
    dropped = [f for f in hubble_flows(drill) if f.verdict == "DROPPED"]
    assert {(f.destination_ip, f.destination_port) for f in dropped} == {("203.0.113.66", 8443)}
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
    assert drill.engine.traffic.flowing("exfil-https") is False  # not started: nothing to guard
    manual_clock.advance(120)
    denied = drill.engine.metrics(
        'sum(rate(istio_requests_total{reporter="destination",destination_app="orchestrator",response_code="403"}[1m]))',
        manual_clock.now().timestamp(),
    )["result"]
    assert float(denied[0]["value"][1]) == pytest.approx(26)
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
        "ingress-to-gateway",
        "booking-to-orchestrator",
        "gateway-to-orchestrator",
        "orchestrator-to-tts",
        "gateway-to-booking",
    )
    seen: dict[str, object] = {}

    def look() -> None:
        seen.update({f: traffic.flowing(f) for f in flows})
        seen["why"] = traffic.verdict("ingress-to-gateway").why

    when_played(drill, "booking-unready", look)
    when_played(drill, "orchestrator-synced", permissive)
    await drill.play()
    why = seen.pop("why")
    # No sidecar on the client, or no tlsMode label on the server: refused. booking-service has
    # no sidecar to enforce STRICT, so the gateway still reaches it.
    assert seen == {
        "ingress-to-gateway": False,
        "booking-to-orchestrator": False,
        "gateway-to-orchestrator": False,
        "orchestrator-to-tts": True,
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
            or r["metric"]["destination_workload"]: round(float(r["value"][1]), 6)
            for r in data["result"]
        }

    manual_clock.advance(600)
    assert by_service(MTLS_FAILURES) == {}
    assert by_service(PLAINTEXT) == {"orchestrator": 30.0, "api-gateway": 30.0}
    drill.state.apply(drill.scenario.injects[0].spec["object"])  # STRICT, as the inject does
    manual_clock.advance(30)  # two scrapes: the traffic source sees it within half a minute
    assert set(by_service(MTLS_FAILURES)) == {"orchestrator", "api-gateway"}
    manual_clock.advance(600)
    assert by_service(MTLS_FAILURES) == {"orchestrator": 24.0, "api-gateway": 30.0}
    assert by_service(PLAINTEXT) == {"orchestrator": 0.0, "api-gateway": 0.0}


async def test_deleting_the_token_does_not_end_a_poisoned_image(drill_factory) -> None:
    """The orchestrator's code, not its credential, drives the tunnel."""
    drill = await drill_factory("dns-exfiltration", speed=5000)
    state = drill.state
    when_played(
        drill,
        "api-recon",
        lambda: state.delete("v1", "Secret", "voicehive", "orchestrator-token-x7k2p"),
    )
    when_played(
        drill,
        "dig-again",
        lambda: state.delete("v1", "Pod", "voicehive", ORCHESTRATOR),
        repetition=4,
    )
    await drill.play()
    tunnel = plays(drill, "tunnel-queries", ev.INJECT)
    assert any(150 < e.at < 480 for e in tunnel)  # the token is gone, the tunnel is not
    observed = {(o.action, o.target) for o in drill.engine.observations}
    assert ("eradicated", "orchestrator") in observed  # its credential is gone
    # No pod runs orchestrator 2.14.0 any more: that ends the driver, for good.
    ended = [e for e in drill.player.history if e.data.get("reaction") == "driver-ended"]
    assert len(ended) == 1
    assert "poisoned-dependency" in ended[0].summary
    after = [e for e in drill.player.history if e.at > ended[0].at and e.malicious]
    assert after
    assert {e.kind for e in after} == {ev.SUPPRESSED}
    assert all("attack driver poisoned-dependency has stopped" in e.summary for e in after)
    assert ("attack-ended", "poisoned-dependency") in observed


async def test_a_replacement_pod_carries_the_image_but_not_the_process(drill_factory) -> None:
    """Deleting the tts-router pod kills the operator's shell; its replacement still beacons."""
    drill = await drill_factory("suspicious-external-ip", speed=5000)
    state = drill.state

    def replace_pod() -> None:
        old = state.get("v1", "Pod", "voicehive", TTS_ROUTER)
        state.delete("v1", "Pod", "voicehive", TTS_ROUTER)
        new = copy.deepcopy(old)
        new["metadata"] = {
            "name": "tts-router-7c9d8b6f4-r2d2c",
            "namespace": "voicehive",
            "labels": old["metadata"]["labels"],
            "ownerReferences": old["metadata"]["ownerReferences"],
        }
        new["status"]["podIP"] = "10.42.2.77"
        state.create(new)  # what the ReplicaSet controller does

    when_played(drill, "reverse-shell", replace_pod, repetition=2)
    await drill.play()
    shells = plays(drill, "reverse-shell", ev.INJECT)
    assert len(shells) == 3  # 600, 660, 720; the pod goes after the third
    assert all(
        "attack driver reverse-shell has stopped" in e.summary
        for e in plays(drill, "reverse-shell", ev.SUPPRESSED)
    )
    late = [e for e in plays(drill, "first-beacon", ev.INJECT) if e.at > 720]
    assert late
    assert all("tts-router-7c9d8b6f4-r2d2c" in e.summary for e in late)
    assert drill.engine.traffic.flowing("beacon")
    falco = "\n".join(drill.state.logs_of("falco-system", "falco-m4q9z"))
    assert "10.42.2.77:" in falco  # the new pod's address in the connection fields


async def test_the_policy_auditor_writes_an_event_for_each_change(drill_factory) -> None:
    drill = await drill_factory("dns-exfiltration")
    drill.state.create(runbook_deny_all("orchestrator"))
    events = [
        e
        for e in drill.state.list("v1", "Event", "voicehive")
        if e["reason"] == "NetworkPolicyUpdated"
    ]
    assert [(e["type"], e["message"], e["source"]["component"]) for e in events] == [
        ("Normal", "NetworkPolicy emergency-isolation-1741943520 created", "network-policy-auditor")
    ]
    cut_off(drill.state, "orchestrator")
    messages = {
        e["message"]
        for e in drill.state.list("v1", "Event", "voicehive")
        if e["reason"] == "NetworkPolicyUpdated"
    }
    assert "NetworkPolicy external-api-segmentation changed outside argocd (OutOfSync)" in messages


@pytest.mark.parametrize(
    "name",
    [
        "dns-exfiltration",
        "suspicious-external-ip",
        "unauthorized-service-traffic",
        "mtls-failure",
        "network-policy-drift",
        "false-positive-leader-election",
    ],
)
async def test_every_scenario_has_hubble_flows_the_hubble_source_reads(name, drill_factory) -> None:
    drill = await drill_factory(name, speed=100_000)
    await drill.play()
    lines = drill.engine.hubble.lines()
    assert len(lines) > 20
    import json

    for line in lines:
        doc = json.loads(line)
        assert list(doc) == ["flow", "node_name", "time"]
        assert list(doc["flow"])[:3] == ["time", "uuid", "verdict"]
    kinds = [parse_flow(line.encode()) for line in lines]
    assert all(k is None or isinstance(k, HubbleFlow) for k in kinds)


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
