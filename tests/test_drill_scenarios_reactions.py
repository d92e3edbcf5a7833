"""Reactions: what the team changes in the cluster changes what the drill plays."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actions.drill import drill_events as ev
from actions.drill.apiserver.cluster_state import ClusterState
from actions.drill.clock import ManualClock
from actions.drill.drill_events import DrillEvent
from actions.drill.session import DrillSession
from actions.drill.sim.engine import TICK_SECONDS
from actions.sources.hubble import HubbleFlow, parse_flow
from tests.isolation_helpers import cut_off, runbook_deny_all
from tests.plugins.actions import stored
from tests.plugins.drill import KubectlResult, make_kubectl
from tests.plugins.drill_scenarios import DrillFactory

ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p"
TTS_ROUTER = "tts-router-7c9d8b6f4-x7p2q"
# The releases before the poisoned ones (the base cluster's revision 1).
CLEAN_ORCHESTRATOR = "registry.example.com/voicehive/orchestrator:2.13.4"
CLEAN_TTS_ROUTER = "registry.example.com/voicehive/tts-router:1.9.2"


def when_played(
    drill: DrillSession, inject_id: str, action: Callable[[], object], *, repetition: int = 0
) -> None:
    """Run action (a cluster change) right after the given play of an inject."""
    seen = {"count": 0}

    def callback(event: DrillEvent) -> None:
        if event.inject_id == inject_id and event.kind in (ev.INJECT, ev.SUPPRESSED):
            if seen["count"] == repetition:
                action()
            seen["count"] += 1

    drill.player.subscribe(callback)


def plays(drill: DrillSession, inject_id: str, kind: str) -> list[DrillEvent]:
    return [e for e in drill.player.history if e.inject_id == inject_id and e.kind == kind]


def orchestrator_alerts(drill: DrillSession) -> list[str]:
    return [
        line
        for line in drill.state.logs_of("falco-system", "falco-7xk2p")
        if line.startswith("{") and ORCHESTRATOR in line
    ]


def hubble_flows(drill: DrillSession) -> list[HubbleFlow]:
    """The DROPPED and DNS flows the drill's Hubble shows, as warroom's Hubble source reads them."""
    found = [parse_flow(line.encode()) for line in drill.engine.hubble.lines()]
    return [f for f in found if isinstance(f, HubbleFlow)]


async def test_the_runbooks_deny_all_alone_leaves_the_orchestrator_talking(
    drill_factory: DrillFactory
) -> None:
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
    drill_factory: DrillFactory,
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


async def test_a_new_flow_shows_in_rate_5m_within_two_scrapes(
    drill_factory: DrillFactory, manual_clock: ManualClock
) -> None:
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


async def test_cut_off_stops_traffic_counters_in_prometheus(
    drill_factory: DrillFactory, manual_clock: ManualClock
) -> None:
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
    drill_factory: DrillFactory, manual_clock: ManualClock
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


async def test_a_blocked_address_stops_its_flow_not_the_attempts_falco_sees(
    drill_factory: DrillFactory
) -> None:
    drill = await drill_factory("suspicious-external-ip", speed=5000)
    state = drill.state

    def block() -> None:
        policy = copy.deepcopy(
            stored(state, 
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
    drill_factory: DrillFactory, manual_clock: ManualClock
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


async def test_mtls_strict_breaks_what_cannot_do_mtls_until_fixed(
    drill_factory: DrillFactory
) -> None:
    drill = await drill_factory("mtls-failure", speed=5000)
    state = drill.state

    def permissive() -> None:
        policy = copy.deepcopy(
            stored(state, "security.istio.io/v1", "PeerAuthentication", "voicehive", "default")
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
    drill_factory: DrillFactory, manual_clock: ManualClock
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


def running(drill: DrillSession, app: str) -> dict[str, Any]:
    """The one pod of app running now (whatever its name)."""
    (pod,) = drill.state.list("v1", "Pod", "voicehive", label_selector=f"app={app}")
    return pod


def set_image(state: ClusterState, deployment: str, image: str) -> None:
    """What `kubectl set image deploy/NAME NAME=IMAGE` changes: the pod template's image."""
    found = copy.deepcopy(stored(state, "apps/v1", "Deployment", "voicehive", deployment))
    found["spec"]["template"]["spec"]["containers"][0]["image"] = image
    state.replace(found)


def falco_log_of_node(state: ClusterState, node: str) -> list[str]:
    """The log of the Falco pod on node, found as the runbook finds Falco: by its label."""
    (falco,) = [
        p
        for p in state.list("v1", "Pod", "falco-system", label_selector="app=falco")
        if p["spec"]["nodeName"] == node
    ]
    return state.logs_of("falco-system", falco["metadata"]["name"])


def reactions_of(drill: DrillSession, kind: str) -> list[DrillEvent]:
    return [e for e in drill.player.history if e.data.get("reaction") == kind]


async def test_a_deleted_orchestrator_pod_comes_back_poisoned_until_the_image_is_rolled_back(
    drill_factory: DrillFactory,
) -> None:
    """The orchestrator's image, not its pod or its credential, drives the tunnel: its
    ReplicaSet replaces a deleted pod from the same image; a clean image ends it."""
    drill = await drill_factory("dns-exfiltration", speed=5000)
    state = drill.state
    replacement: dict[str, Any] = {}

    def delete_pod() -> None:
        state.delete("v1", "Pod", "voicehive", ORCHESTRATOR)
        replacement.update(running(drill, "orchestrator"))

    when_played(
        drill,
        "api-recon",
        lambda: state.delete("v1", "Secret", "voicehive", "orchestrator-token-x7k2p"),
    )
    when_played(drill, "dig-again", delete_pod, repetition=2)  # at 300 s
    when_played(  # at 660 s
        drill,
        "dig-again",
        lambda: set_image(state, "orchestrator", CLEAN_ORCHESTRATOR),
        repetition=6,
    )
    await drill.play()

    new_name, new_ip = replacement["metadata"]["name"], replacement["status"]["podIP"]
    assert new_name.startswith("orchestrator-6f8d9c7b5d-")
    assert (new_name, new_ip) != (ORCHESTRATOR, "10.42.1.17")
    (replaced,) = reactions_of(drill, "replaced")
    assert f"{ORCHESTRATOR} was deleted: ReplicaSet orchestrator-6f8d9c7b5d started {new_name}" in (
        replaced.summary
    )
    assert "attack driver poisoned-dependency carries on in it" in replaced.summary
    # The token is gone, the tunnel is not; the pod is new, the tunnel is not.
    tunnel = plays(drill, "tunnel-queries", ev.INJECT)
    assert any(150 < e.at < 300 for e in tunnel)
    moved = [e for e in tunnel if 301 < e.at < 660]
    assert moved
    assert all(f"from {new_name} " in e.summary for e in moved)
    coredns = [
        line
        for p in state.list("v1", "Pod", "kube-system", label_selector="k8s-app=kube-dns")
        for line in state.logs_of("kube-system", p["metadata"]["name"])
    ]
    assert any(line.startswith(f"[INFO] {new_ip}:") and "cdn-telemetry" in line for line in coredns)
    digs = [e for e in plays(drill, "dig-again", ev.INJECT) if 300 < e.at < 660]
    assert len(digs) == 3
    assert all(f"({new_name}, logged by falco-" in e.summary for e in digs)
    falco = falco_log_of_node(state, replacement["spec"]["nodeName"])
    container_id = replacement["status"]["containerStatuses"][0]["containerID"][13:25]
    assert any(
        f'"k8s.pod.name":"{new_name}"' in line and f'"container.id":"{container_id}"' in line
        for line in falco
    )
    # Rolled to a clean image: no pod runs 2.14.0 any more, and that ends it for good.
    (ended,) = reactions_of(drill, "driver-ended")
    assert ended.at == pytest.approx(660, abs=1)
    assert (
        "attack driver poisoned-dependency has stopped for good: no pod of app=orchestrator in "
        "voicehive runs registry.example.com/voicehive/orchestrator:2.14.0" in ended.summary
    )
    after = [e for e in drill.player.history if e.at > ended.at and e.malicious]
    assert after
    assert {e.kind for e in after} == {ev.SUPPRESSED}
    assert all("attack driver poisoned-dependency has stopped" in e.summary for e in after)
    assert not drill.engine.traffic.flowing("exfil-https")
    assert drill.engine.traffic.flowing("gateway-to-orchestrator")  # the clean pod serves
    observed = {(o.action, o.target) for o in drill.engine.observations}
    assert ("eradicated", "orchestrator") in observed  # its credential is gone
    assert ("attack-ended", "poisoned-dependency") in observed
    assert ("image-replaced", "orchestrator") in observed


async def test_a_deleted_pod_ends_the_shell_in_it_not_the_beacon_its_image_carries(
    drill_factory: DrillFactory,
) -> None:
    """Deleting the tts-router pod kills the operator's shell; its replacement still beacons
    (the SDK is in the image) until the Deployment runs a clean image."""
    drill = await drill_factory("suspicious-external-ip", speed=5000)
    state = drill.state
    replacement: dict[str, Any] = {}

    def delete_pod() -> None:
        state.delete("v1", "Pod", "voicehive", TTS_ROUTER)
        replacement.update(running(drill, "tts-router"))

    when_played(drill, "reverse-shell", delete_pod, repetition=2)  # at 720 s
    when_played(  # at 811 s
        drill,
        "first-beacon",
        lambda: set_image(state, "tts-router", CLEAN_TTS_ROUTER),
        repetition=13,
    )
    await drill.play()

    new_name, new_ip = replacement["metadata"]["name"], replacement["status"]["podIP"]
    shells = plays(drill, "reverse-shell", ev.INJECT)
    assert [round(e.at) for e in shells] == [600, 660, 720]  # the pod goes after the third
    assert plays(drill, "reverse-shell", ev.SUPPRESSED)
    assert all(
        f"attack driver reverse-shell has stopped (pod voicehive/{TTS_ROUTER} deleted)" in e.summary
        for e in plays(drill, "reverse-shell", ev.SUPPRESSED)
    )
    (replaced,) = reactions_of(drill, "replaced")
    assert "attack driver vendor-sdk carries on in it" in replaced.summary
    assert "reverse-shell" not in replaced.summary
    late = [e for e in plays(drill, "first-beacon", ev.INJECT) if 720 < e.at < 811]
    assert late
    assert all(f"({new_name}, logged by falco-" in e.summary for e in late)
    vendor = [e for e in plays(drill, "vendor-traffic-is-normal", ev.INJECT) if e.at > 720]
    assert vendor
    assert all(new_name in e.summary for e in vendor)
    falco = "\n".join(falco_log_of_node(state, replacement["spec"]["nodeName"]))
    assert f'"fd.name":"{new_ip}:' in falco  # the new pod's address in the connection fields
    # The clean image ends the beacon for good; the vendor's traffic goes on.
    (ended,) = [e for e in reactions_of(drill, "driver-ended") if e.data["driver"] == "vendor-sdk"]
    assert ended.at == pytest.approx(811, abs=1)
    assert [
        e.kind
        for e in plays(drill, "first-beacon", ev.INJECT)
        + plays(drill, "first-beacon", ev.SUPPRESSED)
        if e.at > 811
    ] == [ev.SUPPRESSED]
    assert not drill.engine.traffic.flowing("beacon")
    assert drill.engine.traffic.flowing("tts-to-vendor")


async def test_kubectl_rollout_undo_ends_the_poisoned_image_deleting_the_pod_does_not(
    drill_factory: DrillFactory, tmp_path: Path
) -> None:
    """What a team does with kubectl: the implant shows in every pod of the poisoned image,
    the replacement's too, and in none once `rollout undo` brings back the release before."""
    drill = await drill_factory("dns-exfiltration", serve=True)
    home = tmp_path / "home"
    home.mkdir()
    assert drill.kubeconfig_path is not None  # written once started
    run = make_kubectl(drill.kubeconfig_path, home)

    async def kubectl(*args: str) -> KubectlResult:
        # The drill serves on this test's event loop: kubectl must wait off it.
        return await asyncio.to_thread(run, "-n", "voicehive", *args)

    deleted = await kubectl("delete", "pod", ORCHESTRATOR)
    assert deleted.returncode == 0, deleted.stderr
    processes = await kubectl("exec", "deploy/orchestrator", "--", "ps", "aux")
    assert "python3 /tmp/.cache/tel.py --upload" in processes.stdout
    assert drill.engine.attack.alive("poisoned-dependency")
    history = await kubectl("rollout", "history", "deploy/orchestrator")
    assert "orchestrator 2.13.4" in history.stdout
    undone = await kubectl("rollout", "undo", "deploy/orchestrator")
    assert undone.stdout.strip() == "deployment.apps/orchestrator rolled back", undone.stderr
    assert not drill.engine.attack.alive("poisoned-dependency")
    image = await kubectl(
        "get",
        "pods",
        "-l",
        "app=orchestrator",
        "-o",
        "jsonpath={.items[*].spec.containers[0].image}",
    )
    assert image.stdout == CLEAN_ORCHESTRATOR
    processes = await kubectl("exec", "deploy/orchestrator", "--", "ps", "aux")
    assert processes.returncode == 0, processes.stderr
    assert "gunicorn orchestrator.wsgi:app" in processes.stdout
    assert "tel.py" not in processes.stdout
    implant = await kubectl("exec", "deploy/orchestrator", "--", "cat", "/tmp/.cache/tel.py")
    assert implant.returncode == 1
    assert "not scripted in this drill" in implant.stderr


async def test_the_policy_auditor_writes_an_event_for_each_change(
    drill_factory: DrillFactory
) -> None:
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
async def test_every_scenario_has_hubble_flows_the_hubble_source_reads(
    name: str, drill_factory: DrillFactory
) -> None:
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


async def test_drift_undone_is_observed_as_fixed(drill_factory: DrillFactory) -> None:
    drill = await drill_factory("network-policy-drift", speed=5000)
    state = drill.state
    original = copy.deepcopy(
        stored(state, "networking.k8s.io/v1", "NetworkPolicy", "voicehive", "tts-router-ingress")
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


async def test_linkerd_server_authorizations_decide_who_reaches_a_server(
    drill_factory: DrillFactory
) -> None:
    drill = await drill_factory("network-policy-drift")
    traffic = drill.engine.traffic
    assert traffic.flowing("orchestrator-to-booking")
    assert traffic.flowing("gateway-to-booking")
    authorization = copy.deepcopy(
        stored(drill.state, 
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


async def test_a_restarted_falco_and_coredns_keep_logging_into_their_new_pods(
    drill_factory: DrillFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """Falco and CoreDNS are found as the runbook finds them, by label (Falco on the node of
    the pod the alert is about), never by the scenario's pod names."""
    drill = await drill_factory("dns-exfiltration", serve=True, clock=manual_clock)
    home = tmp_path / "home"
    home.mkdir()
    assert drill.kubeconfig_path is not None  # written once started
    run = make_kubectl(drill.kubeconfig_path, home)

    async def kubectl(*args: str) -> KubectlResult:
        return await asyncio.to_thread(run, *args)

    def names(namespace: str, selector: str) -> set[str]:
        pods = drill.state.list("v1", "Pod", namespace, label_selector=selector)
        return {p["metadata"]["name"] for p in pods}

    falco_before = names("falco-system", "app=falco")
    dns_before = names("kube-system", "k8s-app=kube-dns")
    for namespace, workload in (("falco-system", "ds/falco"), ("kube-system", "deploy/coredns")):
        restarted = await kubectl("rollout", "restart", "-n", namespace, workload)
        assert restarted.returncode == 0, restarted.stderr
    assert names("falco-system", "app=falco").isdisjoint(falco_before)
    assert names("kube-system", "k8s-app=kube-dns").isdisjoint(dns_before)

    injects = {i.id: i for i in drill.scenario.injects}
    played = drill.engine.play(injects["first-dig"])
    assert played.kind == ev.INJECT, played.summary
    queried = drill.engine.play(injects["tunnel-queries"])
    assert queried.kind == ev.INJECT, queried.summary

    falco = await kubectl("logs", "-n", "falco-system", "-l", "app=falco", "--tail=-1")
    assert falco.returncode == 0, falco.stderr
    alerts = [line for line in falco.stdout.splitlines() if line.startswith("{")]
    assert len(alerts) == 1
    assert '"rule":"Launch Suspicious Network Tool in Container"' in alerts[0]
    assert f'"k8s.pod.name":"{ORCHESTRATOR}"' in alerts[0]
    assert '"hostname":"ip-10-0-1-23.eu-west-1.compute.internal"' in alerts[0]
    assert "Falco version: 0.41.3" in falco.stdout  # the new pods started as Falco starts
    dns = await kubectl("logs", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--tail=-1")
    assert dns.returncode == 0, dns.stderr
    assert any(
        line.startswith("[INFO] 10.42.1.17:") and "cdn-telemetry.example.net" in line
        for line in dns.stdout.splitlines()
    )


async def test_restarting_an_uninjected_deployment_gives_its_new_pod_the_sidecar(
    drill_factory: DrillFactory,
) -> None:
    """mtls-failure's recovery: pods started before injection was turned on get istiod's
    sidecar when their Deployment is restarted (the namespace is istio-injection=enabled)."""
    drill = await drill_factory("mtls-failure")
    state, traffic = drill.state, drill.engine.traffic
    state.apply(drill.scenario.injects[0].spec["object"])  # STRICT, as the inject does
    assert (
        "has no sidecar to present a certificate" in traffic.verdict("booking-to-orchestrator").why
    )
    deployment = copy.deepcopy(
        stored(state, "apps/v1", "Deployment", "voicehive", "booking-service")
    )
    annotations = deployment["spec"]["template"]["metadata"].setdefault("annotations", {})
    annotations["kubectl.kubernetes.io/restartedAt"] = "2026-03-14T09:05:00Z"
    state.replace(deployment)  # what `kubectl rollout restart` changes

    restarted = running(drill, "booking-service")
    assert restarted["metadata"]["name"] != "booking-service-84c6d5f7b-m9w4t"
    assert [c["name"] for c in restarted["spec"]["containers"]] == [
        "booking-service",
        "istio-proxy",
    ]
    assert restarted["spec"]["containers"][1]["image"] == "docker.io/istio/proxyv2:1.24.3"
    assert restarted["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
    # Its calls now leave through a sidecar; the orchestrator still lacks the tlsMode label
    # (the chart's fault), so STRICT still refuses them: PERMISSIVE first, then fix the chart.
    assert (
        "lacks the security.istio.io/tlsMode label"
        in traffic.verdict("booking-to-orchestrator").why
    )
    assert traffic.flowing("gateway-to-booking")  # mTLS to the new, labelled pod


async def test_scaled_to_zero_no_pod_plays_the_part(
    drill_factory: DrillFactory, manual_clock: ManualClock
) -> None:
    """Scaling the Deployment to zero ends the image's driver and leaves nothing to log."""
    drill = await drill_factory("dns-exfiltration", clock=manual_clock)
    deployment = copy.deepcopy(
        stored(drill.state, "apps/v1", "Deployment", "voicehive", "orchestrator")
    )
    deployment["spec"]["replicas"] = 0
    drill.state.replace(deployment)  # kubectl scale deploy/orchestrator --replicas=0
    assert drill.state.list("v1", "Pod", "voicehive", label_selector="app=orchestrator") == []
    assert not drill.engine.attack.alive("poisoned-dependency")
    injects = {i.id: i for i in drill.scenario.injects}
    played = drill.engine.play(injects["orchestrator-requests"])  # not part of the attack
    assert played.kind == ev.SUPPRESSED
    assert f"no pod runs in place of voicehive/{ORCHESTRATOR}" in played.summary
    assert not drill.engine.traffic.flowing("gateway-to-orchestrator")


async def test_without_falco_on_the_node_nothing_logs_the_alert(
    drill_factory: DrillFactory
) -> None:
    """Falco sees only its own node's syscalls: with its DaemonSet gone, the attack goes on
    unseen, and the facilitator is told why no alert came."""
    drill = await drill_factory("dns-exfiltration")
    drill.state.delete("apps/v1", "DaemonSet", "falco-system", "falco")  # its pods go with it
    assert drill.state.list("v1", "Pod", "falco-system") == []
    injects = {i.id: i for i in drill.scenario.injects}
    played = drill.engine.play(injects["first-dig"])
    assert played.kind == ev.INJECT
    assert played.summary == (
        f"Launch Suspicious Network Tool in Container happened in {ORCHESTRATOR}, but no Falco "
        "pod (app=falco in falco-system) runs on its node "
        "ip-10-0-1-23.eu-west-1.compute.internal to log it"
    )
