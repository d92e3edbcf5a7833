"""When the cluster says no: 403, 404, 409, 422, timeouts and refused connections.

Each gives a message naming the cause, a failed outcome in the record, and no
change to the cluster. Faults are the drill cluster's own (RBAC rules and
injected HTTP errors or delays), reached through the real client over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actions.drill.server import DrillServerThread
from actions.kube.cluster import Cluster, ClusterError, ClusterOptions, connect
from actions.runbook import ActionRequest, RunbookActions
from store import Record
from tests.plugins.actions import stored

NS = "voicehive"
# Real writes only: the fault table matches the path with its query, and dry runs say dryRun=All.
REAL_POST = r"/networkpolicies(\?(?!.*dryRun).*)?$"
READ_ONLY = [
    {"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]},
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews"],
    },
]


def emergency_policies(server: DrillServerThread) -> list[str]:
    found = server.state.list(
        "networking.k8s.io/v1", "NetworkPolicy", NS, label_selector="emergency=true"
    )
    return [p["metadata"]["name"] for p in found]


def outcomes(record: Record) -> list[tuple[str, str | None]]:
    rows = record.query("SELECT status, data FROM actions WHERE entry = 'outcome' ORDER BY seq")
    return [(row["status"], row["data"]) for row in rows]


async def test_rbac_denied_shows_in_preview_and_is_recorded_as_failed(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    drill_server.state.set_rbac(READ_ONLY)
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    assert not preview.ok
    assert {p.cause for p in preview.problems} == {"forbidden"}
    denied = [p for p in preview.permissions if not p.allowed]
    assert [(p.verb, p.resource) for p in denied] == [
        ("create", "networkpolicies"),
        ("patch", "networkpolicies"),
        ("patch", "pods"),
    ]

    outcome = await runbook.execute(preview)

    assert outcome.status == "failed"
    assert outcome.cause == "forbidden"
    assert "forbidden" in outcome.message
    assert "networkpolicies" in outcome.message
    assert emergency_policies(drill_server) == []
    assert [status for status, _ in outcomes(record)] == ["failed"]


async def test_rbac_revoked_after_the_preview_fails_with_the_servers_403(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    assert preview.ok
    drill_server.state.set_rbac(READ_ONLY)
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "forbidden"
    assert 'cannot create resource "networkpolicies"' in outcome.message
    assert "nothing was changed" in outcome.message
    assert emergency_policies(drill_server) == []
    (incident,) = record.incidents.list()
    assert incident.contained_at is None


async def test_conflict_on_a_service_account_changed_since_the_preview(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("disable-sa", "orchestrator"))
    assert preview.ok
    account = stored(drill_server.state, "v1", "ServiceAccount", NS, "orchestrator")
    account["metadata"]["labels"] = {"touched": "by-someone-else"}
    drill_server.state.replace(account)

    outcome = await runbook.execute(preview)

    assert outcome.status == "failed"
    assert outcome.cause == "conflict"
    assert "conflict (409)" in outcome.message
    # Nothing after the failed patch ran: the token secret is still there.
    assert drill_server.state.get("v1", "Secret", NS, "orchestrator-token") is not None


async def test_block_ip_on_a_policy_changed_since_the_preview_is_a_conflict(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("block-ip", "203.0.113.9"))
    policy = stored(
        drill_server.state, "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].append("192.0.2.1/32")
    drill_server.state.replace(policy)
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "conflict"
    assert "changed since the preview" in outcome.message
    after = stored(
        drill_server.state, "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    assert "203.0.113.9/32" not in after["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]


async def test_injected_409_and_422_name_their_cause(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    drill_server.state.inject_fault(
        "POST", REAL_POST, 409, message="the object has been modified", times=1
    )
    outcome = await runbook.execute(preview)
    assert outcome.cause == "conflict"
    assert "conflict (409)" in outcome.message

    preview = await runbook.preview(ActionRequest("isolate", "tts-router"))
    drill_server.state.inject_fault(
        "POST", REAL_POST, 422, message="spec.podSelector: Invalid value", times=1
    )
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "invalid"
    assert "invalid (422)" in outcome.message
    assert "spec.podSelector" in outcome.message


async def test_missing_service_account_is_not_found(
    runbook: RunbookActions, record: Record
) -> None:
    preview = await runbook.preview(ActionRequest("disable-sa", "ghost"))
    assert preview.problems[0].cause == "not-found"
    assert "service account ghost does not exist in voicehive" in preview.problems[0].message
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "not-found"
    assert [status for status, _ in outcomes(record)] == ["failed"]


async def test_object_deleted_since_the_preview_is_not_found(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("rotate-sa", "tts-router"))
    drill_server.state.delete("v1", "Secret", NS, "tts-router-token")
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "not-found"
    assert "not found (404)" in outcome.message


@pytest.fixture
async def unreachable(closed_port_kubeconfig: Path) -> AsyncIterator[Cluster]:
    cluster = await connect(ClusterOptions(kubeconfig=str(closed_port_kubeconfig)))
    async with cluster:
        yield cluster


async def test_refused_connection_is_named_and_recorded(
    unreachable: Cluster, record: Record
) -> None:
    actions = RunbookActions(record, unreachable, actor="tester")
    preview = await actions.preview(ActionRequest("isolate", "orchestrator"))
    assert preview.problems[0].cause == "refused"
    assert "connection refused" in preview.problems[0].message
    assert unreachable.server in preview.problems[0].message
    outcome = await actions.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "refused"
    (incident,) = record.incidents.list()
    entries = record.actions.for_incident(incident.id)
    assert [(e.entry, e.status) for e in entries] == [("intent", "pending"), ("outcome", "failed")]


@pytest.fixture
async def impatient(drill_kubeconfig: Path) -> AsyncIterator[Cluster]:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig), timeout=0.3))
    async with cluster:
        yield cluster


async def test_timeout_in_preview_and_in_execute(
    impatient: Cluster, record: Record, drill_server: DrillServerThread
) -> None:
    actions = RunbookActions(record, impatient)
    drill_server.state.inject_fault(
        "GET", r"/serviceaccounts/orchestrator(\?.*)?$", 0, delay=1.0, times=1
    )
    preview = await actions.preview(ActionRequest("disable-sa", "orchestrator"))
    assert preview.problems[0].cause == "timeout"
    assert "did not answer within 0.3 s" in preview.problems[0].message
    # A read that timed out changed nothing: no word of a change that may have been applied.
    assert "may or may not" not in preview.problems[0].message

    preview = await actions.preview(ActionRequest("isolate", "orchestrator"))
    assert preview.ok
    drill_server.state.inject_fault("POST", REAL_POST, 0, delay=1.0, times=1)
    outcome = await actions.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "timeout"
    assert "may or may not have been applied" in outcome.message


async def test_cluster_errors_classify_status_objects(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    from actions.kube.cluster import NETWORK_POLICY

    with pytest.raises(ClusterError) as missing:
        await cluster.get(NETWORK_POLICY, "nope")
    assert missing.value.cause == "not-found"
    assert missing.value.code == 404
    assert 'networkpolicies.networking.k8s.io "nope" not found' in str(missing.value)
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "typo", "namespace": NS},
        "spec": {"podSelector": {}, "polcyTypes": ["Ingress"]},
    }
    with pytest.raises(ClusterError) as strict:
        await cluster.create(manifest)
    # fieldValidation=Strict: a misspelt field is refused, not silently dropped.
    assert strict.value.code == 400
    assert 'unknown field "spec.polcyTypes"' in str(strict.value)
    assert drill_server.state.get("networking.k8s.io/v1", "NetworkPolicy", NS, "typo") is None


async def test_a_read_back_that_disagrees_fails_verification_but_keeps_what_was_applied(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    name = preview.changes[0].name
    drill_server.state.inject_fault("GET", rf"/networkpolicies/{name}", 404, times=1)
    outcome = await runbook.execute(preview)
    assert outcome.status == "failed"
    assert outcome.cause == "verification"
    assert f"{name} in voicehive is missing" in outcome.message
    assert emergency_policies(drill_server) == [name]
    (data,) = [json.loads(d) for status, d in outcomes(record) if d]
    assert data["applied"][0]["name"] == name
