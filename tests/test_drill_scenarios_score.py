"""The drill's score, from a real SQLite record written through the store API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from actions.drill import events as ev
from actions.drill.clock import ManualClock
from actions.drill.events import Observation
from actions.drill.scenario import load_builtin
from actions.drill.score import score_drill, targets_match
from tests.isolation_helpers import cut_off


def succeed(record, incident_id: str, action: str, target: str) -> None:
    action_id = record.actions.intent(incident_id, action, target, actor="alice")
    record.actions.outcome(action_id, "succeeded", f"{action} {target} done")


def test_a_well_run_drill_scores_full_marks(record, clock) -> None:
    scenario = load_builtin("dns-exfiltration")
    first_inject = clock.now
    clock.advance(seconds=90)
    incident = record.incidents.open("DNS tunnel from orchestrator", severity="P0", drill=True)
    clock.advance(seconds=60)
    record.incidents.acknowledge(incident.id, actor="alice")  # 150 s after the first inject
    for phase, item in (
        ("detection", "review-falco"),
        ("detection", "Check DNS queries"),
        ("detection", "review-network-policies"),
        ("recovery", "verify-recovery"),
    ):
        record.checklist.tick(incident.id, phase, item, actor="alice")
    record.decisions.add(incident.id, "active-attack", rationale="TXT tunnel in CoreDNS logs")
    clock.advance(seconds=300)
    succeed(record, incident.id, "isolate", "orchestrator")
    succeed(record, incident.id, "block-ip", "203.0.113.66/32")
    succeed(record, incident.id, "rotate-sa", "orchestrator")
    record.incidents.update(incident.id, contained_at=clock.now, status="contained")
    clock.advance(seconds=1800)
    succeed(record, incident.id, "restore", "orchestrator")
    record.incidents.update(incident.id, recovered_at=clock.now, status="recovered")

    score = score_drill(scenario, record, incident.id, clock_started_at=first_inject)
    assert score.mttd.seconds == 150
    assert score.mttd.met
    assert score.mttd.basis == "first malicious inject to acknowledgement"
    assert score.mttc.seconds == 60 + 300
    assert score.mttc.met
    assert score.mttr.seconds == 60 + 300 + 1800
    assert score.mttr.met
    assert score.decision_correct
    assert score.severity_correct
    assert all(c.done and c.how == "recorded action succeeded" for c in score.containment)
    assert score.steps_missed == ()
    assert score.extra_actions == ()
    earned, possible = score.points
    assert earned == possible
    document = json.loads(json.dumps(score.to_dict()))
    assert document["mttd"] == {
        "name": "mttd",
        "seconds": 150.0,
        "target": 300.0,
        "met": True,
        "basis": "first malicious inject to acknowledgement",
    }
    assert document["decision_correct"] is True
    assert document["containment"][1]["target"] == "203.0.113.66"


def test_a_slow_wrong_drill_shows_what_was_missed(record, clock) -> None:
    scenario = load_builtin("dns-exfiltration")
    first_inject = clock.now
    clock.advance(seconds=600)  # ten minutes before anyone looks
    incident = record.incidents.open("odd DNS", severity="P2", drill=True)
    record.decisions.add(incident.id, "false-positive")
    succeed(record, incident.id, "isolate", "tts-router")  # the wrong service
    clock.advance(seconds=1200)
    record.incidents.update(incident.id, contained_at=clock.now)

    score = score_drill(scenario, record, incident.id, clock_started_at=first_inject)
    assert score.mttd.seconds == 600
    assert not score.mttd.met
    assert score.mttd.basis == "first malicious inject to detection (never acknowledged)"
    assert score.mttc.seconds == 1200
    assert not score.mttc.met
    assert score.mttr.seconds is None
    assert score.mttr.met is False
    assert score.mttr.basis == "not recovered"
    assert not score.decision_correct
    assert score.decision_given == "false-positive"
    assert not score.severity_correct
    assert score.severity_given == "P2"
    assert [c.done for c in score.containment] == [False, False, False]
    assert score.extra_actions == ("isolate tts-router",)
    assert set(score.steps_missed) == {
        "acknowledge",
        "review-falco",
        "check-dns",
        "review-network-policies",
        "isolate",
        "block-ip",
        "rotate-credentials",
        "restore",
        "verify-recovery",
    }
    assert "decide" in score.steps_done
    text = "\n".join(score.lines())
    assert "MTTD: 10m00s (target < 5m00s, MISSED" in text
    assert "Containment isolate orchestrator: NOT DONE" in text
    assert "Missed runbook steps: acknowledge (Acknowledge the alert)" in text


def test_containment_seen_in_the_cluster_counts_without_a_recorded_action(record, clock) -> None:
    scenario = load_builtin("suspicious-external-ip")
    incident = record.incidents.open("beacon", severity="P1", drill=True)
    clock.advance(seconds=240)
    observed = [Observation("block-ip", "203.0.113.66", clock.now, "external-api-segmentation")]
    score = score_drill(
        scenario,
        record,
        incident.id,
        clock_started_at=clock.now - timedelta(seconds=300),
        observations=observed,
    )
    assert score.containment[0].done
    assert score.containment[0].how == "seen in the cluster (external-api-segmentation)"
    assert score.mttc.seconds == 240
    assert score.mttc.basis == "detection to the first expected containment the cluster showed"
    assert "block-ip" in score.steps_done


def test_a_false_positive_needs_no_containment(record, clock) -> None:
    scenario = load_builtin("false-positive-leader-election")
    started = clock.now
    clock.advance(seconds=45)
    incident = record.incidents.open("K8s API contact", severity="P3", drill=True)
    record.incidents.acknowledge(incident.id)
    record.decisions.add(
        incident.id, "false-positive", rule_to_tune="Contact K8S API Server From Container"
    )
    score = score_drill(scenario, record, incident.id, clock_started_at=started)
    assert score.mttc.met is None
    assert score.mttr.met is None
    assert score.decision_correct
    assert "tune-rules" in score.steps_done
    assert set(score.steps_missed) == {"review-falco", "initial-assessment"}


def test_unknown_incident_is_an_error(record) -> None:
    with pytest.raises(KeyError, match="NSI-2026-03-14-999"):
        score_drill(
            load_builtin("mtls-failure"), record, "NSI-2026-03-14-999", clock_started_at=None
        )


def test_targets_match_services_and_addresses() -> None:
    assert targets_match("203.0.113.66", "203.0.113.66/32")
    assert not targets_match("203.0.113.66", "203.0.113.0/24")
    assert targets_match("orchestrator", "orchestrator")
    assert targets_match("orchestrator", "voicehive/orchestrator")
    assert not targets_match("orchestrator", "tts-router")
    assert targets_match("networkpolicy/tts-router-ingress", "NetworkPolicy/tts-router-ingress")
    assert not targets_match("orchestrator", None)


async def test_session_scores_from_its_own_played_times(record, clock, drill_factory) -> None:
    """The session times MTTD from when the clock inject really played (wall time)."""
    drill_clock = ManualClock(clock.now)
    drill = await drill_factory("dns-exfiltration", clock=drill_clock, speed=1)
    drill.player.subscribe(
        lambda e: drill.player.stop() if e.inject_id == "tunnel-queries" else None
    )
    await drill.play()
    first_dig = next(
        e for e in drill.player.history if e.inject_id == "first-dig" and e.kind == ev.INJECT
    )
    assert first_dig.wall == clock.now + timedelta(seconds=45)
    clock.advance(seconds=45 + 100)
    incident = record.incidents.open("DNS", severity="P0", drill=True)
    record.incidents.acknowledge(incident.id)
    # A real isolation: the runbook's deny-all alone leaves the orchestrator's traffic open
    # (NetworkPolicies add up), so it would not count as isolated.
    cut_off(drill.state, "orchestrator")
    score = drill.score(record, incident.id)
    assert score.mttd.seconds == 100
    isolate = next(c for c in score.containment if c.action == "isolate")
    assert isolate.done
    assert "emergency-isolation-1" in isolate.how


async def test_credentials_removed_with_kubectl_count_as_rotated(
    record, clock, drill_factory
) -> None:
    drill = await drill_factory("dns-exfiltration", clock=ManualClock(clock.now))
    incident = record.incidents.open("DNS", severity="P0", drill=True)
    drill.state.delete("v1", "Secret", "voicehive", "orchestrator-token-x7k2p")
    score = drill.score(record, incident.id)
    rotate = next(c for c in score.containment if c.action == "rotate-sa")
    assert rotate.done
    assert rotate.how == "seen in the cluster"
    assert "rotate-credentials" not in score.steps_missed
