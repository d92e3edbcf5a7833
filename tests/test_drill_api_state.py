"""ClusterState on its own: what the scenario engine relies on, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actions.drill.apiserver.cluster_state import ApiError, ClusterState

NP = "networking.k8s.io/v1"
FROZEN = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def state() -> ClusterState:
    cluster = ClusterState(clock=lambda: FROZEN)
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "voicehive"}})
    return cluster


def _policy(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": NP, "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "voicehive", "labels": labels},
            "spec": {"podSelector": {}}}


def test_create_uses_the_injected_clock_and_defaults(state: ClusterState) -> None:
    created = state.create(_policy("p"))
    assert created["metadata"]["creationTimestamp"] == "2026-11-01T09:00:00Z"
    assert created["spec"]["policyTypes"] == ["Ingress"]
    namespace = state.get("v1", "Namespace", None, "voicehive")
    assert namespace is not None
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": "voicehive"}


def test_one_global_resource_version(state: ClusterState) -> None:
    first = int(state.create(_policy("a"))["metadata"]["resourceVersion"])
    second = int(state.create({"apiVersion": "v1", "kind": "ServiceAccount",
                               "metadata": {"name": "sa", "namespace": "voicehive"}})
                 ["metadata"]["resourceVersion"])
    assert second == first + 1 == int(state.resource_version)


def test_returned_objects_are_copies(state: ClusterState) -> None:
    created = state.create(_policy("a"))
    created["spec"]["podSelector"] = {"matchLabels": {"x": "y"}}
    stored = state.get(NP, "NetworkPolicy", "voicehive", "a")
    assert stored is not None
    assert stored["spec"]["podSelector"] == {}


def test_subscribers_see_committed_changes_only(state: ClusterState) -> None:
    seen: list[tuple[str, str]] = []
    unsubscribe = state.subscribe(lambda kind, obj: seen.append((kind, obj["metadata"]["name"])))
    state.create(_policy("a"))
    state.create(_policy("dry"), dry_run=True)
    unchanged = state.get(NP, "NetworkPolicy", "voicehive", "a")
    assert unchanged is not None
    state.replace(unchanged)  # no-op write
    changed = dict(unchanged, spec={"podSelector": {"matchLabels": {"app": "x"}}})
    state.replace(changed)
    with pytest.raises(ApiError):
        state.create(_policy("a"))
    state.delete(NP, "NetworkPolicy", "voicehive", "a")
    unsubscribe()
    state.create(_policy("after"))
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_writes_from_a_subscriber_are_delivered_in_commit_order(state: ClusterState) -> None:
    order: list[str] = []

    def react(kind: str, obj: dict[str, Any]) -> None:
        if obj["metadata"]["name"] == "isolation":
            state.append_log("voicehive", "p", "isolated")
            state.create(_policy("reaction"))

    state.subscribe(react)
    state.subscribe(lambda kind, obj: order.append(obj["metadata"]["name"]))
    state.create(_policy("isolation"))
    assert order == ["isolation", "reaction"]


def test_generation_moves_only_with_the_spec(state: ClusterState) -> None:
    created = state.create(_policy("a"))
    relabelled = state.replace(dict(created, metadata=dict(created["metadata"],
                                                           labels={"x": "1"})))
    assert relabelled["metadata"]["generation"] == 1
    respecced = state.replace(dict(relabelled, spec={"podSelector": {},
                                                     "policyTypes": ["Egress"]}))
    assert respecced["metadata"]["generation"] == 2


def test_stale_replace_conflicts(state: ClusterState) -> None:
    created = state.create(_policy("a"))
    state.replace(dict(created, spec={"podSelector": {"matchLabels": {"a": "b"}}}))
    with pytest.raises(ApiError) as caught:
        state.replace(created)
    assert (caught.value.code, caught.value.status["reason"]) == (409, "Conflict")


def test_invalid_ipblock_is_rejected_with_the_field(state: ClusterState) -> None:
    body = _policy("bad")
    body["spec"]["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                   "except": ["not-an-ip/32"]}}]}]
    with pytest.raises(ApiError) as caught:
        state.create(body)
    assert caught.value.code == 422
    assert caught.value.status["details"]["causes"][0]["field"] == \
        "spec.egress[0].to[0].ipBlock.except[0]"


def test_bad_name_is_invalid(state: ClusterState) -> None:
    with pytest.raises(ApiError) as caught:
        state.create(_policy("Bad_Name"))
    assert caught.value.code == 422
    assert "RFC 1123" in caught.value.status["message"]


def test_deleting_a_namespace_takes_its_objects(state: ClusterState) -> None:
    state.create(_policy("a"))
    state.append_log("voicehive", "pod-1", "x")
    state.delete("v1", "Namespace", None, "voicehive")
    assert state.list(NP, "NetworkPolicy") == []
    assert state.logs_of("voicehive", "pod-1") == []


def test_delete_collection_with_selector(state: ClusterState) -> None:
    for name in ("a", "b"):
        state.create(_policy(name, emergency="true"))
    state.create(_policy("keep"))
    deleted = state.delete_collection(NP, "NetworkPolicy", "voicehive",
                                      label_selector="emergency=true")
    assert sorted(d["metadata"]["name"] for d in deleted) == ["a", "b"]
    assert [p["metadata"]["name"] for p in state.list(NP, "NetworkPolicy")] == ["keep"]


def test_unknown_kind_is_404(state: ClusterState) -> None:
    with pytest.raises(ApiError) as caught:
        state.create({"apiVersion": NP, "kind": "NetworkPolice", "metadata": {"name": "x"}})
    assert caught.value.code == 404


def test_logs_with_containers_and_times(state: ClusterState) -> None:
    state.create({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "p", "namespace": "voicehive"},
                  "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]}})
    state.append_log("voicehive", "p", "default container")
    state.append_log("voicehive", "p", "envoy line", container="istio-proxy",
                     at=FROZEN + timedelta(seconds=1))
    state.append_log("voicehive", "p", "two\nlines")
    assert state.logs_of("voicehive", "p", "app") == ["default container", "two", "lines"]
    assert state.logs_of("voicehive", "p") == ["default container", "envoy line", "two", "lines"]
    with pytest.raises(ValueError, match="timezone-aware"):
        state.append_log("voicehive", "p", "x", at=datetime(2026, 1, 1))  # noqa: DTZ001


def test_rbac_rules(state: ClusterState) -> None:
    assert state.allowed("delete", "", "secrets", "voicehive")
    state.set_rbac([{"verbs": ["get", "list"], "apiGroups": [""],
                     "resources": ["pods", "pods/log"]},
                    {"verbs": ["*"], "apiGroups": ["networking.k8s.io"],
                     "resources": ["networkpolicies"], "namespaces": ["voicehive"],
                     "resourceNames": ["external-api-segmentation"]}])
    assert state.allowed("get", "", "pods", "falco-system", subresource="log")
    assert not state.allowed("delete", "", "pods", "voicehive")
    assert state.allowed("patch", "networking.k8s.io", "networkpolicies", "voicehive",
                         "external-api-segmentation")
    assert not state.allowed("patch", "networking.k8s.io", "networkpolicies", "voicehive",
                             "other")
    assert not state.allowed("patch", "networking.k8s.io", "networkpolicies", "kube-system",
                             "external-api-segmentation")
    state.set_rbac(None)
    assert state.allowed("delete", "", "pods", "voicehive")


def test_apply_creates_then_replaces(state: ClusterState) -> None:
    state.apply(_policy("a"))
    replaced = state.apply(dict(_policy("a"), spec={"podSelector": {"matchLabels": {"a": "b"}}}))
    assert replaced["metadata"]["generation"] == 2
