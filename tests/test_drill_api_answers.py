"""Right answers or honest errors: what the drill API server answers where a real 1.37
server answers something precise (logs options, field selectors, paging, Go validation,
whoami, server-side apply), checked with the real kubectl 1.37 and the official client."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client

from actions.drill.server import DrillServerThread
from tests.plugins.drill import SEED_TIME, KubectlRunner, new_sync_client, raw_request

NP = "networking.k8s.io/v1"


@pytest.fixture
def core(drill_kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(new_sync_client(drill_kubeconfig))


def _body(error: client.ApiException) -> dict[str, Any]:
    return dict(json.loads(error.body or "{}"))


def _get(server: DrillServerThread, path: str, **fields: str) -> urllib3.BaseHTTPResponse:
    return raw_request(server, "GET", server.url + path, fields=fields or None)


# ----- logs ---------------------------------------------------------------------------------


def test_tail_longer_than_half_the_log_returns_the_whole_log(
        kubectl: KubectlRunner, drill_server: DrillServerThread) -> None:
    # The Falco pod has 1 line; 20 more make 21, and --tail=25 must show all 21
    # (the old slice lines[len - tail:] started at -4 and returned 4 lines).
    for n in range(20):
        drill_server.state.append_log("falco-system", "falco-m4n8q", f"alert {n}")
    result = kubectl("logs", "-n", "falco-system", "falco-m4n8q", "--tail=25")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 21
    assert lines[0] == "Falco initialized with configuration files:"
    assert kubectl("logs", "-n", "falco-system", "falco-m4n8q",
                   "--tail=3").stdout.splitlines() == ["alert 17", "alert 18", "alert 19"]


def test_previous_log_of_a_container_that_never_restarted_is_400(
        kubectl: KubectlRunner) -> None:
    result = kubectl("logs", "-n", "falco-system", "falco-m4n8q", "--previous")
    assert result.returncode == 1
    assert result.stdout == ""
    assert ('Error from server (BadRequest): previous terminated container "falco" in pod '
            '"falco-m4n8q" not found') in result.stderr


def test_since_keeps_only_recent_lines(kubectl: KubectlRunner,
                                       drill_server: DrillServerThread) -> None:
    state = drill_server.state
    now = state.clock()
    state.append_log("falco-system", "falco-m4n8q", "two hours ago", at=now - timedelta(hours=2))
    state.append_log("falco-system", "falco-m4n8q", "ten minutes ago",
                     at=now - timedelta(minutes=10))
    assert kubectl("logs", "-n", "falco-system", "falco-m4n8q",
                   "--since=1h").stdout.splitlines() == ["ten minutes ago"]
    since_time = (SEED_TIME - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = kubectl("logs", "-n", "falco-system", "falco-x7k2p", f"--since-time={since_time}")
    assert [json.loads(line)["rule"] for line in result.stdout.splitlines()] == [
        "Contact K8S API Server From Container"]


def test_log_options_are_validated_as_the_server_does(drill_server: DrillServerThread) -> None:
    path = "/api/v1/namespaces/falco-system/pods/falco-m4n8q/log"
    zero = _get(drill_server, path, sinceSeconds="0")
    assert zero.status == 422
    assert json.loads(zero.data)["message"] == (
        'PodLogOptions "falco-m4n8q" is invalid: sinceSeconds: Invalid value: 0: must be '
        "greater than 0")
    both = _get(drill_server, path, sinceSeconds="5", sinceTime="2026-11-01T08:00:00Z")
    assert both.status == 422
    assert json.loads(both.data)["details"]["causes"][0]["reason"] == "FieldValueForbidden"
    # Hostile spans: one reaching past the calendar's start is every line; one past Go's
    # int64 is the API server's 400; neither ends the drill's server.
    ages = _get(drill_server, path, sinceSeconds=str(10**12))
    assert ages.status == 200
    assert b"Falco initialized" in ages.data
    huge = _get(drill_server, path, sinceSeconds=str(2**63))
    assert huge.status == 400
    assert "value out of range" in json.loads(huge.data)["message"]
    assert _get(drill_server, path, sinceSeconds="5").status == 200


# ----- field selectors ----------------------------------------------------------------------


def test_unsupported_field_selector_is_400_not_an_empty_list(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "pods", "-n", "voicehive", "--field-selector",
                     "status.qosClass=Burstable")
    assert result.returncode == 1
    assert "Error from server (BadRequest)" in result.stderr
    assert "field label not supported: status.qosClass" in result.stderr
    assert "No resources found" not in result.stdout + result.stderr


def test_supported_field_selectors_of_each_kind(kubectl: KubectlRunner) -> None:
    on_node = kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=node-1",
                      "-o", "name")
    assert on_node.returncode == 0, on_node.stderr
    assert len(on_node.stdout.splitlines()) == 7
    by_source = kubectl("get", "events", "-n", "voicehive", "--field-selector",
                        "source=kubelet,type=Warning", "-o", "name")
    assert len(by_source.stdout.splitlines()) == 2
    tokens = kubectl("get", "secrets", "-n", "voicehive", "--field-selector",
                     "type=kubernetes.io/service-account-token", "-o", "name")
    assert sorted(tokens.stdout.split()) == ["secret/orchestrator-token",
                                             "secret/tts-router-token"]
    # Custom resources only know metadata.name and metadata.namespace.
    crd = kubectl("get", "peerauthentications.security.istio.io", "-n", "voicehive",
                  "--field-selector", "spec.mtls.mode=STRICT")
    assert "field label not supported: spec.mtls.mode" in crd.stderr


def test_watch_with_an_unsupported_field_selector_is_400(
        drill_server: DrillServerThread) -> None:
    response = _get(drill_server, "/api/v1/namespaces/voicehive/pods", watch="1",
                    fieldSelector="spec.containers=x", timeoutSeconds="1")
    assert response.status == 400
    assert json.loads(response.data)["message"] == "field label not supported: spec.containers"


# ----- paging -------------------------------------------------------------------------------


def test_limit_and_continue_page_through_one_consistent_snapshot(
        core: client.CoreV1Api, drill_server: DrillServerThread) -> None:
    first: Any = core.list_pod_for_all_namespaces(limit=3)
    # Ordered by storage key, namespace/name, as etcd returns them.
    assert [p.metadata.name for p in first.items] == [
        "falco-m4n8q", "falco-x7k2p", "istiod-5d7f8c9b6d-h2j4k"]
    assert first.metadata.remaining_item_count == 4
    token = first.metadata._continue
    assert json.loads(base64.urlsafe_b64decode(token + "==")) == {
        "v": "meta.k8s.io/v1", "rv": int(first.metadata.resource_version),
        "start": "istio-system/istiod-5d7f8c9b6d-h2j4k\u0000"}
    # A pod created and one deleted after the first chunk do not change the later chunks.
    drill_server.state.delete("v1", "Pod", "voicehive", "tts-router-7c9d8e6f5a-q7w3e")
    drill_server.state.create({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": "late", "namespace": "monitoring"},
                               "spec": {"containers": [{"name": "c", "image": "i"}]}})
    second: Any = core.list_pod_for_all_namespaces(limit=3, _continue=token)
    assert second.metadata.resource_version == first.metadata.resource_version
    third: Any = core.list_pod_for_all_namespaces(limit=3,
                                                  _continue=second.metadata._continue)
    names = [p.metadata.name for p in second.items + third.items]
    assert names == ["coredns-6d4b75cb6d-z9x8c", "prometheus-0", "orchestrator-6f8d9c7b5d-k2x9p",
                     "tts-router-7c9d8e6f5a-q7w3e"]
    assert third.metadata._continue is None


def test_kubectl_get_follows_continue_tokens(kubectl: KubectlRunner) -> None:
    result = kubectl("get", "pods", "-A", "--chunk-size=2", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 7


def test_expired_and_garbage_continue_tokens(core: client.CoreV1Api,
                                             drill_server: DrillServerThread) -> None:
    listed: Any = core.list_pod_for_all_namespaces(limit=2)
    token = listed.metadata._continue
    drill_server.state.create({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": "after"}})
    drill_server.state.compact()
    with pytest.raises(client.ApiException) as expired:
        core.list_pod_for_all_namespaces(limit=2, _continue=token)
    assert (expired.value.status, _body(expired.value)["reason"]) == (410, "Expired")
    assert "too old to display a consistent list" in _body(expired.value)["message"]
    # Not a token of ours: 400, as the etcd3 store answers (not an empty list).
    for garbage in ("not-a-token!", base64.urlsafe_b64encode(b'{"v":"x"}').decode()):
        with pytest.raises(client.ApiException) as caught:
            core.list_pod_for_all_namespaces(limit=2, _continue=garbage)
        status: dict[str, Any] = _body(caught.value)
        assert caught.value.status == 400
        assert status["message"].startswith("invalid continue token: continue key is not valid")


# ----- Go validation of what responders create ----------------------------------------------

_POLICY_HEAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: voicehive
spec:
"""


def _apply(kubectl: KubectlRunner, name: str, spec: str) -> Any:
    return kubectl("apply", "-f", "-", input=_POLICY_HEAD.format(name=name) + spec)


def test_unknown_policy_type_is_unsupported_value(kubectl: KubectlRunner,
                                                  drill_server: DrillServerThread) -> None:
    result = _apply(kubectl, "sideways", "  podSelector: {}\n  policyTypes: [Ingress, Sideways]\n")
    assert result.returncode == 1
    assert ('The NetworkPolicy "sideways" is invalid: spec.policyTypes[1]: Unsupported value: '
            '"Sideways": supported values: "Ingress", "Egress"') in result.stderr
    assert drill_server.state.get(NP, "NetworkPolicy", "voicehive", "sideways") is None


def test_policy_field_errors_come_back_as_causes_with_paths(
        drill_kubeconfig: Path) -> None:
    api = client.NetworkingV1Api(new_sync_client(drill_kubeconfig))
    body: Any = {"apiVersion": NP, "kind": "NetworkPolicy", "metadata": {"name": "bad"}, "spec": {
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
        "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.7", "except": ["10.0.0.0/8"]}},
                           {}],
                    "ports": [{"protocol": "ICMP", "port": 70000},
                              {"port": "http_alt", "endPort": 90}]}]}}
    with pytest.raises(client.ApiException) as caught:
        api.create_namespaced_network_policy("voicehive", body)
    assert caught.value.status == 422
    causes = {(c["field"], c["reason"]) for c in _body(caught.value)["details"]["causes"]}
    assert causes == {
        ("spec.podSelector.matchExpressions[0].values", "FieldValueRequired"),
        ("spec.egress[0].ports[0].protocol", "FieldValueNotSupported"),
        ("spec.egress[0].ports[0].port", "FieldValueInvalid"),
        ("spec.egress[0].ports[1].endPort", "FieldValueInvalid"),
        ("spec.egress[0].ports[1].port", "FieldValueInvalid"),
        ("spec.egress[0].to[0].ipBlock.cidr", "FieldValueInvalid"),  # Go wants the /prefix
        ("spec.egress[0].to[1]", "FieldValueRequired"),  # must specify a peer
    }


def test_except_outside_the_cidr_and_bad_labels_are_refused(kubectl: KubectlRunner) -> None:
    result = _apply(kubectl, "x", """\
  podSelector:
    matchLabels: {app: "orchestrator!"}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}
      podSelector: {}
""")
    assert result.returncode == 1
    for text in ('spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must '
                 "be a strict subset of `cidr`",
                 "spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer",
                 'spec.podSelector.matchLabels: Invalid value: "orchestrator!": a valid label '
                 "must be an empty string"):
        assert text in result.stderr


def test_an_ambiguous_cidr_is_accepted_with_the_servers_warning(kubectl: KubectlRunner) -> None:
    result = _apply(kubectl, "ambiguous", """\
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.1/8}
""")
    assert result.returncode == 0, result.stderr
    assert ('Warning: spec.egress[0].to[0].ipBlock.cidr: CIDR value "10.0.0.1/8" is ambiguous '
            'in this context (should be "10.0.0.0/8" or "10.0.0.1/32"?)') in result.stderr


def test_names_must_be_dns_1123(kubectl: KubectlRunner) -> None:
    result = _apply(kubectl, "Emergency_Isolation", "  podSelector: {}\n")
    assert result.returncode == 1
    assert ('metadata.name: Invalid value: "Emergency_Isolation": a lowercase RFC 1123 '
            "subdomain must consist of") in result.stderr


# ----- explain, whoami, can-i --list, server-side apply -------------------------------------


def test_explain_reads_the_served_openapi_schemas(kubectl: KubectlRunner) -> None:
    block = kubectl("explain", "networkpolicy.spec.egress.to.ipBlock")
    assert block.returncode == 0, block.stderr
    assert "FIELD: ipBlock <IPBlock>" in block.stdout
    assert "cidr\t<string> -required-" in block.stdout
    istio = kubectl("explain", "authorizationpolicies.security.istio.io.spec.action")
    assert istio.returncode == 0, istio.stderr
    enum = istio.stdout.split("ENUM:")[1].split("DESCRIPTION:")[0]
    assert enum.split() == ["ALLOW", "DENY", "AUDIT", "CUSTOM"]
    deployment = kubectl("explain", "deployment.spec.strategy")
    assert deployment.returncode == 0, deployment.stderr
    assert "GROUP:      apps" in deployment.stdout
    assert "rollingUpdate\t<RollingUpdateDeployment>" in deployment.stdout


def test_auth_whoami_names_the_drill_user(kubectl: KubectlRunner) -> None:
    result = kubectl("auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    user = json.loads(result.stdout)["status"]["userInfo"]
    assert user == {"username": "system:serviceaccount:voicehive:warroom-operator",
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:voicehive",
                               "system:authenticated"]}


def test_server_side_apply_is_refused_naming_the_limit(kubectl: KubectlRunner,
                                                      drill_server: DrillServerThread) -> None:
    result = _apply_server_side(kubectl)
    assert result.returncode == 1
    # kubectl recognises the 415 and says so itself, quoting the server's Status.
    assert "error: Server-side apply not available on the server" in result.stderr
    assert "server-side apply is a limit of the warroom drill cluster" in result.stderr
    assert drill_server.state.get(NP, "NetworkPolicy", "voicehive", "ssa") is None


def _apply_server_side(kubectl: KubectlRunner) -> Any:
    return kubectl("apply", "--server-side", "-f", "-",
                   input=_POLICY_HEAD.format(name="ssa") + "  podSelector: {}\n")


def test_the_crds_cel_rules_are_enforced(kubectl: KubectlRunner,
                                         drill_server: DrillServerThread) -> None:
    result = kubectl("apply", "-f", "-", input="""\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: emergency-deny, namespace: voicehive}
spec:
  selector:
    matchLabels: {"app*": orchestrator}
  targetRefs: [{kind: Service, group: "", name: orchestrator}]
""")
    assert result.returncode == 1
    # kubectl lists the causes of the 422, one a line.
    assert result.stderr.splitlines() == [
        'The AuthorizationPolicy "emergency-deny" is invalid: ',
        '* spec: Invalid value: "object": only one of targetRefs or selector can be set',
        '* spec.selector.matchLabels: Invalid value: "object": wildcard not allowed in label '
        "key match"]
    assert drill_server.state.get("security.istio.io/v1", "AuthorizationPolicy", "voicehive",
                                  "emergency-deny") is None
    port = kubectl("apply", "-f", "-", input="""\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict-port, namespace: voicehive}
spec:
  selector: {matchLabels: {app: orchestrator}}
  portLevelMtls: {"70000": {mode: STRICT}}
""")
    assert 'spec.portLevelMtls: Invalid value: "object": port must be between 1-65535' \
        in port.stderr


def test_the_runbooks_linkerd_authorization_without_client_is_refused(
        kubectl: KubectlRunner) -> None:
    # The runbook's "Linkerd Containment" omits `client`, which the CRD requires: a real
    # server refuses it too (the block it means to apply never exists).
    result = kubectl("apply", "-f", "-", input="""\
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata:
  name: emergency-block-1764234000
  namespace: voicehive
spec:
  server:
    name: orchestrator-server
""")
    assert result.returncode == 1
    assert "ServerAuthorization" in result.stderr
    assert "spec: 'client' is a required property" in result.stderr
