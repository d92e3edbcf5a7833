"""Checklist items tick themselves from recorded actions, evidence and verified checks."""

from __future__ import annotations

from typing import Any

from actions.checklists import (
    WARROOM,
    checklist_for,
    proofs,
    tick_proven,
    tick_verified,
)
from actions.checklists.verdict import not_verified, verified
from store import Record


def run_action(
    record: Record,
    incident_id: str,
    action: str,
    target: str | None,
    status: str = "succeeded",
    **data: Any,
) -> str:
    """An intent and its outcome, as the action layer records them; returns the action ID."""
    action_id = record.actions.intent(incident_id, action, target, actor="alice")
    record.actions.outcome(action_id, status, f"{action} done", data=data or None)
    return action_id


def ticked(record: Record, incident_id: str, phase: str, item_id: str) -> Any:
    return checklist_for(phase).item(item_id).tick_for(record.checklist.state(incident_id))


def test_a_succeeded_isolation_ticks_isolate_affected_services_citing_it(
    record: Record, clock: Any
) -> None:
    incident = record.incidents.open("DNS tunnel", severity="P0")
    run_action(record, incident.id, "isolate", "tts-router", status="failed")
    assert tick_proven(record, incident.id) == []  # a failed action proves nothing
    clock.advance(seconds=30)
    run_action(record, incident.id, "isolate", "orchestrator")
    (outcome,) = [
        e for e in record.actions.for_incident(incident.id)
        if e.entry == "outcome" and e.status == "succeeded"
    ]  # fmt: skip
    (proof,) = tick_proven(record, incident.id)
    tick = ticked(record, incident.id, "containment", "isolate")
    assert tick.checked
    assert tick.item == "Isolate Affected Services"
    assert tick.actor == WARROOM
    assert tick.note.startswith(
        f"ticked by warroom from action #{outcome.id}: isolate orchestrator"
    )
    assert proof.note == tick.note
    entry = record.timeline.for_incident(incident.id, kinds=("checklist",))[-1]
    assert entry.summary == "Checklist (containment) ticked: Isolate Affected Services"
    assert entry.actor == WARROOM
    assert tick_proven(record, incident.id) == []  # once is enough


def test_a_persons_untick_stands_until_something_new_proves_the_item(
    record: Record, clock: Any
) -> None:
    incident = record.incidents.open("beacon", severity="P1")
    run_action(record, incident.id, "block-ip", "203.0.113.66")
    tick_proven(record, incident.id)
    clock.advance(seconds=10)
    record.checklist.tick(
        incident.id, "containment", "Block Suspicious External IPs", checked=False, actor="bob"
    )
    assert tick_proven(record, incident.id) == []
    assert not ticked(record, incident.id, "containment", "block-ip").checked
    clock.advance(seconds=10)
    run_action(record, incident.id, "block-ip", "198.51.100.7")
    (proof,) = tick_proven(record, incident.id)
    assert proof.target == "198.51.100.7"
    assert ticked(record, incident.id, "containment", "block-ip").checked


def test_a_tick_by_hand_is_not_ticked_again(record: Record) -> None:
    incident = record.incidents.open("beacon", severity="P1")
    record.checklist.tick(incident.id, "containment", "Block Suspicious External IPs", actor="bob")
    run_action(record, incident.id, "block-ip", "203.0.113.66")
    assert tick_proven(record, incident.id) == []
    assert ticked(record, incident.id, "containment", "block-ip").actor == "bob"


def test_mesh_deny_proves_the_containment_of_the_mesh_it_changed(record: Record) -> None:
    incident = record.incidents.open("mesh", severity="P1")
    applied = [{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "namespace": "voicehive", "name": "emergency-deny-1"}]  # fmt: skip
    run_action(record, incident.id, "mesh-deny", "pms-connector", applied=applied)
    assert set(proofs(record, incident.id)) == {"istio-containment"}
    tick_proven(record, incident.id)
    assert ticked(record, incident.id, "containment", "istio-containment").checked
    assert ticked(record, incident.id, "containment", "linkerd-containment") is None


def test_a_captures_evidence_proves_the_gather_evidence_and_analysis_steps(
    record: Record,
) -> None:
    incident = record.incidents.open("DNS tunnel", severity="P0")
    action_id = record.actions.intent(incident.id, "capture", None, actor="alice")
    for name in ("events-voicehive.yaml", "falco-logs.txt", "networkpolicies-voicehive.yaml",
                 "mesh-policies-voicehive.yaml", "logs-orchestrator.txt", "coredns-logs.txt",
                 "prometheus-tcp-received-rate.json"):  # fmt: skip
        record.evidence.add(incident.id, name, b"x", action_id=action_id)
    record.actions.outcome(action_id, "succeeded", "captured 7 pieces of evidence")
    ticked_ids = {proof.item.id for proof in tick_proven(record, incident.id)}
    # Gathering is proven; reviewing the live alert (events, Falco) stays a person's tick.
    assert ticked_ids == {
        "review-network-policies", "review-mesh-policies", "capture-pod-logs", "analyze-traffic",
    }  # fmt: skip
    note = ticked(record, incident.id, "detection", "review-network-policies").note
    assert "from action #" in note
    assert "capture: networkpolicies-voicehive.yaml stored at 09:00:00 UTC" in note


def test_a_verified_check_ticks_its_item_and_an_unverified_one_does_not(
    record: Record, clock: Any
) -> None:
    incident = record.incidents.open("drift", severity="P2")
    item = checklist_for("recovery").item("services-healthy")
    bad = not_verified("1 of 3 pods not Ready")
    assert tick_verified(record, incident.id, item, bad) is None
    good = verified("3 of 3 pods Ready")
    proof = tick_verified(record, incident.id, item, good)
    assert proof is not None
    tick = ticked(record, incident.id, "recovery", "services-healthy")
    assert (tick.actor, tick.verified) == (WARROOM, "verified")
    assert tick.note == "ticked by warroom from verification: verified: 3 of 3 pods Ready"
    assert tick_verified(record, incident.id, item, good) is None  # already ticked
