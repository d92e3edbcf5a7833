"""Each runbook action on the drill cluster through the official client: preview, execute, record.

Every manifest and every patched object is checked against the real schemas.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from actions.drill.schemas import check_document
from actions.drill.server import DrillServerThread
from actions.runbook import ActionPreview, ActionRequest, InvalidRequest, RunbookActions
from store import Record
from tests.plugins.actions import stored

NS = "voicehive"


def assert_schema_valid(preview: ActionPreview) -> None:
    """Every manifest sent, and every object as the server's dry run patched it, is valid."""
    for change in preview.changes:
        if change.verb == "create":
            assert check_document(change.body) == [], change.name
        if change.verb in ("create", "patch"):
            assert change.dry_run is not None, change.dry_run_error
            assert check_document(change.dry_run) == [], change.name


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


async def test_isolate_creates_the_runbooks_deny_all_policy(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("exfiltration from orchestrator", severity="P0")
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    assert preview.ok, preview.problems
    assert preview.incident_id == incident.id
    assert_schema_valid(preview)
    assert all(p.allowed for p in preview.permissions)
    assert {(p.verb, p.resource) for p in preview.permissions} == {
        ("create", "networkpolicies"),
        ("get", "networkpolicies"),
        ("patch", "networkpolicies"),
        ("patch", "pods"),
        ("get", "pods"),
    }
    change, exclusion, label = preview.changes
    assert (exclusion.verb, exclusion.name) == ("patch", "external-api-segmentation")
    assert (label.verb, label.name) == ("patch", "orchestrator-6f8d9c7b5d-k2x9p")
    unix_time = int(record.clock().timestamp())
    assert change.name == f"emergency-isolation-{unix_time}"
    # The dry run changed nothing.
    assert drill_server.state.get("networking.k8s.io/v1", "NetworkPolicy", NS, change.name) is None

    outcome = await runbook.execute(preview)

    assert outcome.status == "succeeded", outcome.message
    assert outcome.verified
    policy = stored(drill_server.state, "networking.k8s.io/v1", "NetworkPolicy", NS, change.name)
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "orchestrator"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert labels_of(policy) == {
        "emergency": "true",
        "created-by": "incident-response",
        "warroom.io/incident": incident.id,
    }
    segmentation = stored(
        drill_server.state, "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    assert segmentation["spec"]["podSelector"] == {
        "matchLabels": {"app": "orchestrator"},
        "matchExpressions": [{"key": "warroom.io/quarantine", "operator": "DoesNotExist"}],
    }
    pod = stored(drill_server.state, "v1", "Pod", NS, "orchestrator-6f8d9c7b5d-k2x9p")
    assert labels_of(pod)["warroom.io/quarantine"] == incident.id
    entries = record.actions.for_incident(incident.id)
    assert [(e.entry, e.status) for e in entries] == [
        ("intent", "pending"),
        ("outcome", "succeeded"),
    ]
    assert entries[0].data["creates"][0]["name"] == change.name
    timeline = record.timeline.for_incident(incident.id, kinds=("action.succeeded",))
    assert len(timeline) == 1
    assert change.name in timeline[0].summary
    after = record.incidents.get_required(incident.id)
    assert after.contained_at == record.clock()
    assert after.status == "contained"


async def test_action_without_open_incident_opens_one_and_says_so(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("isolate", "tts-router"))
    assert preview.incident_id is None
    assert preview.opens_incident
    assert any("opens a new incident" in note for note in preview.notes)
    outcome = await runbook.execute(preview)
    assert outcome.opened_incident
    assert outcome.status == "succeeded"
    (incident,) = record.incidents.list()
    assert outcome.incident_id == incident.id
    stored = drill_server.state.list(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        NS,
        label_selector=f"warroom.io/incident={incident.id}",
    )
    assert [p["metadata"]["name"] for p in stored] == [preview.changes[0].name]


async def test_several_open_incidents_make_the_action_open_its_own(
    runbook: RunbookActions, record: Record
) -> None:
    first = record.incidents.open("one")
    second = record.incidents.open("two")
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    assert preview.opens_incident
    assert first.id in preview.notes[0]
    assert second.id in preview.notes[0]


async def test_block_ip_appends_a_bare_address_as_32_and_repeats_as_recorded_no_op(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("beaconing")
    preview = await runbook.preview(ActionRequest("block-ip", "203.0.113.9"))
    assert preview.ok, preview.problems
    assert_schema_valid(preview)
    patch = preview.changes[0].body
    assert patch[-1] == {
        "op": "add",
        "path": "/spec/egress/0/to/0/ipBlock/except/-",
        "value": "203.0.113.9/32",
    }

    outcome = await runbook.execute(preview)

    assert outcome.status == "succeeded", outcome.message
    policy = stored(
        drill_server.state, "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    assert policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] == [
        "10.0.0.0/8",
        "169.254.169.254/32",
        "203.0.113.9/32",
    ]
    again = await runbook.preview(ActionRequest("block-ip", "203.0.113.9/32"))
    assert again.no_op
    assert not again.changes
    repeat = await runbook.execute(again)
    assert repeat.status == "no-op"
    statuses = [e.status for e in record.actions.for_incident(incident.id) if e.entry == "outcome"]
    assert statuses == ["succeeded", "no-op"]


async def test_block_ip_takes_ipv6_as_128(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    drill_server.state.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "external-api-segmentation", "namespace": NS},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "::/0"}}]}],
            },
        }
    )
    preview = await runbook.preview(ActionRequest("block-ip", "2001:db8::7"))
    assert preview.ok, preview.problems
    assert preview.changes[0].body == [
        {"op": "add", "path": "/spec/egress/0/to/0/ipBlock/except", "value": ["2001:db8::7/128"]}
    ]
    assert_schema_valid(preview)
    assert (await runbook.execute(preview)).status == "succeeded"


@pytest.mark.parametrize(
    "bad", ["0.0.0.0/0", "::/0", "10.0.0.300", "evil.example", "10.1.2.3/8", "", "1.2.3.4\x1b[2J"]
)
async def test_block_ip_rejects_bad_input_before_touching_anything(
    runbook: RunbookActions, record: Record, bad: str
) -> None:
    with pytest.raises(InvalidRequest):
        await runbook.preview(ActionRequest("block-ip", bad))
    assert record.incidents.list() == []


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("10.42.0.12", "own pod/service addresses"),
        ("10.42.0.0/16", "own pod/service addresses"),
    ],
)
async def test_block_ip_refuses_the_clusters_own_addresses_unless_forced(
    runbook: RunbookActions, address: str, why: str
) -> None:
    preview = await runbook.preview(ActionRequest("block-ip", address))
    assert not preview.ok
    assert preview.problems[0].cause == "refused"
    assert why in preview.problems[0].message
    forced = await runbook.preview(ActionRequest("block-ip", address, force=True))
    assert all(p.cause != "refused" for p in forced.problems)


async def test_isolate_refuses_an_app_no_pod_runs_unless_forced(
    runbook: RunbookActions, record: Record
) -> None:
    """A mistyped service would isolate nothing yet count as containment (the MTTC clock)."""
    preview = await runbook.preview(ActionRequest("isolate", "nosuchsvc"))
    assert not preview.ok
    assert preview.problems[0].cause == "not-found"
    refusal = preview.problems[0].message
    assert "no pod in voicehive has app=nosuchsvc: nothing to isolate" in refusal
    assert "--force" in refusal
    outcome = await runbook.execute(preview)
    assert outcome.status != "succeeded"
    forced = await runbook.preview(ActionRequest("isolate", "nosuchsvc", force=True))
    assert forced.ok, forced.problems
    assert any(note.startswith("forced: no pod in voicehive") for note in forced.notes)


async def test_block_ip_refuses_a_configured_cluster_range(runbook: RunbookActions) -> None:
    preview = await runbook.preview(
        ActionRequest("block-ip", "100.64.3.4", protected_cidrs=("100.64.0.0/10",))
    )
    assert preview.problems[0].cause == "refused"
    assert "100.64.0.0/10" in preview.problems[0].message


async def test_block_ip_without_the_policy_offers_the_emergency_egress_policy(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    drill_server.state.delete(
        "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    preview = await runbook.preview(ActionRequest("block-ip", "198.51.100.7"))
    assert not preview.ok
    message = preview.problems[0].message
    assert "external-api-segmentation does not exist" in message
    assert "--emergency-egress" in message

    alternative = await runbook.preview(
        ActionRequest("block-ip", "198.51.100.7", emergency_egress=True, service="orchestrator")
    )
    assert alternative.ok, alternative.problems
    assert_schema_valid(alternative)
    assert any("only allow" in note for note in alternative.notes)
    outcome = await runbook.execute(alternative)
    assert outcome.status == "succeeded", outcome.message
    created = stored(
        drill_server.state, "networking.k8s.io/v1", "NetworkPolicy", NS, alternative.changes[0].name
    )
    assert created["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["198.51.100.7/32"]}}]}
    ]
    assert created["spec"]["podSelector"] == {"matchLabels": {"app": "orchestrator"}}


async def test_block_ip_when_the_path_is_missing_says_which(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    drill_server.state.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "external-api-segmentation", "namespace": NS},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        }
    )
    preview = await runbook.preview(ActionRequest("block-ip", "198.51.100.7"))
    assert "has no spec.egress[0].to[0].ipBlock" in preview.problems[0].message


async def test_disable_sa_makes_the_annotation_effective_and_records_no_secret(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("stolen token")
    preview = await runbook.preview(ActionRequest("disable-sa", "orchestrator"))
    assert preview.ok, preview.problems
    assert_schema_valid(preview)
    assert [(c.verb, c.kind, c.name) for c in preview.changes] == [
        ("patch", "ServiceAccount", "orchestrator"),
        ("delete", "Secret", "orchestrator-token"),
    ]

    outcome = await runbook.execute(preview)

    assert outcome.status == "succeeded", outcome.message
    account = stored(drill_server.state, "v1", "ServiceAccount", NS, "orchestrator")
    assert account["metadata"]["annotations"]["security.voicehive.io/disabled"] == "true"
    assert account["automountServiceAccountToken"] is False
    assert drill_server.state.get("v1", "Secret", NS, "orchestrator-token") is None
    intent = record.actions.for_incident(incident.id)[0]
    assert intent.data["previous"] == {"annotation": None, "automountServiceAccountToken": None}
    assert intent.data["deleted_secrets"] == [
        {"name": "orchestrator-token", "type": "kubernetes.io/service-account-token"}
    ]
    dump = b"".join(line.encode() for line in record.conn.iterdump())
    assert b"drill-token-not-real" not in dump
    assert b"ZHJpbGwtdG9rZW4tbm90LXJlYWw" not in dump  # the same token, base64


async def test_rotate_sa_deletes_the_token_secrets_and_says_it_cannot_be_undone(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("rotate-sa", "tts-router"))
    assert preview.ok
    assert [c.name for c in preview.changes] == ["tts-router-token"]
    assert any("cannot be restored" in note for note in preview.notes)
    outcome = await runbook.execute(preview)
    assert outcome.status == "succeeded", outcome.message
    assert drill_server.state.get("v1", "Secret", NS, "tts-router-token") is None
    again = await runbook.preview(ActionRequest("rotate-sa", "tts-router"))
    assert again.no_op
    assert "no token secrets" in again.no_op


async def test_mesh_deny_detects_istio_and_creates_the_runbooks_policy(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    preview = await runbook.preview(ActionRequest("mesh-deny", "tts-router"))
    assert preview.ok, preview.problems
    assert_schema_valid(preview)
    assert any("mesh: istio (detected" in note for note in preview.notes)
    # The seeded pods run without sidecars: no mesh policy can stop anything there.
    assert any(
        note.startswith("not protected: tts-router-7c9d8e6f5a-q7w3e run without istio-proxy")
        for note in preview.notes
    )
    assert any(note.startswith("after this, still gets through: ") for note in preview.notes)
    (change,) = preview.changes
    assert change.kind == "AuthorizationPolicy"
    assert change.api_version.startswith("security.istio.io/")
    assert change.body["spec"] == {"selector": {"matchLabels": {"app": "tts-router"}}}
    outcome = await runbook.execute(preview)
    assert outcome.status == "succeeded", outcome.message
    assert (
        drill_server.state.get("security.istio.io/v1", "AuthorizationPolicy", NS, change.name)
        is not None
    )


async def test_mesh_deny_on_linkerd_creates_both_forms(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    drill_server.state.delete("v1", "Namespace", None, "istio-system")
    drill_server.state.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "linkerd"}}
    )
    preview = await runbook.preview(ActionRequest("mesh-deny", "orchestrator"))
    assert preview.ok, preview.problems
    assert any("mesh: linkerd (detected" in note for note in preview.notes)
    assert_schema_valid(preview)
    kinds = [(c.api_version, c.kind) for c in preview.changes]
    assert ("policy.linkerd.io/v1beta1", "ServerAuthorization") in kinds
    assert ("policy.linkerd.io/v1alpha1", "AuthorizationPolicy") in kinds
    authorization = next(c for c in preview.changes if c.kind == "ServerAuthorization")
    assert authorization.body["spec"]["server"] == {"name": "orchestrator-server"}
    outcome = await runbook.execute(preview)
    assert outcome.status == "succeeded", outcome.message
    assert len(outcome.applied) == 3


async def test_mesh_deny_with_both_meshes_present_asks_which(
    runbook: RunbookActions, drill_server: DrillServerThread
) -> None:
    drill_server.state.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "linkerd"}}
    )
    preview = await runbook.preview(ActionRequest("mesh-deny", "orchestrator"))
    assert "--mesh" in preview.problems[0].message
    chosen = await runbook.preview(ActionRequest("mesh-deny", "orchestrator", mesh="istio"))
    assert chosen.ok
    assert "mesh: istio (as asked)" in chosen.notes


@pytest.mark.parametrize(
    ("action", "target"),
    [
        ("isolate", "Orchestrator"),
        ("isolate", "a" * 64),
        ("isolate", "x;rm -rf /"),
        ("isolate", None),
        ("disable-sa", "../etc"),
        ("mesh-deny", "[red]x"),
        ("rotate-sa", "-leading"),
    ],
)
async def test_hostile_names_are_refused_as_usage_errors(
    runbook: RunbookActions, record: Record, action: str, target: str | None
) -> None:
    with pytest.raises(InvalidRequest):
        await runbook.preview(ActionRequest(action, target))
    assert record.query("SELECT count(*) FROM actions")[0][0] == 0


async def test_bad_namespace_and_unknown_incident_are_usage_errors(runbook: RunbookActions) -> None:
    with pytest.raises(InvalidRequest, match="namespace"):
        await runbook.preview(ActionRequest("isolate", "orchestrator", namespace="Vo/ice"))
    with pytest.raises(InvalidRequest, match="no incident NSI-2026-01-01-009"):
        await runbook.preview(
            ActionRequest("isolate", "orchestrator", incident_id="NSI-2026-01-01-009")
        )


async def test_preview_and_outcome_turn_into_json(runbook: RunbookActions) -> None:
    preview = await runbook.preview(ActionRequest("block-ip", "203.0.113.9"))
    document = json.loads(json.dumps(preview.to_dict()))
    assert document["kind"] == "preview"
    assert document["changes"][0]["patch_type"] == ("application/json-patch+json")
    outcome = await runbook.execute(preview)
    document = json.loads(json.dumps(outcome.to_dict()))
    assert document["status"] == "succeeded"
    assert document["action_id"] == outcome.action_id


async def test_a_preview_runs_once(runbook: RunbookActions, record: Record) -> None:
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    await runbook.execute(preview)
    with pytest.raises(RuntimeError, match="preview again"):
        await runbook.execute(preview)
    assert len(record.query("SELECT 1 FROM actions WHERE entry = 'intent'")) == 1


async def test_isolate_says_which_policies_would_still_allow_and_what_it_cannot_stop(
    runbook: RunbookActions, record: Record
) -> None:
    # external-api-segmentation selects the orchestrator and allows its egress on 443:
    # NetworkPolicies add up, so the deny-all alone does not stop that on a real cluster.
    record.incidents.open("exfiltration from orchestrator", severity="P0")
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    (warning,) = [note for note in preview.notes if "NetworkPolicies add up" in note]
    assert "external-api-segmentation" in warning
    assert not [note for note in preview.notes if note.startswith("still open after isolating")]
    assert any(note.startswith("cannot stop:") and "own node" in note for note in preview.notes)

    other = await runbook.preview(ActionRequest("isolate", "tts-router"))
    assert not [note for note in other.notes if "NetworkPolicies add up" in note]
    assert [c.verb for c in other.changes] == ["create", "patch"]  # the deny-all, the label
