"""Built-in scenarios: they load, play to the end at high speed, and write real-looking sources."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import yaml

from actions.drill import drill_events as ev
from actions.drill.clock import ManualClock
from actions.drill.player import schedule
from actions.drill.scenario import builtin_names, load_builtin
from actions.drill.session import DrillSession
from actions.drill.sim.falco_rules import RULES, render_alert
from actions.falco.alert import FalcoAlert
from actions.falco.parse import parse_line
from store import DECISIONS, SEVERITIES
from tests.plugins.drill_scenarios import DrillFactory

BUILTINS = builtin_names()
WITH_FALCO = [n for n in BUILTINS if any(i.kind == "falco" for i in load_builtin(n).injects)]
TIME_9_DIGITS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
COREDNS_QUERY = re.compile(
    r'^\[INFO\] (\d+\.\d+\.\d+\.\d+):(\d+) - (\d+) "(\w+) IN (\S+\.) (udp|tcp) (\d+) false 512" '
    r"(NOERROR|NXDOMAIN|SERVFAIL|REFUSED) (qr,rd,ra|qr,aa,rd) (\d+) (\d+\.\d+)s$"
)


def test_there_is_a_builtin_for_every_runbook_class_and_the_required_stories() -> None:
    scenarios = [load_builtin(name) for name in BUILTINS]
    assert {s.incident_class for s in scenarios} == set(SEVERITIES)
    assert {s.answer_key.decision for s in scenarios} >= {
        "false-positive",
        "active-attack",
        "misconfiguration",
    }
    assert {
        "dns-exfiltration",
        "suspicious-external-ip",
        "mtls-failure",
        "unauthorized-service-traffic",
        "network-policy-drift",
        "false-positive-leader-election",
    } <= set(BUILTINS)
    assert {s.mesh for s in scenarios} >= {"istio", "linkerd"}
    for scenario in scenarios:
        assert scenario.answer_key.decision in DECISIONS
        assert scenario.first_clock_inject() is not None


@pytest.mark.parametrize("name", BUILTINS)
async def test_builtin_plays_to_its_end_at_high_speed(
    name: str, drill_factory: DrillFactory, manual_clock: ManualClock
) -> None:
    drill = await drill_factory(name, clock=manual_clock, speed=5000)
    await drill.play()
    history = drill.player.history
    kinds = [e.kind for e in history]
    assert kinds[0] == ev.START
    assert kinds[-1] == ev.END
    assert "drill over" in history[-1].summary
    assert [e.summary for e in history if e.kind == ev.ERROR] == []
    plays = [e for e in history if e.kind in (ev.INJECT, ev.SUPPRESSED)]
    assert len(plays) == len(schedule(drill.scenario))
    # Scenario time followed the clock: the whole length, scaled by the speed.
    assert manual_clock.monotonic() == pytest.approx(drill.scenario.length / 5000)
    assert drill.player.position() == pytest.approx(drill.scenario.length)

    for inject in drill.scenario.injects:
        if inject.kind != "falco":
            continue
        falco_lines = [
            line
            for pod in drill.scenario.pods
            if pod.labels.get("app") == "falco"
            for line in drill.state.logs_of(pod.namespace, pod.name)
            if line.startswith("{")
        ]
        alerts = [json.loads(line) for line in falco_lines]
        assert any(a["rule"] == inject.spec["rule"] for a in alerts), inject.id


@pytest.mark.parametrize("name", WITH_FALCO)
async def test_builtin_falco_lines_are_falco_041_json(
    name: str, drill_factory: DrillFactory
) -> None:
    drill = await drill_factory(name, speed=5000)
    await drill.play()
    falco_pods = [p for p in drill.scenario.pods if p.labels.get("app") == "falco"]
    lines = [line for p in falco_pods for line in drill.state.logs_of(p.namespace, p.name)]
    alerts = [line for line in lines if line.startswith("{")]
    assert alerts
    for line in alerts:
        document = json.loads(line)
        assert list(document) == sorted(document)  # nlohmann over std::map: keys sorted
        assert list(document["output_fields"]) == sorted(document["output_fields"])
        assert line == json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert TIME_9_DIGITS.match(document["time"])
        assert document["tags"] == sorted(document["tags"])
        clock = document["time"][11:29]
        assert document["output"].startswith(f"{clock}: {document['priority']} ")
        assert document["output"].endswith(
            f"k8s_ns_name={document['output_fields']['k8s.ns.name']}"
        )
        assert isinstance(document["output_fields"]["evt.time"], int)
        assert document["hostname"].endswith(".compute.internal")  # the node, not the Falco pod
        known = RULES.get(document["rule"])
        if known:
            assert document["priority"].upper() == known.priority
            assert set(document["tags"]) == set(known.tags)
        parsed = parse_line(line.encode())
        assert isinstance(parsed, FalcoAlert), parsed
        assert parsed.warnings == ()


async def test_dns_injects_are_coredns_log_plugin_lines(drill_factory: DrillFactory) -> None:
    drill = await drill_factory("dns-exfiltration", speed=5000)
    await drill.play()
    lines = [
        line
        for name in ("coredns-5d78c9869d-2xk4m", "coredns-5d78c9869d-9wq7t")
        for line in drill.state.logs_of("kube-system", name)
    ]
    queries = [COREDNS_QUERY.match(line) for line in lines if line.startswith("[INFO] 10.")]
    assert len(queries) > 100
    assert all(queries), [
        line for line in lines if line.startswith("[INFO] 10.") and not COREDNS_QUERY.match(line)
    ]
    tunnel = [m for m in queries if m and m.group(5).endswith(".s1.cdn-telemetry.example.net.")]
    assert tunnel
    assert all(m.group(1) == "10.42.1.17" and m.group(4) == "TXT" for m in tunnel)
    assert len({m.group(5) for m in tunnel}) == len(tunnel)  # each query carries new payload
    assert ".:53" in lines
    assert "CoreDNS-1.11.3" in lines


async def test_a_scenario_plays_the_same_every_time(drill_factory: DrillFactory) -> None:
    def logs(drill: DrillSession) -> dict[str, list[str]]:
        return {p.name: drill.state.logs_of(p.namespace, p.name) for p in drill.scenario.pods}

    first = await drill_factory("suspicious-external-ip", clock=ManualClock(), speed=5000)
    await first.play()
    second = await drill_factory("suspicious-external-ip", clock=ManualClock(), speed=5000)
    await second.play()
    assert logs(first) == logs(second)
    assert [e.summary for e in first.player.history] == [e.summary for e in second.player.history]


def test_render_alert_matches_falco_byte_for_byte() -> None:
    line = render_alert(
        rule="Contact K8S API Server From Container",
        moment=datetime(2025, 3, 14, 9, 12, 1, 4518, tzinfo=UTC),
        nanos=233,
        hostname="ip-10-0-1-23.eu-west-1.compute.internal",
        fields={
            "fd.name": "10.42.1.17:43512->10.96.0.1:443",
            "fd.lport": 43512,
            "fd.rport": 443,
            "fd.type": "ipv4",
            "fd.l4proto": "tcp",
            "evt.type": "connect",
            "user.name": "root",
            "user.uid": 0,
            "user.loginuid": -1,
            "proc.name": "curl",
            "proc.exepath": "/usr/bin/curl",
            "proc.pname": "sh",
            "proc.cmdline": "curl -sk https://kubernetes.default",
            "proc.tty": 0,
            "container.id": "3f2a1b9c8d7e",
            "container.name": "orchestrator",
            "container.image.repository": "registry.example.com/voicehive/orchestrator",
            "container.image.tag": "2.14.0",
            "k8s.pod.name": "orchestrator-6f8d9c7b5d-k2x9p",
            "k8s.ns.name": "voicehive",
        },
    )
    expected_output = (
        "09:12:01.004518233: Notice Unexpected connection to K8s API Server from container | "
        "connection=10.42.1.17:43512->10.96.0.1:443 lport=43512 rport=443 fd_type=ipv4 "
        "fd_proto=tcp evt_type=connect user=root user_uid=0 user_loginuid=-1 process=curl "
        "proc_exepath=/usr/bin/curl parent=sh command=curl -sk https://kubernetes.default "
        "terminal=0 container_id=3f2a1b9c8d7e container_name=orchestrator "
        "container_image_repository=registry.example.com/voicehive/orchestrator "
        "container_image_tag=2.14.0 k8s_pod_name=orchestrator-6f8d9c7b5d-k2x9p "
        "k8s_ns_name=voicehive"
    )
    expected_fields = (
        '{"container.id":"3f2a1b9c8d7e",'
        '"container.image.repository":"registry.example.com/voicehive/orchestrator",'
        '"container.image.tag":"2.14.0","container.name":"orchestrator",'
        '"evt.time":1741943521004518233,"evt.type":"connect","fd.l4proto":"tcp",'
        '"fd.lport":43512,"fd.name":"10.42.1.17:43512->10.96.0.1:443","fd.rport":443,'
        '"fd.type":"ipv4","k8s.ns.name":"voicehive",'
        '"k8s.pod.name":"orchestrator-6f8d9c7b5d-k2x9p",'
        '"proc.cmdline":"curl -sk https://kubernetes.default","proc.exepath":"/usr/bin/curl",'
        '"proc.name":"curl","proc.pname":"sh","proc.tty":0,"user.loginuid":-1,'
        '"user.name":"root","user.uid":0}'
    )
    assert line == (
        '{"hostname":"ip-10-0-1-23.eu-west-1.compute.internal",'
        f'"output":"{expected_output}","output_fields":{expected_fields},'
        '"priority":"Notice","rule":"Contact K8S API Server From Container","source":"syscall",'
        '"tags":["T1565","container","k8s","maturity_stable","mitre_discovery","network"],'
        '"time":"2025-03-14T09:12:01.004518233Z"}'
    )


def test_render_alert_writes_missing_fields_as_null_and_na_and_keeps_the_deprecated_typo() -> None:
    line = render_alert(
        rule="Outbound Connection to C2 Servers",
        hostname="node-1",
        moment=datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC),
        fields={"fd.sip": "203.0.113.66"},
    )
    document = json.loads(line)
    assert document["priority"] == "Warning"
    assert "c2_domain=<NA> c2_addr=203.0.113.66" in document["output"]
    assert "fd_proto=fd.l4proto" in document["output"]  # literal, as the archived rule writes it
    assert "fd.l4proto" not in document["output_fields"]
    assert document["output_fields"]["fd.sip.name"] is None
    assert document["output_fields"]["k8s.pod.name"] is None


async def test_a_served_session_answers_over_http_and_cleans_up(manual_clock: ManualClock) -> None:
    session = DrillSession(load_builtin("suspicious-external-ip"), clock=manual_clock, speed=5000)
    await session.start()
    kubeconfig = session.kubeconfig_path
    assert kubeconfig is not None
    assert kubeconfig.exists()
    assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == session.url
    try:
        assert session.server is not None
        async with aiohttp.ClientSession(
            session.url,
            headers=session.server.auth_headers,
            connector=aiohttp.TCPConnector(ssl=session.server.client_ssl_context()),
        ) as http:
            async with http.get(
                "/api/v1/namespaces/falco-system/pods", params={"labelSelector": "app=falco"}
            ) as response:
                assert len((await response.json())["items"]) == 3
            await session.play()
            async with http.get("/api/v1/namespaces/falco-system/pods/falco-m4q9z/log") as response:
                log = await response.text()
        rules = {json.loads(line)["rule"] for line in log.splitlines() if line.startswith("{")}
        assert rules == {
            "Network Connection outside Local Subnet",
            "Redirect STDOUT/STDIN to Network Connection in Container",
        }
    finally:
        await session.stop()
    assert not kubeconfig.exists()
    assert not kubeconfig.parent.exists()


@pytest.mark.parametrize("name", BUILTINS)
async def test_every_builtin_starts_healthy(name: str, drill_factory: DrillFactory) -> None:
    """Before the first inject everyday traffic flows: the trouble is the scenario, not a typo."""
    drill = await drill_factory(name)
    traffic = drill.engine.traffic
    for flow in drill.scenario.flows:
        assert traffic.flowing(flow.id) == flow.active, (flow.id, traffic.verdict(flow.id).why)
    assert drill.engine.observations == []


async def test_the_dns_tunnel_is_what_the_dns_detector_catches(drill_factory: DrillFactory) -> None:
    """The scenario's CoreDNS lines go through the live source's parser and detector."""
    from actions.sources.coredns_log import parse_query
    from actions.sources.dns_detector import DnsTunnelDetector

    drill = await drill_factory("dns-exfiltration", speed=5000)
    await drill.play()
    lines = sorted(
        (
            line
            for pod in ("coredns-5d78c9869d-2xk4m", "coredns-5d78c9869d-9wq7t")
            for line in drill.state.log_lines("kube-system", pod)
        ),
        key=lambda line: line.at,
    )
    detector = DnsTunnelDetector()
    detections = []
    for line in lines:
        query = parse_query(line.text.encode())
        if query is not None:
            detections += detector.observe(query, now_ns=int(line.at.timestamp() * 1e9))
    assert detector.queries > 100
    assert detections
    assert {d.client for d in detections} == {"10.42.1.17"}  # the orchestrator, nobody else
    assert all(q.endswith(".s1.cdn-telemetry.example.net") for d in detections for q in d.sample)


@pytest.mark.parametrize(
    ("name", "mesh", "absent_group", "absent_namespace"),
    [
        ("network-policy-drift", "linkerd", "security.istio.io", "istio-system"),
        ("dns-exfiltration", "istio", "policy.linkerd.io", "linkerd"),
    ],
)
async def test_each_scenario_has_only_the_mesh_it_tells_of(
    name: str, mesh: str, absent_group: str, absent_namespace: str, drill_factory: DrillFactory
) -> None:
    from actions.kube.cluster import ClusterOptions, connect
    from actions.kube.mesh import detect_mesh

    drill = await drill_factory(name, serve=True)
    assert drill.state.get("v1", "Namespace", None, absent_namespace) is None
    assert drill.server is not None
    async with aiohttp.ClientSession(headers=drill.server.auth_headers) as client:
        kind = "authorizationpolicies" if absent_group == "security.istio.io" else "servers"
        version = "v1" if absent_group == "security.istio.io" else "v1beta3"
        url = f"{drill.url}/apis/{absent_group}/{version}/namespaces/voicehive/{kind}"
        async with client.get(url, ssl=drill.server.client_ssl_context()) as answer:
            assert answer.status == 404  # as on a cluster without that mesh's CRDs
            assert (await answer.json())["reason"] == "NotFound"
    cluster = await connect(ClusterOptions(kubeconfig=str(drill.kubeconfig_path)))
    async with cluster:
        detected, _ = await detect_mesh(cluster)
    assert detected == mesh


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("network-policy-drift", "policy.linkerd.io", "security.istio.io"),
        ("dns-exfiltration", "security.istio.io", "policy.linkerd.io"),
    ],
)
async def test_discovery_serves_only_the_mesh_the_scenario_has(
    name: str, present: str, absent: str, drill_factory: DrillFactory, tmp_path: Path
) -> None:
    """kubectl api-resources, the official client's discovery and the storage agree."""
    import asyncio

    from kubernetes import client

    from tests.plugins.drill import make_kubectl, new_sync_client

    drill = await drill_factory(name, serve=True)
    home = tmp_path / "home"
    home.mkdir()
    kubeconfig = drill.kubeconfig_path
    assert kubeconfig is not None  # written once started
    kubectl = make_kubectl(kubeconfig, home)

    # The drill serves on this test's event loop: kubectl and the sync client wait off it.
    listed = await asyncio.to_thread(kubectl, "api-resources", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    groups = {line.partition(".")[2] for line in listed.stdout.split()}
    assert present in groups
    assert absent not in groups

    def discover() -> set[str]:
        with new_sync_client(kubeconfig) as api:
            return {g.name for g in client.ApisApi(api).get_api_versions().groups}

    names = await asyncio.to_thread(discover)
    assert present in names
    assert absent not in names
    assert drill.server is not None
    async with aiohttp.ClientSession(headers=drill.server.auth_headers) as session:
        ssl = drill.server.client_ssl_context()
        for path in (f"/apis/{absent}", f"/apis/{absent}/v1beta1"):
            async with session.get(f"{drill.url}{path}", ssl=ssl) as answer:
                assert answer.status == 404, path
        async with session.get(f"{drill.url}/openapi/v3", ssl=ssl) as answer:
            documents = set((await answer.json())["paths"])
    assert any(present in path for path in documents)
    assert not any(absent in path for path in documents)
    # `authorizationpolicies` names the mesh this cluster has (Linkerd has a kind of that name).
    policies = await asyncio.to_thread(
        kubectl, "get", "authorizationpolicies", "-n", "voicehive", "-o", "json"
    )
    assert policies.returncode == 0, policies.stderr
    assert json.loads(policies.stdout)["apiVersion"] == "v1"
    for item in json.loads(policies.stdout)["items"]:
        assert item["apiVersion"].startswith(present)
