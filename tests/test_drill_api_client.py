"""The official sync client (kubernetes 37) against the drill cluster over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch

from actions.drill.server import DrillServerThread
from tests.plugins.drill import (
    as_object,
    except_list,
    meta,
    name_of,
    new_sync_client,
    present,
    raw_request,
)

NP = "networking.k8s.io/v1"


@pytest.fixture
def api(drill_kubeconfig: Path) -> Iterator[client.ApiClient]:
    with new_sync_client(drill_kubeconfig) as api_client:  # closes it
        yield api_client


def _status(error: client.ApiException) -> dict[str, Any]:
    assert error.body is not None  # the server's Status
    status: dict[str, Any] = json.loads(error.body)
    return status


def create_policy(
    networking: client.NetworkingV1Api, namespace: str, manifest: dict[str, Any], **options: Any
) -> client.V1NetworkPolicy:
    """Create from a manifest as a script writes it: the client sends a dict body as it is,
    though kubernetes.client annotates the body as the model only (hence the one ignore)."""
    create = networking.create_namespaced_network_policy
    return create(namespace, manifest, **options)  # type: ignore[arg-type]


def _policy(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": NP, "kind": "NetworkPolicy",
            "metadata": {"name": name, "labels": {"emergency": "true"}},
            "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}},
                     "policyTypes": ["Ingress", "Egress"], **spec}}


def test_create_fills_server_fields(api: client.ApiClient) -> None:
    created = create_policy(
        client.NetworkingV1Api(api), "voicehive", _policy("emergency-isolation-1"))
    assert meta(created).uid
    assert present(meta(created).creation_timestamp).tzinfo is not None
    assert meta(created).generation == 1
    assert int(present(meta(created).resource_version)) > 0


def test_generate_name(api: client.ApiClient) -> None:
    body = _policy("")
    body["metadata"] = {"generateName": "emergency-isolation-"}
    created = create_policy(client.NetworkingV1Api(api), "voicehive", body)
    name = name_of(created)
    assert name.startswith("emergency-isolation-")
    assert len(name) == len("emergency-isolation-") + 5


def test_get_missing_is_not_found_status(api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as caught:
        client.NetworkingV1Api(api).read_namespaced_network_policy("x", "voicehive")
    assert caught.value.status == 404
    assert _status(caught.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'networkpolicies.networking.k8s.io "x" not found', "reason": "NotFound",
        "details": {"name": "x", "group": "networking.k8s.io", "kind": "networkpolicies"},
        "code": 404}


def test_duplicate_create_is_already_exists(api: client.ApiClient) -> None:
    networking = client.NetworkingV1Api(api)
    create_policy(networking, "voicehive", _policy("dup"))
    with pytest.raises(client.ApiException) as caught:
        create_policy(networking, "voicehive", _policy("dup"))
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "AlreadyExists"


def test_create_in_missing_namespace(api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as caught:
        create_policy(client.NetworkingV1Api(api), "nowhere", _policy("x"))
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == 'namespaces "nowhere" not found'


def test_list_by_label_selectors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    assert [name_of(p) for p in core.list_namespaced_pod(
        "falco-system", label_selector="app=falco").items] == ["falco-m4n8q", "falco-x7k2p"]
    routers = core.list_namespaced_pod("voicehive", label_selector="app in (tts-router)").items
    assert name_of(routers[0]) == "tts-router-7c9d8e6f5a-q7w3e"
    assert [name_of(p) for p in core.list_namespaced_pod(
        "voicehive", label_selector="app notin (tts-router),app").items] == [
        "orchestrator-6f8d9c7b5d-k2x9p"]
    assert core.list_namespaced_pod("voicehive", label_selector="!app").items == []
    assert len(core.list_pod_for_all_namespaces(label_selector="app!=falco").items) == 5


def test_empty_list_has_items_and_kind(api: client.ApiClient) -> None:
    listed = client.NetworkingV1Api(api).list_namespaced_network_policy("kube-system")
    assert listed.items == []
    assert listed.kind == "NetworkPolicyList"
    assert present(listed.metadata).resource_version


def test_events_by_field_selector(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    events = core.list_namespaced_event(
        "voicehive", field_selector="involvedObject.name=orchestrator-6f8d9c7b5d-k2x9p,"
                                    "type=Warning")
    assert [e.reason for e in events.items] == ["Unhealthy"]
    assert present(events.items[0].last_timestamp).tzinfo is not None
    updated = core.list_namespaced_event("voicehive", field_selector="reason=NetworkPolicyUpdated")
    assert [e.involved_object.name for e in updated.items] == ["external-api-segmentation"]
    assert len(core.list_namespaced_event("voicehive", field_selector="type!=Warning").items) == 2


def test_json_patch_appends_to_except(api: client.ApiClient) -> None:
    networking = client.NetworkingV1Api(api)
    patched = networking.patch_namespaced_network_policy(
        "external-api-segmentation", "voicehive",
        [{"op": "test", "path": "/spec/egress/0/to/0/ipBlock/cidr", "value": "0.0.0.0/0"},
         {"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-",
          "value": "203.0.113.7/32"}])
    assert except_list(patched)[-1] == "203.0.113.7/32"
    assert meta(patched).generation == 2


def test_failing_json_patch_test_is_422_and_changes_nothing(
        api: client.ApiClient, drill_server: DrillServerThread) -> None:
    before = drill_server.state.resource_version
    with pytest.raises(client.ApiException) as caught:
        client.NetworkingV1Api(api).patch_namespaced_network_policy(
            "external-api-segmentation", "voicehive",
            [{"op": "test", "path": "/spec/egress/0/to/0/ipBlock/cidr", "value": "10.0.0.0/8"},
             {"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-",
              "value": "203.0.113.7/32"}])
    assert caught.value.status == 422
    assert "test failed" in _status(caught.value)["details"]["causes"][0]["message"]
    assert drill_server.state.resource_version == before


def test_json_patch_on_missing_path_is_422(api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as caught:
        client.NetworkingV1Api(api).patch_namespaced_network_policy(
            "external-api-segmentation", "voicehive",
            [{"op": "add", "path": "/spec/ingress/0/from/-", "value": {}}])
    assert caught.value.status == 422


def test_strategic_merge_dict_patch_of_service_account(api: client.ApiClient) -> None:
    patched = client.CoreV1Api(api).patch_namespaced_service_account(
        "orchestrator", "voicehive",
        {"metadata": {"annotations": {"security.voicehive.io/disabled": "true"}}})
    assert meta(patched).annotations == {"security.voicehive.io/disabled": "true"}
    assert present(patched.secrets)[0].name == "orchestrator-token"


def test_strategic_merge_of_pod_containers_by_name(api: client.ApiClient) -> None:
    patched = client.CoreV1Api(api).patch_namespaced_pod(
        "orchestrator-6f8d9c7b5d-k2x9p", "voicehive",
        {"spec": {"containers": [{"name": "orchestrator", "image": "registry.local/o:2"}]}})
    assert [(c.name, c.image) for c in present(patched.spec).containers] == [
        ("orchestrator", "registry.local/o:2")]


def test_merge_patch_null_deletes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.patch_namespaced_service_account(
        "tts-router", "voicehive", {"metadata": {"annotations": {"a": "1", "b": "2"}}})
    patched = core.patch_namespaced_service_account(
        "tts-router", "voicehive", {"metadata": {"annotations": {"a": None}}},
        _content_type="application/merge-patch+json")
    assert meta(patched).annotations == {"b": "2"}


def test_replace_with_stale_resource_version_conflicts(api: client.ApiClient) -> None:
    networking = client.NetworkingV1Api(api)
    current = networking.read_namespaced_network_policy("external-api-segmentation", "voicehive")
    except_list(current).append("198.51.100.1/32")
    replaced = networking.replace_namespaced_network_policy(
        "external-api-segmentation", "voicehive", current)
    assert meta(replaced).resource_version != meta(current).resource_version
    with pytest.raises(client.ApiException) as caught:
        networking.replace_namespaced_network_policy(
            "external-api-segmentation", "voicehive", current)
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "Conflict"
    assert "the object has been modified" in _status(caught.value)["message"]


def test_write_that_changes_nothing_keeps_the_version(api: client.ApiClient) -> None:
    networking = client.NetworkingV1Api(api)
    current = networking.read_namespaced_network_policy("external-api-segmentation", "voicehive")
    again = networking.replace_namespaced_network_policy(
        "external-api-segmentation", "voicehive", current)
    assert meta(again).resource_version == meta(current).resource_version


def test_dry_run_create_and_delete_change_nothing(api: client.ApiClient,
                                                  drill_server: DrillServerThread) -> None:
    networking = client.NetworkingV1Api(api)
    before = drill_server.state.resource_version
    previewed = create_policy(networking, 
        "voicehive", _policy("preview"), dry_run="All")
    assert name_of(previewed) == "preview"
    networking.delete_namespaced_network_policy("external-api-segmentation", "voicehive",
                                                dry_run="All")
    assert drill_server.state.resource_version == before
    assert [name_of(p) for p in networking.list_namespaced_network_policy(
        "voicehive").items] == ["external-api-segmentation"]


def test_other_dry_run_values_are_invalid(api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as caught:
        create_policy(client.NetworkingV1Api(api), 
            "voicehive", _policy("x"), dry_run="Yes")
    assert caught.value.status == 422
    assert _status(caught.value)["details"]["kind"] == "CreateOptions"


def test_unknown_field_strict_is_400(drill_server: DrillServerThread) -> None:
    # Client 37's typed APIs refuse unknown fields before sending (pydantic), so raw HTTP here.
    body = _policy("typo", egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                         "excpet": ["1.2.3.4/32"]}}]}])
    response = raw_request(drill_server, 
        "POST", f"{drill_server.url}/apis/{NP}/namespaces/voicehive/networkpolicies"
                "?fieldValidation=Strict",
        body=json.dumps(body), headers={"Content-Type": "application/json"})
    status = json.loads(response.data)
    assert (response.status, status["reason"]) == (400, "BadRequest")
    assert 'strict decoding error: unknown field "spec.egress[0].to[0].ipBlock.excpet"' \
        in status["message"]
    assert drill_server.state.get(NP, "NetworkPolicy", "voicehive", "typo") is None


def test_unknown_field_without_strict_is_dropped_with_a_warning(
        drill_server: DrillServerThread) -> None:
    body = _policy("typo", egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                         "excpet": ["1.2.3.4/32"]}}]}])
    response = raw_request(drill_server, 
        "POST", f"{drill_server.url}/apis/{NP}/namespaces/voicehive/networkpolicies",
        body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status == 201
    assert response.headers["Warning"] == \
        '299 - "unknown field \\"spec.egress[0].to[0].ipBlock.excpet\\""'
    stored = drill_server.state.get(NP, "NetworkPolicy", "voicehive", "typo")
    assert stored is not None
    assert stored["spec"]["egress"][0]["to"][0]["ipBlock"] == {"cidr": "0.0.0.0/0"}


def test_schema_violation_is_422_with_the_schema_complaint(api: client.ApiClient) -> None:
    body = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "emergency-deny"}, "spec": {"action": "DENYALL"}}
    with pytest.raises(client.ApiException) as caught:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "security.istio.io", "v1", "voicehive", "authorizationpolicies", body)
    assert caught.value.status == 422
    status = _status(caught.value)
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.action",
        "message": "'DENYALL' is not one of ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']"}]


def test_istio_policy_via_custom_objects_both_versions(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    body = {"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "emergency-deny-1", "labels": {"emergency": "true"}},
            "spec": {"selector": {"matchLabels": {"app": "orchestrator"}}}}
    custom.create_namespaced_custom_object("security.istio.io", "v1beta1", "voicehive",
                                           "authorizationpolicies", body)
    shown = as_object(custom.get_namespaced_custom_object(
        "security.istio.io", "v1", "voicehive", "authorizationpolicies", "emergency-deny-1"))
    assert shown["apiVersion"] == "security.istio.io/v1"
    listed = as_object(custom.list_namespaced_custom_object(
        "security.istio.io", "v1", "voicehive", "authorizationpolicies",
        label_selector="emergency=true"))
    assert [i["metadata"]["name"] for i in listed["items"]] == ["emergency-deny-1"]
    patched = as_object(custom.patch_namespaced_custom_object(
        "security.istio.io", "v1", "voicehive", "authorizationpolicies", "emergency-deny-1",
        {"spec": {"action": "DENY", "rules": [{}]}}))
    assert patched["spec"]["action"] == "DENY"
    deleted = as_object(custom.delete_namespaced_custom_object(
        "security.istio.io", "v1", "voicehive", "authorizationpolicies", "emergency-deny-1"))
    assert deleted["metadata"]["name"] == "emergency-deny-1"


def test_strategic_merge_on_custom_resource_is_415(drill_server: DrillServerThread) -> None:
    response = raw_request(drill_server, 
        "PATCH", f"{drill_server.url}/apis/security.istio.io/v1/namespaces/voicehive/"
                 "peerauthentications/default",
        body=b'{"spec":{"mtls":{"mode":"PERMISSIVE"}}}',
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert response.status == 415
    assert json.loads(response.data)["reason"] == "UnsupportedMediaType"


def test_linkerd_server_and_server_authorization(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "policy.linkerd.io", "v1beta3", "voicehive", "servers",
        {"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
         "metadata": {"name": "orchestrator-server"},
         "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}}, "port": 8080}})
    custom.create_namespaced_custom_object(
        "policy.linkerd.io", "v1beta1", "voicehive", "serverauthorizations",
        {"apiVersion": "policy.linkerd.io/v1beta1", "kind": "ServerAuthorization",
         "metadata": {"name": "emergency-block-1"},
         "spec": {"server": {"name": "orchestrator-server"},
                  "client": {"meshTLS": {"serviceAccounts": [{"name": "none"}]}}}})
    servers = as_object(custom.list_namespaced_custom_object(
        "policy.linkerd.io", "v1beta3", "voicehive", "servers"))
    assert [s["spec"]["port"] for s in servers["items"]] == [8080]
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object(
            "policy.linkerd.io", "v1beta1", "voicehive", "serverauthorizations",
            {"apiVersion": "policy.linkerd.io/v1beta1", "kind": "ServerAuthorization",
             "metadata": {"name": "no-client"}, "spec": {"server": {"name": "x"}}})
    assert caught.value.status == 422


def test_unknown_plural_is_404(api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as caught:
        client.CustomObjectsApi(api).list_namespaced_custom_object(
            "security.istio.io", "v1", "voicehive", "authorisationpolicies")
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == "the server could not find the requested resource"


def test_delete_collection_by_label(api: client.ApiClient) -> None:
    networking = client.NetworkingV1Api(api)
    for name in ("emergency-isolation-1", "emergency-isolation-2"):
        create_policy(networking, "voicehive", _policy(name))
    networking.delete_collection_namespaced_network_policy("voicehive",
                                                           label_selector="emergency=true")
    assert [name_of(p) for p in networking.list_namespaced_network_policy(
        "voicehive").items] == ["external-api-segmentation"]


def test_token_secret_delete(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    result = as_object(core.delete_namespaced_secret("orchestrator-token", "voicehive"))
    assert (result["kind"], result["status"]) == ("Status", "Success")
    with pytest.raises(client.ApiException):
        core.read_namespaced_secret("orchestrator-token", "voicehive")


def test_injected_faults_never_change_state(api: client.ApiClient,
                                            drill_server: DrillServerThread) -> None:
    networking = client.NetworkingV1Api(api)
    drill_server.state.inject_fault("POST", r"/networkpolicies$", 403, times=1)
    drill_server.state.inject_fault("DELETE", r"/networkpolicies/external-api", 409, times=1)
    with pytest.raises(client.ApiException) as forbidden:
        create_policy(networking, "voicehive", _policy("blocked"))
    with pytest.raises(client.ApiException) as conflict:
        networking.delete_namespaced_network_policy("external-api-segmentation", "voicehive")
    assert (forbidden.value.status, conflict.value.status) == (403, 409)
    assert [name_of(p) for p in networking.list_namespaced_network_policy(
        "voicehive").items] == ["external-api-segmentation"]
    create_policy(networking, "voicehive", _policy("blocked"))  # used up


def test_injected_hang_times_out_the_client(api: client.ApiClient,
                                            drill_server: DrillServerThread) -> None:
    drill_server.state.inject_fault("GET", r"/networkpolicies", 0, delay=2.0)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError):  # the client retries twice
        client.NetworkingV1Api(api).list_namespaced_network_policy("voicehive",
                                                                   _request_timeout=0.2)
    assert time.monotonic() - started < 1.9  # gave up before the 2 s hang ended
    drill_server.state.clear_faults()
    assert client.NetworkingV1Api(api).list_namespaced_network_policy("voicehive").items


def test_rbac_denial_is_forbidden_and_changes_nothing(api: client.ApiClient,
                                                      drill_server: DrillServerThread) -> None:
    drill_server.state.set_rbac([{"verbs": ["get", "list"], "apiGroups": ["*"],
                                  "resources": ["*"]}])
    with pytest.raises(client.ApiException) as caught:
        client.NetworkingV1Api(api).patch_namespaced_network_policy(
            "external-api-segmentation", "voicehive",
            [{"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except/-", "value": "1.2.3.4/32"}])
    status = _status(caught.value)
    assert (caught.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"].startswith(
        'networkpolicies.networking.k8s.io "external-api-segmentation" is forbidden: User "')
    assert status["message"].endswith(
        'cannot patch resource "networkpolicies" in API group "networking.k8s.io" in the '
        'namespace "voicehive"')
    stored = drill_server.state.get(NP, "NetworkPolicy", "voicehive", "external-api-segmentation")
    assert stored is not None
    assert "1.2.3.4/32" not in stored["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]


def test_self_subject_access_review_json(api: client.ApiClient,
                                         drill_server: DrillServerThread) -> None:
    drill_server.state.set_rbac([{"verbs": ["delete"], "apiGroups": [""],
                                  "resources": ["secrets"], "namespaces": ["voicehive"]}])
    authorization = client.AuthorizationV1Api(api)

    def can(verb: str, resource: str, group: str = "") -> bool:
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, group=group, namespace="voicehive")))
        return present(present(authorization.create_self_subject_access_review(review).status)
                       .allowed)

    assert can("delete", "secrets") is True
    assert can("patch", "networkpolicies", "networking.k8s.io") is False


def test_watch_streams_synthetic_added_then_changes(api: client.ApiClient,
                                                    drill_server: DrillServerThread) -> None:
    networking = client.NetworkingV1Api(api)
    late = _policy("emergency-isolation-9")
    late["metadata"]["namespace"] = "voicehive"
    seen = []
    # kubernetes.watch is not annotated (kubernetes.client is).
    stream = watch.Watch()  # type: ignore[no-untyped-call]
    for event in stream.stream(  # type: ignore[no-untyped-call]
        networking.list_namespaced_network_policy, "voicehive", timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 1:
            drill_server.state.create(late)  # the watch is open: this must come as an event
        if len(seen) == 2:
            stream.stop()  # type: ignore[no-untyped-call]
    assert seen == [("ADDED", "external-api-segmentation"), ("ADDED", "emergency-isolation-9")]


def test_watch_from_a_resource_version_replays_and_filters(
        drill_server: DrillServerThread) -> None:
    state = drill_server.state
    start = state.resource_version
    state.create(_policy("a") | {"metadata": {"name": "a", "namespace": "voicehive",
                                              "labels": {"emergency": "true"}}})
    state.delete(NP, "NetworkPolicy", "voicehive", "a")
    response = raw_request(drill_server, 
        "GET", f"{drill_server.url}/apis/{NP}/namespaces/voicehive/networkpolicies",
        fields={"watch": "true", "resourceVersion": start, "timeoutSeconds": "1",
                "labelSelector": "emergency=true"}, preload_content=True)
    events = [json.loads(line) for line in response.data.decode().splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"), ("DELETED", "a")]


def test_watch_from_a_resource_version_replays_only_its_own_resource(
        drill_server: DrillServerThread) -> None:
    # An Event and a ConfigMap named in the policies' namespace, changed after the list:
    # a NetworkPolicy watch resumed from that list must not replay them as policies.
    state = drill_server.state
    start = state.resource_version
    state.create({"apiVersion": "v1", "kind": "Event",
                  "metadata": {"name": "marker.1", "namespace": "voicehive"},
                  "involvedObject": {"kind": "Pod", "name": "x", "namespace": "voicehive"},
                  "type": "Warning", "reason": "Marker", "message": "Marker"})
    state.create({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "settings", "namespace": "voicehive"}})
    state.create(_policy("c") | {"metadata": {"name": "c", "namespace": "voicehive"}})
    response = raw_request(drill_server,
        "GET", f"{drill_server.url}/apis/{NP}/namespaces/voicehive/networkpolicies",
        fields={"watch": "true", "resourceVersion": start, "timeoutSeconds": "1"},
        preload_content=True)
    events = [json.loads(line) for line in response.data.decode().splitlines()]
    assert [(e["type"], e["object"]["kind"], e["object"]["metadata"]["name"])
            for e in events] == [("ADDED", "NetworkPolicy", "c")]


def test_watch_from_a_compacted_version_is_410(drill_server: DrillServerThread) -> None:
    state = drill_server.state
    old = state.resource_version
    state.create(_policy("b") | {"metadata": {"name": "b", "namespace": "voicehive"}})
    state.compact()
    response = raw_request(drill_server, 
        "GET", f"{drill_server.url}/apis/{NP}/networkpolicies",
        fields={"watch": "1", "resourceVersion": old, "timeoutSeconds": "1"})
    (event,) = [json.loads(line) for line in response.data.decode().splitlines()]
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


def test_pod_log_options(api: client.ApiClient, drill_server: DrillServerThread) -> None:
    core = client.CoreV1Api(api)
    logs = core.read_namespaced_pod_log("falco-x7k2p", "falco-system", tail_lines=1)
    assert json.loads(logs)["rule"] == "Contact K8S API Server From Container"
    stamped = core.read_namespaced_pod_log("falco-x7k2p", "falco-system", timestamps=True,
                                           container="falco")
    assert stamped.splitlines()[0].startswith("2026-11-01T08:00:00Z Falco initialized")
    # Client 37 has no since_time parameter; kubectl --since-time sends it like this.
    since = raw_request(drill_server, 
        "GET", f"{drill_server.url}/api/v1/namespaces/falco-system/pods/falco-x7k2p/log",
        fields={"sinceTime": "2026-11-01T08:30:00Z"})
    assert len(since.data.decode().splitlines()) == 1
    drill_server.state.append_log("falco-system", "falco-x7k2p", "fresh line")
    assert core.read_namespaced_pod_log("falco-x7k2p", "falco-system",
                                        since_seconds=60).splitlines() == ["fresh line"]
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_pod_log("falco-x7k2p", "falco-system", container="sidecar")
    assert caught.value.status == 400


def test_pod_log_follow_streams_lines_as_they_come(api: client.ApiClient,
                                                   drill_server: DrillServerThread) -> None:
    core = client.CoreV1Api(api)
    state = drill_server.state
    # The call returns once the headers are in, and the server follows before sending them.
    # Without preloading the call returns urllib3's response; kubernetes.client annotates `str`.
    response: urllib3.BaseHTTPResponse = core.read_namespaced_pod_log(  # type: ignore[assignment]
        "falco-m4n8q", "falco-system", follow=True, tail_lines=0, _preload_content=False
    )
    for n in range(3):
        threading.Timer(0.2 * (n + 1), state.append_log,
                        ("falco-system", "falco-m4n8q", f"line {n}")).start()
    threading.Timer(1.0, state.delete, ("v1", "Pod", "falco-system", "falco-m4n8q")).start()
    arrivals = []
    started = time.monotonic()
    for line in response.stream():
        arrivals.append((line.decode(), time.monotonic() - started))
    # The stream ends when the pod is deleted; each line arrived when it was written.
    assert "".join(text for text, _ in arrivals) == "line 0\nline 1\nline 2\n"
    # Chunk by chunk: had the server buffered, the first chunk would hold all three lines.
    assert arrivals[0][0] == "line 0\n"
    assert arrivals[0][1] < arrivals[-1][1]


def test_discovery_and_method_errors(drill_server: DrillServerThread) -> None:
    base = drill_server.url
    groups = json.loads(raw_request(drill_server, "GET", f"{base}/apis").data)
    names = [g["name"] for g in groups["groups"]]
    assert names.index("security.istio.io") < names.index("policy.linkerd.io")
    linkerd = json.loads(
        raw_request(drill_server, "GET", f"{base}/apis/policy.linkerd.io/v1beta1").data)
    assert {r["name"] for r in linkerd["resources"]} == {"servers", "serverauthorizations"}
    core = json.loads(raw_request(drill_server, "GET", f"{base}/api/v1").data)
    assert {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
            "verbs": ["get"]} in core["resources"]
    put_collection = raw_request(drill_server, "PUT", f"{base}/api/v1/namespaces/voicehive/pods",
                                     body=b"{}")
    assert put_collection.status == 405
    assert json.loads(put_collection.data)["reason"] == "MethodNotAllowed"
    nested = raw_request(drill_server, "POST", f"{base}/api/v1/namespaces/voicehive/secrets",
                             body=b"[" * 100_000, headers={"Content-Type": "application/json"})
    assert nested.status == 400


def test_deprecated_versions_warn(drill_server: DrillServerThread) -> None:
    response = raw_request(drill_server, 
        "GET", f"{drill_server.url}/apis/policy.linkerd.io/v1beta1/namespaces/voicehive/servers")
    assert response.status == 200
    assert "policy.linkerd.io/v1beta1 Server is deprecated" in response.headers["Warning"]
    assert json.loads(response.data)["items"] == []


def test_protobuf_body_of_an_unread_kind_is_415(drill_server: DrillServerThread) -> None:
    type_meta = b"\x0a\x02v1\x12\x09ConfigMap"
    body = b"k8s\x00" + b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12\x00"
    response = raw_request(drill_server,
        "POST", f"{drill_server.url}/api/v1/namespaces/voicehive/configmaps", body=body,
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert response.status == 415
    assert json.loads(response.data)["reason"] == "UnsupportedMediaType"


def test_peer_authentications_across_namespaces(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "security.istio.io", "v1", "istio-system", "peerauthentications",
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "PERMISSIVE"}}})
    listed = as_object(custom.list_cluster_custom_object(
        "security.istio.io", "v1beta1", "peerauthentications"))
    assert [(i["metadata"]["namespace"], i["spec"]["mtls"]["mode"], i["apiVersion"])
            for i in listed["items"]] == [
        ("istio-system", "PERMISSIVE", "security.istio.io/v1beta1"),
        ("voicehive", "STRICT", "security.istio.io/v1beta1")]
    one = as_object(custom.get_namespaced_custom_object(
        "security.istio.io", "v1", "voicehive", "peerauthentications", "default"))
    assert one["spec"]["mtls"]["mode"] == "STRICT"
