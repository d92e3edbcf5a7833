"""The runbook's kubectl commands, run with the real kubectl 1.37 against the drill cluster."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.drill.server import DrillServerThread
from tests.plugins.drill import KUBECTL, RUNBOOK_ISOLATION_POLICY, KubectlRunner, make_kubectl
from tests.test_drill_api_workloads import scenario_server  # noqa: F401 - a fixture


def _policy(server: DrillServerThread, name: str) -> dict[str, Any] | None:
    return server.state.get("networking.k8s.io/v1", "NetworkPolicy", "voicehive", name)


def test_get_networkpolicies_yaml_shows_the_ipblock(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "networkpolicies", "-n", "voicehive", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    listed = yaml.safe_load(result.stdout)
    assert listed["kind"] == "List"
    (policy,) = listed["items"]
    assert policy["metadata"]["name"] == "external-api-segmentation"
    assert policy["spec"]["egress"][0]["to"][0]["ipBlock"] == {
        "cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32"]}


def test_events_sorted_by_last_timestamp(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "events", "-n", "voicehive", "--sort-by=.lastTimestamp")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    # Seeded 50, 30, 20 and 10 minutes before the seed time: oldest first.
    assert [row.split()[2] for row in rows] == ["Started", "BackOff", "NetworkPolicyUpdated",
                                                "Unhealthy"]


def test_get_prints_the_server_side_columns(kubectl: KubectlRunner) -> None:
    policies = kubectl("get", "networkpolicies", "-n", "voicehive")
    assert policies.stdout.splitlines()[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert policies.stdout.splitlines()[1].split()[:2] == ["external-api-segmentation",
                                                           "app=orchestrator"]
    pods = kubectl("get", "pods", "-n", "falco-system", "-l", "app=falco")
    assert [line.split()[:3] for line in pods.stdout.splitlines()] == [
        ["NAME", "READY", "STATUS"], ["falco-m4n8q", "1/1", "Running"],
        ["falco-x7k2p", "1/1", "Running"]]


def test_warning_events_by_field_selector(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "events", "-n", "voicehive", "--field-selector", "type=Warning",
                     "-o", "json")
    assert result.returncode == 0, result.stderr
    reasons = sorted(item["reason"] for item in json.loads(result.stdout)["items"])
    assert reasons == ["BackOff", "Unhealthy"]


def test_falco_logs_by_label_with_tail(kubectl: KubectlRunner,
                                       drill_server: DrillServerThread) -> None:
    for n in range(150):
        drill_server.state.append_log("falco-system", "falco-m4n8q", f'{{"seq": {n}}}')
    result = kubectl("logs", "-n", "falco-system", "-l", "app=falco", "--tail=100")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '{"seq": 149}' in lines
    assert '{"seq": 50}' in lines
    assert '{"seq": 49}' not in lines  # the tail of 100 cut the older lines of that pod
    assert any('"rule": "Contact K8S API Server From Container"' in line for line in lines)


def test_get_peerauthentication_and_authorizationpolicy(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "peerauthentication,authorizationpolicy", "-n", "voicehive")
    assert result.returncode == 0, result.stderr
    assert "peerauthentication.security.istio.io/default" in result.stdout
    # The short name resolves to Istio's kind, as on a cluster running Istio and Linkerd.
    assert "authorizationpolicy.security.istio.io/allow-orchestrator-to-tts" in result.stdout


def test_apply_emergency_policy_with_server_side_validation(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    result = kubectl("apply", "-f", "-", input=RUNBOOK_ISOLATION_POLICY)
    assert result.returncode == 0, result.stderr
    assert "networkpolicy.networking.k8s.io/emergency-isolation-1764234000 created" \
        in result.stdout
    stored = _policy(drill_server, "emergency-isolation-1764234000")
    assert stored is not None
    assert stored["spec"]["podSelector"] == {"matchLabels": {"app": "orchestrator"}}
    annotations = stored["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations

    again = kubectl("apply", "-f", "-", input=RUNBOOK_ISOLATION_POLICY)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout
    after = _policy(drill_server, "emergency-isolation-1764234000")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_apply_rejects_a_misspelt_field_under_strict_validation(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    typo = RUNBOOK_ISOLATION_POLICY.replace("  policyTypes:", "  policyTypez:")
    result = kubectl("apply", "-f", "-", input=typo)
    assert result.returncode == 1
    assert 'strict decoding error: unknown field "spec.policyTypez"' in result.stderr
    assert _policy(drill_server, "emergency-isolation-1764234000") is None


def test_apply_with_validate_false(kubectl: KubectlRunner,
                                   drill_server: DrillServerThread) -> None:
    result = kubectl("apply", "--validate=false", "-f", "-", input=RUNBOOK_ISOLATION_POLICY)
    assert result.returncode == 0, result.stderr
    assert _policy(drill_server, "emergency-isolation-1764234000") is not None


def test_apply_changed_policy_is_configured(kubectl: KubectlRunner,
                                            drill_server: DrillServerThread) -> None:
    assert kubectl("apply", "-f", "-", input=RUNBOOK_ISOLATION_POLICY).returncode == 0
    changed = RUNBOOK_ISOLATION_POLICY.replace("app: orchestrator", "app: tts-router")
    result = kubectl("apply", "-f", "-", input=changed)
    assert result.returncode == 0, result.stderr
    assert "configured" in result.stdout
    stored = _policy(drill_server, "emergency-isolation-1764234000")
    assert stored is not None
    assert stored["spec"]["podSelector"]["matchLabels"] == {"app": "tts-router"}
    assert stored["metadata"]["generation"] == 2


def test_runbook_block_ip_json_patch_appends_to_except(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    result = kubectl(
        "patch", "networkpolicy", "external-api-segmentation", "-n", "voicehive",
        "--type=json",
        '-p=[{"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-", '
        '"value": "203.0.113.7/32"}]')
    assert result.returncode == 0, result.stderr
    assert "patched" in result.stdout
    stored = _policy(drill_server, "external-api-segmentation")
    assert stored is not None
    assert stored["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] == [
        "10.0.0.0/8", "169.254.169.254/32", "203.0.113.7/32"]


def test_json_patch_with_an_invalid_ip_is_rejected(kubectl: KubectlRunner,
                                                   drill_server: DrillServerThread) -> None:
    result = kubectl(
        "patch", "networkpolicy", "external-api-segmentation", "-n", "voicehive",
        "--type=json",
        '-p=[{"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-", '
        '"value": "SUSPICIOUS_IP/32"}]')
    assert result.returncode == 1
    assert "Invalid" in result.stderr
    assert "SUSPICIOUS_IP/32" in result.stderr
    stored = _policy(drill_server, "external-api-segmentation")
    assert stored is not None
    assert "SUSPICIOUS_IP/32" not in stored["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]


def test_runbook_disable_service_account_patch(kubectl: KubectlRunner,
                                               drill_server: DrillServerThread) -> None:
    result = kubectl("patch", "serviceaccount", "orchestrator", "-n", "voicehive", "-p",
                     '{"metadata":{"annotations":{"security.voicehive.io/disabled":"true"}}}')
    assert result.returncode == 0, result.stderr
    account = drill_server.state.get("v1", "ServiceAccount", "voicehive", "orchestrator")
    assert account is not None
    assert account["metadata"]["annotations"] == {"security.voicehive.io/disabled": "true"}
    assert account["secrets"] == [{"name": "orchestrator-token"}]


def test_delete_emergency_policies_by_label(kubectl: KubectlRunner,
                                           drill_server: DrillServerThread) -> None:
    assert kubectl("apply", "-f", "-", input=RUNBOOK_ISOLATION_POLICY).returncode == 0
    result = kubectl("delete", "networkpolicy", "-l", "emergency=true", "-n", "voicehive")
    assert result.returncode == 0, result.stderr
    assert 'networkpolicy.networking.k8s.io "emergency-isolation-1764234000" deleted' \
        in result.stdout
    assert _policy(drill_server, "emergency-isolation-1764234000") is None
    assert _policy(drill_server, "external-api-segmentation") is not None


def test_delete_missing_policy_reports_not_found(kubectl: KubectlRunner) -> None:
    result = kubectl("delete", "networkpolicy", "emergency-isolation-none", "-n", "voicehive")
    assert result.returncode == 1
    assert ('Error from server (NotFound): networkpolicies.networking.k8s.io '
            '"emergency-isolation-none" not found') in result.stderr


def test_delete_token_secret_named_by_the_service_account(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    name = kubectl("get", "sa", "orchestrator", "-n", "voicehive", "-o",
                   "jsonpath={.secrets[0].name}")
    assert name.stdout == "orchestrator-token"
    result = kubectl("delete", "secret", name.stdout, "-n", "voicehive")
    assert result.returncode == 0, result.stderr
    assert drill_server.state.get("v1", "Secret", "voicehive", "orchestrator-token") is None


def test_auth_can_i_follows_the_scenario_rbac(kubectl: KubectlRunner,
                                              drill_server: DrillServerThread) -> None:
    allowed = kubectl("auth", "can-i", "patch", "networkpolicies", "-n", "voicehive")
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "yes")
    drill_server.state.set_rbac([
        {"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]},
        {"verbs": ["patch"], "apiGroups": ["networking.k8s.io"],
         "resources": ["networkpolicies"], "namespaces": ["voicehive"]},
    ])
    assert kubectl("auth", "can-i", "patch", "networkpolicies", "-n",
                   "voicehive").stdout.strip() == "yes"
    denied = kubectl("auth", "can-i", "delete", "networkpolicies", "-n", "voicehive")
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    elsewhere = kubectl("auth", "can-i", "patch", "networkpolicies", "-n", "kube-system")
    assert elsewhere.stdout.strip() == "no"


def test_forbidden_delete_prints_the_real_message(kubectl: KubectlRunner,
                                                  drill_server: DrillServerThread) -> None:
    drill_server.state.set_rbac([{"verbs": ["get", "list"], "apiGroups": ["*"],
                                  "resources": ["*"]}])
    result = kubectl("delete", "networkpolicy", "external-api-segmentation", "-n", "voicehive")
    assert result.returncode == 1
    assert ('Error from server (Forbidden): networkpolicies.networking.k8s.io '
            '"external-api-segmentation" is forbidden: User ') in result.stderr
    assert ('cannot delete resource "networkpolicies" in API group "networking.k8s.io" in the '
            'namespace "voicehive"') in result.stderr
    assert _policy(drill_server, "external-api-segmentation") is not None


def test_describe_networkpolicy(kubectl: KubectlRunner) -> None:
    result = kubectl("describe", "networkpolicy", "external-api-segmentation", "-n", "voicehive")
    assert result.returncode == 0, result.stderr
    assert "Name:         external-api-segmentation" in result.stdout
    assert "Except: 10.0.0.0/8, 169.254.169.254/32" in result.stdout


def test_describe_pod_lists_its_events(kubectl: KubectlRunner) -> None:
    result = kubectl("describe", "pod", "orchestrator-6f8d9c7b5d-k2x9p", "-n", "voicehive")
    assert result.returncode == 0, result.stderr
    assert "app=orchestrator" in result.stdout
    assert "Readiness probe failed" in result.stdout


def test_server_dry_run_changes_nothing(kubectl: KubectlRunner,
                                        drill_server: DrillServerThread) -> None:
    before = drill_server.state.resource_version
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=RUNBOOK_ISOLATION_POLICY)
    assert result.returncode == 0, result.stderr
    assert "(server dry run)" in result.stdout
    assert _policy(drill_server, "emergency-isolation-1764234000") is None
    assert drill_server.state.resource_version == before


def test_get_in_a_missing_namespace(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "networkpolicy", "x", "-n", "nowhere")
    assert result.returncode == 1
    assert "NotFound" in result.stderr


def test_logs_follow_sees_new_lines(drill_server: DrillServerThread,
                                    drill_kubeconfig: Path) -> None:
    env = {"KUBECONFIG": str(drill_kubeconfig), "HOME": str(drill_kubeconfig.parent)}
    process = subprocess.Popen(
        [str(KUBECTL), "logs", "-f", "-n", "falco-system", "falco-x7k2p", "--tail=1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(20, process.kill)  # a broken follow fails instead of hanging
    watchdog.start()
    try:
        assert process.stdout is not None
        # The last existing line arrives first: from then on kubectl is following.
        assert '"rule": "Contact K8S API Server From Container"' in process.stdout.readline()
        drill_server.state.append_log("falco-system", "falco-x7k2p", '{"rule": "late"}')
        assert process.stdout.readline() == '{"rule": "late"}\n'
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()


def test_get_watch_prints_new_policies(drill_server: DrillServerThread,
                                       drill_kubeconfig: Path) -> None:
    env = {"KUBECONFIG": str(drill_kubeconfig), "HOME": str(drill_kubeconfig.parent)}
    process = subprocess.Popen(
        [str(KUBECTL), "get", "networkpolicies", "-n", "voicehive", "-w"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        assert process.stdout.readline().split()[:2] == ["NAME", "POD-SELECTOR"]
        assert process.stdout.readline().split()[:2] == ["external-api-segmentation",
                                                         "app=orchestrator"]
        drill_server.state.create({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "emergency-isolation-late", "namespace": "voicehive"},
            "spec": {"podSelector": {"matchLabels": {"app": "tts-router"}}}})
        assert process.stdout.readline().split()[:2] == ["emergency-isolation-late",
                                                         "app=tts-router"]
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()


def test_create_generators_send_protobuf(kubectl: KubectlRunner,
                                         drill_server: DrillServerThread) -> None:
    # kubectl create namespace/serviceaccount/secret POST protobuf bodies.
    assert kubectl("create", "namespace", "scratch").returncode == 0
    assert kubectl("create", "serviceaccount", "rotated", "-n", "voicehive").returncode == 0
    result = kubectl("create", "secret", "generic", "rotated-token", "-n", "voicehive",
                     "--from-literal=token=abc", "--type=kubernetes.io/service-account-token")
    assert result.returncode == 0, result.stderr
    state = drill_server.state
    namespace = state.get("v1", "Namespace", None, "scratch")
    assert namespace is not None
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": "scratch"}
    assert state.get("v1", "ServiceAccount", "voicehive", "rotated") is not None
    secret = state.get("v1", "Secret", "voicehive", "rotated-token")
    assert secret is not None
    assert (secret["type"], secret["data"]) == ("kubernetes.io/service-account-token",
                                                {"token": "YWJj"})


def test_auth_can_i_list_shows_the_rules_of_a_namespace(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    drill_server.state.set_rbac([
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
        {"verbs": ["patch"], "apiGroups": ["networking.k8s.io"],
         "resources": ["networkpolicies"], "namespaces": ["voicehive"],
         "resourceNames": ["external-api-segmentation"]},
    ])
    here = kubectl("auth", "can-i", "--list", "-n", "voicehive")
    assert here.returncode == 0, here.stderr
    rows = {line.split()[0]: line.split("]")[-2].rsplit("[", 1)[-1]
            for line in here.stdout.splitlines()[1:]}
    assert rows == {"pods": "get list", "pods/log": "get list",
                    "networkpolicies.networking.k8s.io": "patch"}
    assert "[external-api-segmentation]" in here.stdout
    elsewhere = kubectl("auth", "can-i", "--list", "-n", "kube-system")
    assert "networkpolicies" not in elsewhere.stdout


# ----- the runbook's lines on a scenario's cluster, as they behave on a real 1.37 cluster ----
# (docs/drill-conformance.md lists each line with what a real cluster answers.)


@pytest.fixture
def runbook(scenario_server: DrillServerThread, tmp_path: Path) -> KubectlRunner:  # noqa: F811
    home = tmp_path / "runbook-home"
    home.mkdir()
    return make_kubectl(scenario_server.kubeconfig_path(tmp_path / "runbook"), home)


def test_runbook_health_check_through_the_deployment(runbook: KubectlRunner) -> None:
    # Phase 4 "Test service connectivity": exec through deploy/ needs Deployments and exec.
    result = runbook("exec", "-n", "voicehive", "deploy/orchestrator", "--", "curl", "-s",
                     "http://tts-router/healthz")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"


def test_runbook_promtool_line_fails_as_promtool_does(runbook: KubectlRunner) -> None:
    # The runbook's own fault: `promtool query instant` needs the server before the query.
    result = runbook("exec", "-n", "monitoring", "prometheus-0", "--", "promtool", "query",
                     "instant", "rate(istio_tcp_received_bytes_total[5m])")
    assert result.returncode == 1
    assert "required argument 'expr' not provided" in result.stderr


def test_runbook_dns_logs_of_the_last_hour(runbook: KubectlRunner) -> None:
    result = runbook("logs", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--since=1h")
    assert result.returncode == 0, result.stderr
    assert "CoreDNS-1.11.3" in result.stdout


def test_runbook_wildcard_deletes_are_not_found_as_on_a_real_cluster(
        runbook: KubectlRunner) -> None:
    # kubectl passes `emergency-isolation-*` as a name: no object has it (a runbook fault).
    policies = runbook("delete", "networkpolicy", "emergency-isolation-*", "-n", "voicehive")
    assert policies.returncode == 1
    assert ('Error from server (NotFound): networkpolicies.networking.k8s.io '
            '"emergency-isolation-*" not found') in policies.stderr
    istio = runbook("delete", "authorizationpolicy", "emergency-deny-*", "-n", "voicehive")
    assert ('Error from server (NotFound): authorizationpolicies.security.istio.io '
            '"emergency-deny-*" not found') in istio.stderr


def test_runbook_cni_patch_finds_no_cilium(runbook: KubectlRunner) -> None:
    # This cluster runs no Cilium: a real server answers NotFound for the DaemonSet.
    result = runbook("set", "image", "daemonset/cilium", "-n", "kube-system",
                     "cilium-agent=cilium/cilium:v1.18.2")
    assert result.returncode == 1
    assert 'Error from server (NotFound): daemonsets.apps "cilium" not found' in result.stderr


def test_runbook_grafana_port_forward_finds_no_grafana(runbook: KubectlRunner) -> None:
    result = runbook("port-forward", "-n", "istio-system", "svc/grafana", "3000:3000",
                     timeout=20)
    assert result.returncode == 1
    assert 'Error from server (NotFound): services "grafana" not found' in result.stderr


def test_runbook_istio_emergency_deny_applies(runbook: KubectlRunner,
                                             scenario_server: DrillServerThread) -> None:  # noqa: F811
    result = runbook("apply", "-f", "-", input="""\
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: emergency-deny-1764234000
  namespace: voicehive
spec:
  selector:
    matchLabels:
      app: orchestrator
""")
    assert result.returncode == 0, result.stderr
    assert scenario_server.state.get("security.istio.io/v1", "AuthorizationPolicy", "voicehive",
                                     "emergency-deny-1764234000") is not None


@pytest.mark.parametrize("line", [
    "get events -n voicehive --sort-by=.lastTimestamp",
    "logs -n falco-system -l app=falco --tail=100",
    "get networkpolicies -n voicehive -o yaml",
    "get peerauthentication,authorizationpolicy -n voicehive",
    "logs -n voicehive -l app=orchestrator --tail=1000",
    "get events -n voicehive --field-selector reason=NetworkPolicyUpdated",
    "get events -n istio-system --sort-by=.lastTimestamp",
    "describe networkpolicy -n voicehive",
    "get networkpolicies -n voicehive",
    "get events -n voicehive --field-selector type=Warning --sort-by=.lastTimestamp",
])
def test_runbook_read_lines_answer_on_a_scenario_cluster(runbook: KubectlRunner,
                                                         line: str) -> None:
    result = runbook(*line.split())
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower()
