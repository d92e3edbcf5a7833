"""Restore undoes exactly what one incident did, also after a crash between intent and outcome."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from actions.drill.schemas import check_document
from actions.drill.server import DrillServerThread
from actions.kube.cluster import ClusterOptions, connect
from actions.runbook import ActionRequest, RunbookActions
from actions.runbook.isolate import QUARANTINE_LABEL, excludes_quarantine
from store import Record
from tests.plugins.actions import stored
from tests.plugins.record import FrozenClock
from tests.plugins.waiting import wait_for

NS = "voicehive"
NP = "networking.k8s.io/v1"
ORIGINAL_EXCEPT = ["10.0.0.0/8", "169.254.169.254/32"]


def except_list(server: DrillServerThread) -> list[str]:
    policy = stored(server.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    listed: list[str] = policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]
    return listed


async def run(runbook: RunbookActions, request: ActionRequest) -> None:
    preview = await runbook.preview(request)
    assert preview.ok, preview.problems
    outcome = await runbook.execute(preview)
    assert outcome.status == "succeeded", outcome.message


async def test_restore_undoes_every_action_of_the_incident(
    runbook: RunbookActions, record: Record, clock: FrozenClock, drill_server: DrillServerThread
) -> None:
    state = drill_server.state
    incident = record.incidents.open("intrusion", severity="P0")
    account = stored(state, "v1", "ServiceAccount", NS, "orchestrator")
    account["metadata"]["annotations"] = {"security.voicehive.io/disabled": "false"}
    account["automountServiceAccountToken"] = True
    state.replace(account)
    await run(runbook, ActionRequest("isolate", "orchestrator"))
    clock.advance(seconds=1)
    await run(runbook, ActionRequest("mesh-deny", "orchestrator"))
    await run(runbook, ActionRequest("block-ip", "203.0.113.9"))
    await run(runbook, ActionRequest("block-ip", "198.51.100.0/24"))
    await run(runbook, ActionRequest("disable-sa", "orchestrator"))
    again = await runbook.preview(ActionRequest("disable-sa", "orchestrator"))
    assert (
        again.no_op == "service account orchestrator is already disabled and has no token secrets"
    )
    # Someone turns automount back on; disabling again must not forget what the account
    # looked like before the first time.
    account = stored(state, "v1", "ServiceAccount", NS, "orchestrator")
    account["automountServiceAccountToken"] = True
    state.replace(account)
    await run(runbook, ActionRequest("disable-sa", "orchestrator"))
    # Someone else's emergency policy, and the incident-free seeded ones, stay.
    state.create(
        {
            "apiVersion": NP,
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "emergency-isolation-1",
                "namespace": NS,
                "labels": {
                    "emergency": "true",
                    "created-by": "incident-response",
                    "warroom.io/incident": "NSI-2026-03-13-004",
                },
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
    )

    preview = await runbook.preview(ActionRequest("restore"))
    assert preview.ok, preview.problems
    for change in preview.changes:
        if change.verb == "patch":
            assert check_document(change.dry_run) == []
    assert any("--unblock" in note for note in preview.notes)
    outcome = await runbook.execute(preview)
    assert outcome.status == "succeeded", outcome.message

    remaining = [p["metadata"]["name"] for p in state.list(NP, "NetworkPolicy", NS)]
    assert remaining == ["emergency-isolation-1", "external-api-segmentation"]
    segmentation = stored(state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    assert segmentation["spec"]["podSelector"] == {"matchLabels": {"app": "orchestrator"}}
    pod = stored(state, "v1", "Pod", NS, "orchestrator-6f8d9c7b5d-k2x9p")
    assert "warroom.io/quarantine" not in pod["metadata"]["labels"]
    assert (
        state.list(
            "security.istio.io/v1", "AuthorizationPolicy", NS, label_selector="emergency=true"
        )
        == []
    )
    account = stored(state, "v1", "ServiceAccount", NS, "orchestrator")
    assert account["metadata"]["annotations"] == {"security.voicehive.io/disabled": "false"}
    assert account["automountServiceAccountToken"] is True
    assert "warroom.io/incident" not in (account["metadata"].get("labels") or {})
    # IP blocks stay until asked.
    assert except_list(drill_server) == ORIGINAL_EXCEPT + ["203.0.113.9/32", "198.51.100.0/24"]

    unblock = await runbook.preview(ActionRequest("restore", unblock=True))
    assert [c.verb for c in unblock.changes] == ["patch"]
    assert (await runbook.execute(unblock)).status == "succeeded"
    assert except_list(drill_server) == ORIGINAL_EXCEPT

    nothing = await runbook.preview(ActionRequest("restore", unblock=True))
    assert nothing.no_op
    after = record.incidents.get_required(incident.id)
    assert after.recovered_at is not None
    assert after.status == "recovered"


async def test_restore_keeps_other_incidents_objects(
    runbook: RunbookActions, record: Record, clock: FrozenClock, drill_server: DrillServerThread
) -> None:
    first = record.incidents.open("first")
    await run(runbook, ActionRequest("isolate", "orchestrator", incident_id=first.id))
    clock.advance(seconds=5)
    second = record.incidents.open("second")
    await run(runbook, ActionRequest("isolate", "tts-router", incident_id=second.id))
    preview = await runbook.preview(ActionRequest("restore", incident_id=first.id))
    assert [c.name for c in preview.changes] == [
        "orchestrator-6f8d9c7b5d-k2x9p",
        f"emergency-isolation-{int(clock().timestamp()) - 5}",
    ]
    # The second incident's pod is still quarantined: the exclusion stays for it.
    assert any("tts-router-7c9d8e6f5a-q7w3e are still quarantined" in n for n in preview.notes)
    await runbook.execute(preview)
    left = drill_server.state.list(NP, "NetworkPolicy", NS, label_selector="emergency=true")
    assert [p["metadata"]["labels"]["warroom.io/incident"] for p in left] == [second.id]


async def test_restore_removes_the_emergency_egress_policy_only_with_unblock(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    record.incidents.open("exfil")
    await run(runbook, ActionRequest("block-ip", "198.51.100.7", emergency_egress=True))
    kept = await runbook.preview(ActionRequest("restore"))
    assert kept.no_op
    assert any("emergency egress" in note for note in kept.notes)
    removed = await runbook.preview(ActionRequest("restore", unblock=True))
    assert [c.verb for c in removed.changes] == ["delete"]
    await runbook.execute(removed)
    assert drill_server.state.list(NP, "NetworkPolicy", NS, label_selector="emergency=true") == []


CHILD = textwrap.dedent("""
    import asyncio, sys
    from actions.kube.cluster import ClusterOptions, connect
    from actions.runbook import ActionRequest, RunbookActions
    from store import Record

    async def main(kubeconfig, db):
        cluster = await connect(ClusterOptions(kubeconfig=kubeconfig, timeout=30))
        with Record.open(db) as record:
            actions = RunbookActions(record, cluster, actor="crasher")
            preview = await actions.preview(ActionRequest("isolate", "orchestrator"))
            print("previewed", flush=True)
            sys.stdin.readline()
            await actions.execute(preview)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


def test_crash_between_intent_and_outcome_leaves_unknown_and_restore_finds_it(
    drill_server: DrillServerThread, drill_kubeconfig: Path, record_path: Path
) -> None:
    with Record.open(record_path) as setup:
        incident = setup.incidents.open("crash drill")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(drill_kubeconfig), str(record_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "previewed"
        # The create goes through; the read-back that verifies it hangs at the server, and the
        # child dies there: after the change, before the outcome.
        drill_server.state.inject_fault(
            "GET", r"/networkpolicies/emergency-isolation-", 0, delay=2.0
        )
        child.stdin.write("go\n")
        child.stdin.flush()
        wait_for(lambda: drill_server.state.list(NP, "NetworkPolicy", NS,
                                                 label_selector="emergency=true"),
                 "the create landing")
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
        child.wait()
    drill_server.state.clear_faults()

    async def restore() -> tuple[list[str], set[str], str]:
        cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig)))
        async with cluster:
            with Record.open(record_path) as record:
                (unknown,) = record.actions.unfinished(incident.id)
                assert unknown.action == "isolate"
                planned = {ref["name"] for ref in unknown.data["planned"]}
                actions = RunbookActions(record, cluster)
                preview = await actions.preview(ActionRequest("restore"))
                outcome = await actions.execute(preview)
                return [c.name for c in preview.changes], planned, outcome.status

    names, planned, status = asyncio.run(restore())
    # Isolate creates the deny-all first, then changes what still lets the pods through:
    # whatever the child reached before it died is undone, and nothing it did not plan.
    assert any(name.startswith("emergency-isolation-") for name in names)
    assert set(names) <= planned
    assert status == "succeeded"
    state = drill_server.state
    assert state.list(NP, "NetworkPolicy", NS, label_selector="emergency=true") == []
    segmentation = state.get(NP, "NetworkPolicy", NS, "external-api-segmentation")
    assert segmentation is not None
    assert not excludes_quarantine(segmentation)
    assert state.list("v1", "Pod", NS, label_selector=QUARANTINE_LABEL) == []


async def test_restore_finds_emergency_objects_by_label_alone(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("record lost its intents")
    labels = {
        "emergency": "true",
        "created-by": "incident-response",
        "warroom.io/incident": incident.id,
    }
    drill_server.state.create(
        {
            "apiVersion": NP,
            "kind": "NetworkPolicy",
            "metadata": {"name": "emergency-isolation-7", "namespace": NS, "labels": labels},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
    )
    drill_server.state.create(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "emergency-deny-7", "namespace": NS, "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": "orchestrator"}}},
        }
    )
    preview = await runbook.preview(ActionRequest("restore"))
    assert sorted(c.name for c in preview.changes) == ["emergency-deny-7", "emergency-isolation-7"]
    assert (await runbook.execute(preview)).status == "succeeded"
    assert drill_server.state.list(NP, "NetworkPolicy", NS, label_selector="emergency=true") == []


async def test_restore_looks_in_every_namespace_it_may(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("spread out")
    labels = {
        "emergency": "true",
        "created-by": "incident-response",
        "warroom.io/incident": incident.id,
    }
    for namespace in (NS, "monitoring"):
        drill_server.state.create(
            {
                "apiVersion": NP,
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": "emergency-isolation-9",
                    "namespace": namespace,
                    "labels": labels,
                },
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
        )
    preview = await runbook.preview(ActionRequest("restore"))
    assert sorted((c.namespace, c.name) for c in preview.changes) == [
        ("monitoring", "emergency-isolation-9"),
        (NS, "emergency-isolation-9"),
    ]

    # Only namespaced permissions: restore says where it looked.
    drill_server.state.set_rbac(
        [
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": [NS]},
            {
                "verbs": ["create"],
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews"],
            },
        ]
    )
    narrow = await runbook.preview(ActionRequest("restore"))
    assert [(c.namespace, c.name) for c in narrow.changes] == [(NS, "emergency-isolation-9")]
    assert any("looked in voicehive only" in note for note in narrow.notes)
