"""Workloads, controllers and exec on the drill cluster of a built-in scenario, checked with
the real kubectl 1.37 and the official client, as a responder would use them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.stream import stream

from actions.drill.apiserver.cluster_state import ClusterState
from actions.drill.scenario import load_builtin
from actions.drill.server import DrillServerThread
from actions.drill.sim.engine import DrillEngine
from tests.plugins.drill import KubectlRunner, make_kubectl, new_sync_client, raw_request
from tests.plugins.drill_scenarios import DRILL_START

ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p"


@pytest.fixture
def scenario_server() -> Iterator[DrillServerThread]:
    """The dns-exfiltration scenario's starting cluster, served, its engine seeded."""
    from actions.drill.clock import ManualClock

    clock = ManualClock(DRILL_START)
    state = ClusterState(clock=clock.now)
    engine = DrillEngine(load_builtin("dns-exfiltration", schemas=False), state, clock,
                         lambda event: None, lambda: 0.0)
    engine.seed()
    with DrillServerThread(state) as server:
        yield server
    engine.close()


@pytest.fixture
def kubectl(scenario_server: DrillServerThread, tmp_path: Path) -> KubectlRunner:
    home = tmp_path / "home"
    home.mkdir()
    return make_kubectl(scenario_server.kubeconfig_path(tmp_path), home)


@pytest.fixture
def core(scenario_server: DrillServerThread, tmp_path: Path) -> client.CoreV1Api:
    path = scenario_server.kubeconfig_path(tmp_path / "client")
    return client.CoreV1Api(new_sync_client(path))


def _state(server: DrillServerThread) -> ClusterState:
    return server.state


def _pods(state: ClusterState, selector: str, namespace: str = "voicehive") -> list[str]:
    return [p["metadata"]["name"] for p in state.list("v1", "Pod", namespace,
                                                       label_selector=selector)]


# ----- item 4: workloads and controllers ----------------------------------------------------


def test_get_all_lists_the_workloads_with_wide_columns(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "all", "-o", "wide")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    pod = next(line.split() for line in lines if line.startswith(f"pod/{ORCHESTRATOR}"))
    assert pod[5:7] == ["10.42.1.17", "ip-10-0-1-23.eu-west-1.compute.internal"]
    deployment = next(line.split() for line in lines
                      if line.startswith("deployment.apps/orchestrator"))
    assert deployment[1:4] == ["1/1", "1", "1"]
    assert deployment[-1] == "app=orchestrator"
    assert any(line.startswith("replicaset.apps/orchestrator-6f8d9c7b5d ") for line in lines)
    falco = kubectl("get", "ds", "-n", "falco-system")
    assert falco.stdout.splitlines()[1].split()[:6] == ["falco", "3", "3", "3", "3", "3"]
    prometheus = kubectl("get", "sts", "-n", "monitoring", "prometheus")
    assert prometheus.stdout.splitlines()[1].split()[:2] == ["prometheus", "1/1"]


def test_nodes_are_registered_with_their_addresses(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "nodes", "-o", "wide")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [(row[0], row[1], row[5]) for row in rows] == [
        ("ip-10-0-1-23.eu-west-1.compute.internal", "Ready", "10.0.1.23"),
        ("ip-10-0-2-41.eu-west-1.compute.internal", "Ready", "10.0.2.41"),
        ("ip-10-0-3-17.eu-west-1.compute.internal", "Ready", "10.0.3.17")]


def test_deleted_pod_is_replaced_by_its_replica_set(kubectl: KubectlRunner,
                                                   scenario_server: DrillServerThread) -> None:
    state = _state(scenario_server)
    replaced: list[tuple[str, str]] = []
    assert state.controllers is not None
    state.controllers.on_pod_replaced(
        lambda old, new: replaced.append((old["metadata"]["name"], new["metadata"]["name"])))
    result = kubectl("delete", "pod", ORCHESTRATOR)
    assert result.returncode == 0, result.stderr
    (new_name,) = _pods(state, "app=orchestrator")
    assert new_name != ORCHESTRATOR
    assert new_name.startswith("orchestrator-6f8d9c7b5d-")
    assert replaced == [(ORCHESTRATOR, new_name)]
    new = state.get("v1", "Pod", "voicehive", new_name)
    assert new is not None
    # The mesh's sidecar comes back, as the injection webhook adds it again.
    assert [c["name"] for c in new["spec"]["containers"]] == ["orchestrator", "istio-proxy"]
    assert new["status"]["podIP"].startswith("10.42.1.")
    assert new["status"]["podIP"] != "10.42.1.17"
    events = kubectl("get", "events", "--field-selector",
                     "involvedObject.name=orchestrator-6f8d9c7b5d", "-o", "json")
    assert [e["message"] for e in json.loads(events.stdout)["items"]] == [
        f"Created pod: {new_name}"]


def test_endpoints_follow_the_pods(kubectl: KubectlRunner) -> None:
    before = kubectl("describe", "svc", "orchestrator")
    assert "Endpoints:         10.42.1.17:8080" in before.stdout
    kubectl("delete", "pod", ORCHESTRATOR)
    after = kubectl("get", "endpoints", "orchestrator", "-o", "json")
    (subset,) = json.loads(after.stdout)["subsets"]
    (address,) = subset["addresses"]
    assert address["targetRef"]["name"].startswith("orchestrator-6f8d9c7b5d-")
    assert address["ip"] != "10.42.1.17"
    slices = kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=orchestrator",
                     "-o", "json")
    (found,) = json.loads(slices.stdout)["items"]
    assert found["endpoints"][0]["addresses"] == [address["ip"]]


def test_a_deleted_statefulset_pod_comes_back_under_its_name(
        kubectl: KubectlRunner, scenario_server: DrillServerThread) -> None:
    old = _state(scenario_server).get("v1", "Pod", "monitoring", "prometheus-0")
    assert old is not None
    assert kubectl("delete", "pod", "-n", "monitoring", "prometheus-0").returncode == 0
    new = _state(scenario_server).get("v1", "Pod", "monitoring", "prometheus-0")
    assert new is not None
    assert new["metadata"]["uid"] != old["metadata"]["uid"]


def test_a_deleted_daemonset_pod_is_replaced_on_its_node(
        kubectl: KubectlRunner, scenario_server: DrillServerThread) -> None:
    assert kubectl("delete", "pod", "-n", "falco-system", "falco-7xk2p").returncode == 0
    on_node = [p for p in _state(scenario_server).list("v1", "Pod", "falco-system")
               if p["spec"]["nodeName"] == "ip-10-0-1-23.eu-west-1.compute.internal"]
    assert [p["metadata"]["name"] != "falco-7xk2p" for p in on_node] == [True]


def test_scale_and_rollout_restart_status_undo(kubectl: KubectlRunner,
                                               scenario_server: DrillServerThread) -> None:
    state = _state(scenario_server)
    scaled = kubectl("scale", "deployment", "orchestrator", "--replicas=3")
    assert (scaled.returncode, scaled.stdout.strip()) == (0, "deployment.apps/orchestrator scaled")
    assert len(_pods(state, "app=orchestrator")) == 3
    restarted = kubectl("rollout", "restart", "deployment/orchestrator")
    assert restarted.returncode == 0, restarted.stderr
    status = kubectl("rollout", "status", "deployment/orchestrator", "--timeout=20s")
    assert status.stdout.strip() == 'deployment "orchestrator" successfully rolled out'
    pods = _pods(state, "app=orchestrator")
    assert len(pods) == 3
    assert not any(name.startswith("orchestrator-6f8d9c7b5d-") for name in pods)
    history = kubectl("rollout", "history", "deployment/orchestrator")
    # 1: the release before (2.13.4, in the base cluster), 2: the running one, 3: the restart.
    assert [line.split()[:2] for line in history.stdout.splitlines()[2:] if line.strip()] == [
        ["1", "orchestrator"], ["2", "<none>"], ["3", "<none>"]]
    undone = kubectl("rollout", "undo", "deployment/orchestrator")
    assert undone.stdout.strip() == "deployment.apps/orchestrator rolled back"
    assert all(name.startswith("orchestrator-6f8d9c7b5d-")
               for name in _pods(state, "app=orchestrator"))
    revision = state.get("apps/v1", "ReplicaSet", "voicehive", "orchestrator-6f8d9c7b5d")
    assert revision is not None
    assert revision["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"


def test_daemonset_rollout_uses_controller_revisions(kubectl: KubectlRunner) -> None:
    assert kubectl("rollout", "restart", "-n", "falco-system", "ds/falco").returncode == 0
    status = kubectl("rollout", "status", "-n", "falco-system", "ds/falco", "--timeout=20s")
    assert status.stdout.strip() == 'daemon set "falco" successfully rolled out'
    history = kubectl("rollout", "history", "-n", "falco-system", "ds/falco")
    assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line.strip()] == [
        "1", "2"]
    undone = kubectl("rollout", "undo", "-n", "falco-system", "ds/falco")
    assert undone.returncode == 0, undone.stderr
    revisions = kubectl("get", "controllerrevisions", "-n", "falco-system", "-o", "json")
    numbers = {r["metadata"]["name"]: r["revision"]
               for r in json.loads(revisions.stdout)["items"]}
    assert numbers["falco-6d9f8c7b5"] == 3  # the first template, current again


def test_describe_shows_what_a_real_server_fills(kubectl: KubectlRunner) -> None:
    pod = kubectl("get", "pod", ORCHESTRATOR, "-o", "json")
    spec = json.loads(pod.stdout)["spec"]
    assert spec["securityContext"] == {}
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == (
        "Always", "ClusterFirst", "default-scheduler")
    described = kubectl("describe", "deployment", "orchestrator")
    assert "NewReplicaSet:   orchestrator-6f8d9c7b5d (1/1 replicas created)" in described.stdout
    assert "Readiness:     http-get http://:http/healthz delay=0s timeout=1s period=10s " \
           "successThreshold=1 failureThreshold=3" in described.stdout
    node = kubectl("describe", "node", "ip-10-0-1-23.eu-west-1.compute.internal")
    assert "InternalIP:  10.0.1.23" in node.stdout
    assert "PodCIDR:                      10.42.1.0/24" in node.stdout


def test_configmaps_are_served(kubectl: KubectlRunner) -> None:
    corefile = kubectl("get", "configmap", "coredns", "-n", "kube-system", "-o",
                       "jsonpath={.data.Corefile}")
    assert "\n    log\n" in corefile.stdout
    assert kubectl("get", "cm", "kube-root-ca.crt", "-n", "voicehive").returncode == 0


# ----- item 5: exec and friends -------------------------------------------------------------


def test_exec_answers_the_scripted_commands(kubectl: KubectlRunner) -> None:
    health = kubectl("exec", "-n", "voicehive", "deploy/orchestrator", "--", "curl", "-s",
                     "http://tts-router/healthz")
    assert (health.returncode, json.loads(health.stdout)["status"]) == (0, "ok")
    processes = kubectl("exec", ORCHESTRATOR, "--", "ps", "aux")
    assert "python3 /tmp/.cache/tel.py --upload" in processes.stdout
    sockets = kubectl("exec", ORCHESTRATOR, "--", "sh", "-c", "ss -tnp")
    assert "10.42.1.17:38114    203.0.113.66:443" in sockets.stdout
    implant = kubectl("exec", ORCHESTRATOR, "-c", "orchestrator", "--", "cat",
                      "/tmp/.cache/tel.py")
    assert 'UPLOAD = "https://upload.cdn-telemetry.example.net/v2/ingest"' in implant.stdout


def test_exec_of_anything_else_says_it_is_not_scripted(kubectl: KubectlRunner) -> None:
    result = kubectl("exec", ORCHESTRATOR, "--", "whoami")
    assert result.returncode == 1
    assert "warroom drill: `whoami` is not scripted in this drill" in result.stderr
    assert "command terminated with exit code 1" in result.stderr


def test_promtool_queries_the_drills_prometheus(kubectl: KubectlRunner) -> None:
    # The runbook's line gives no server: real promtool refuses it, and so does the drill.
    runbook = kubectl("exec", "-n", "monitoring", "prometheus-0", "--", "promtool", "query",
                      "instant", "rate(istio_tcp_received_bytes_total[5m])")
    assert runbook.returncode == 1
    assert "promtool: error: required argument 'expr' not provided" in runbook.stderr
    fixed = kubectl("exec", "-n", "monitoring", "prometheus-0", "--", "promtool", "query",
                    "instant", "http://localhost:9090", "istio_tcp_received_bytes_total")
    assert fixed.returncode == 0, fixed.stderr
    assert " => " in fixed.stdout


def test_exec_through_the_official_client_v4(core: client.CoreV1Api) -> None:
    client_stream: Any = stream(core.connect_get_namespaced_pod_exec, ORCHESTRATOR,
                                "voicehive", command=["ps", "aux"], stderr=True, stdin=False,
                                stdout=True, tty=False, _preload_content=False)
    client_stream.run_forever(timeout=10)
    assert "tel.py" in client_stream.read_stdout()
    assert client_stream.returncode == 0
    failing: Any = stream(core.connect_get_namespaced_pod_exec, ORCHESTRATOR, "voicehive",
                          command=["id"], stderr=True, stdin=False, stdout=True, tty=False,
                          _preload_content=False)
    failing.run_forever(timeout=10)
    assert failing.returncode == 1


def test_attach_port_forward_and_cp_name_the_drill_limit(kubectl: KubectlRunner) -> None:
    attach = kubectl("attach", ORCHESTRATOR, timeout=20)
    assert attach.returncode == 1
    assert "kubectl attach (and the attach of kubectl debug -it or run -it) is a limit of " \
           "the warroom drill cluster" in attach.stderr
    forward = kubectl("port-forward", "svc/orchestrator", "18080:8080", timeout=20)
    assert forward.returncode == 1
    assert "kubectl port-forward is a limit of the warroom drill cluster" in forward.stderr
    copied = kubectl("cp", f"{ORCHESTRATOR}:/tmp/.cache/tel.py", os.devnull, timeout=20)
    assert copied.returncode == 1
    # kubectl cp reads the pod's tar from stdout and shows what came instead.
    assert "copying files is a limit of the warroom drill cluster" in copied.stdout


def test_debug_adds_an_ephemeral_container_without_a_panic(
        kubectl: KubectlRunner, scenario_server: DrillServerThread) -> None:
    result = kubectl("debug", ORCHESTRATOR, "--image=busybox:1.37", "--", "true", timeout=20)
    assert result.returncode == 0, result.stderr
    assert "panic" not in result.stderr
    pod = _state(scenario_server).get("v1", "Pod", "voicehive", ORCHESTRATOR)
    assert pod is not None
    (debugger,) = pod["spec"]["ephemeralContainers"]
    assert debugger["image"] == "busybox:1.37"
    (running,) = pod["status"]["ephemeralContainerStatuses"]
    assert "running" in running["state"]


def test_debug_node_and_copy_to_start_pods_as_a_kubelet_would(
        kubectl: KubectlRunner, scenario_server: DrillServerThread) -> None:
    node = "ip-10-0-1-23.eu-west-1.compute.internal"
    # Both POST their pod as protobuf; the node's debugging pod runs in the host's network.
    on_node = kubectl("debug", f"node/{node}", "--image=busybox:1.37", "--", "true", timeout=20)
    assert on_node.returncode == 0, on_node.stderr
    state = _state(scenario_server)
    (debugger,) = [p for p in state.list("v1", "Pod", "voicehive")
                   if p["metadata"]["name"].startswith(f"node-debugger-{node}-")]
    assert debugger["spec"]["hostPID"] is True
    assert debugger["spec"]["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    assert (debugger["status"]["phase"], debugger["status"]["podIP"]) == ("Running", "10.0.1.23")
    copied = kubectl("debug", ORCHESTRATOR, "--copy-to=orchestrator-copy",
                     "--image=busybox:1.37", "--", "true", timeout=20)
    assert copied.returncode == 0, copied.stderr
    copy_pod = state.get("v1", "Pod", "voicehive", "orchestrator-copy")
    assert copy_pod is not None
    assert copy_pod["spec"]["shareProcessNamespace"] is True
    assert [c["image"] for c in copy_pod["spec"]["containers"]][-1] == "busybox:1.37"
    assert copy_pod["status"]["phase"] == "Running"
    # A copy carries no app label: it does not join the Service's endpoints.
    assert "labels" not in copy_pod["metadata"]


def test_kubectl_run_starts_a_pod(kubectl: KubectlRunner) -> None:
    result = kubectl("run", "probe", "--image=busybox:1.37", "--", "sleep", "3600")
    assert result.returncode == 0, result.stderr
    shown = kubectl("get", "pod", "probe", "-o", "wide").stdout.splitlines()[1].split()
    assert shown[2] == "Running"
    assert shown[5].startswith("10.42.")


@pytest.mark.parametrize(("path", "content_type", "body"), [
    ("/apis/apps/v1/namespaces/voicehive/deployments/orchestrator/scale",
     "application/merge-patch+json", b"[1, 2]"),
    ("/apis/apps/v1/namespaces/voicehive/deployments/orchestrator/scale",
     "application/merge-patch+json", b'{"spec": {"replicas": "many"}}'),
    ("/apis/apps/v1/namespaces/voicehive/deployments/orchestrator/scale",
     "application/merge-patch+json", b'{"spec": {"replicas": -1}}'),
    (f"/api/v1/namespaces/voicehive/pods/{ORCHESTRATOR}/ephemeralcontainers",
     "application/strategic-merge-patch+json", b'{"spec": {"ephemeralContainers": "x"}}'),
    (f"/api/v1/namespaces/voicehive/pods/{ORCHESTRATOR}/ephemeralcontainers",
     "application/strategic-merge-patch+json", b'{"spec": {"nodeName": "elsewhere"}}'),
    ("/apis/apps/v1/namespaces/voicehive/deployments/orchestrator/status",
     "application/merge-patch+json", b'{"status": "up"}'),
])
def test_hostile_subresource_bodies_are_refused_not_crashed(
        scenario_server: DrillServerThread, path: str, content_type: str, body: bytes) -> None:
    response = raw_request(scenario_server, "PATCH", scenario_server.url + path, body=body,
                           headers={"Content-Type": content_type})
    assert response.status in (400, 422), response.data
    assert json.loads(response.data)["kind"] == "Status"


def test_hostile_protobuf_pods_are_refused_not_crashed(
        scenario_server: DrillServerThread) -> None:
    meta = b"\x0a\x02v1\x12\x03Pod"
    for raw in (b"\x12\x02\x0a\x00", b"\x12\x03\xa2\x01\x80", b"\x12\x04\x0a\x02\x42\x05",
                b"\x0a\x05\x5a\x03\x0a\x01"):
        body = b"k8s\x00\x0a" + bytes([len(meta)]) + meta + b"\x12" + bytes([len(raw)]) + raw
        response = raw_request(
            scenario_server, "POST", scenario_server.url + "/api/v1/namespaces/voicehive/pods",
            body=body, headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
        assert response.status in (400, 415, 422), (raw, response.data)


def test_pods_report_their_nodes_address(kubectl: KubectlRunner) -> None:
    described = kubectl("describe", "pod", ORCHESTRATOR)
    assert "Node:             ip-10-0-1-23.eu-west-1.compute.internal/10.0.1.23" \
        in described.stdout


def test_exec_scripts_are_checked_when_the_scenario_loads() -> None:
    from importlib import resources

    import yaml

    from actions.drill.scenario import ScenarioError, parse_scenario

    text = resources.files("actions.drill.scenarios").joinpath(
        "dns-exfiltration.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    document["exec"] = [
        {"pod": "a", "pods": {"app": "b"}, "command": "ps"},
        {"pods": {"app": "orchestrator"}, "match": "ps (", "exit": 300},
        {"pods": {"app": "orchestrator"}, "namespace": "nowhere", "command": "ps",
         "stdout": ["not", "text"]},
    ]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_dump(document), schemas=False)
    problems = "\n".join(caught.value.problems)
    assert "exec[0]" in problems
    assert "exactly one of pod (a name) or pods" in problems
    assert "exec[1].match" in problems
    assert "not a regular expression" in problems
    assert "exec[1].exit" in problems
    assert "exec[2].namespace" in problems
    assert "exec[2].stdout" in problems
