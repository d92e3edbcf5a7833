"""The drill's score, from a real SQLite record written through the store API."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from actions.drill import drill_events as ev
from actions.drill.clock import ManualClock
from actions.drill.drill_events import Observation
from actions.drill.scenario import load_builtin
from actions.drill.score import duration, score_drill, targets_match
from store import Record
from store.response_times import incident_response_times
from tests.isolation_helpers import cut_off
from tests.plugins.actions import stored
from tests.plugins.drill_scenarios import DrillFactory
from tests.plugins.record import FrozenClock
from tests.sources_helpers import eventually
from tui.cli.main import main

NS = "voicehive"
NP = "networking.k8s.io/v1"


def succeed(record: Record, incident_id: str, action: str, target: str) -> None:
    action_id = record.actions.intent(incident_id, action, target, actor="alice")
    record.actions.outcome(action_id, "succeeded", f"{action} {target} done")


def link_first_alert(record: Record, incident_id: str, at: datetime) -> None:
    """The incident's first alert, as accepting warroom's proposal links it."""
    record.alerts.add_batch(
        [
            {
                "incident_id": incident_id,
                "dedupe_key": f"first-{incident_id}",
                "time": at.isoformat(),
                "time_ns": int(at.timestamp()) * 1_000_000_000,
                "rule": "DNS tunneling or exfiltration suspected",
                "priority": "Critical",
                "output": "tunnel",
                "output_fields": "{}",
            }
        ]
    )


def test_a_well_run_drill_scores_full_marks_every_line_explained(
    record: Record, clock: FrozenClock
) -> None:
    scenario = load_builtin("dns-exfiltration")
    first_inject = clock.now
    incident = record.incidents.open(
        "DNS tunnel from orchestrator", severity="P0", drill=True, detected_at=first_inject
    )
    clock.advance(seconds=150)
    record.incidents.acknowledge(incident.id, actor="alice")  # 150 s after the first alert
    for phase, item in (
        ("detection", "Review Falco alerts"),
        ("detection", "review-network-policies"),  # a tick under the item's id counts too
        ("eradication", "Analyze Network Flows"),
        ("eradication", "Patch Vulnerabilities"),  # the Deployment rolled back to 2.13.4
        ("recovery", "Verify Service Health"),
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
    assert score.mttd.basis == "first sign 09:00:00 to acknowledged"
    assert score.mttc.seconds == 150 + 300
    assert score.mttc.met
    assert score.mttr.seconds == 150 + 300 + 1800
    assert score.mttr.met
    assert score.decision_correct
    assert score.severity_correct
    assert all(c.done and "succeeded" in c.how for c in score.containment)
    assert score.steps_missed == ()
    assert score.extra_actions == ()
    assert score.notes == ()  # the incident's clocks start at the scenario's first sign
    earned, possible = score.points
    assert earned == possible == 3 + 1 + 2 + 3 + 7
    assert all(line.how for line in score.items if line.possible), "every line explained"
    steps = {line.ref: line for line in score.items if line.kind == "step"}
    assert steps["restore"].item == "Gradual Traffic Restoration"
    assert steps["restore"].how.startswith("action #")  # proven by the action in the record
    assert steps["restore"].how.endswith(": restore orchestrator")
    assert steps["review-falco"].how == "ticked by alice 09:02:30"
    assert steps["acknowledge"].item == "Acknowledge the Alert"
    assert (steps["restore"].earned, steps["restore"].possible) == (1, 1)
    isolate = next(line for line in score.items if line.ref == "isolate")
    assert isolate.item == "Isolate Affected Services (orchestrator)"
    decision = next(line for line in score.items if line.kind == "decision")
    assert (decision.earned, decision.possible) == (2, 2)
    document = json.loads(json.dumps(score.to_dict()))
    assert document["mttd"] == {
        "name": "mttd",
        "seconds": 150.0,
        "target": 300.0,
        "met": True,
        "basis": "first sign 09:00:00 to acknowledged",
        "recorded": None,  # set only for a time the record shows but the drill does not credit
    }
    assert document["decision_correct"] is True
    assert document["containment"][1]["target"] == "203.0.113.66"
    assert document["points"] == {"earned": 16, "possible": 16}
    assert document["items"][0]["points"] == {"earned": 1, "possible": 1}


def test_a_slow_wrong_drill_says_what_was_missed_and_how_it_is_done(
    record: Record, clock: FrozenClock
) -> None:
    scenario = load_builtin("dns-exfiltration")
    first_inject = clock.now
    clock.advance(seconds=600)  # ten minutes before anyone looks
    incident = record.incidents.open("odd DNS", severity="P2", drill=True)
    link_first_alert(record, incident.id, first_inject)  # the alert was there all along
    record.decisions.add(incident.id, "false-positive")
    succeed(record, incident.id, "isolate", "tts-router")  # the wrong service
    clock.advance(seconds=1200)
    record.incidents.update(incident.id, contained_at=clock.now)

    score = score_drill(scenario, record, incident.id, clock_started_at=first_inject)
    assert score.mttd.seconds is None
    assert score.mttd.met is False
    assert score.mttd.basis == "not acknowledged yet"
    assert score.mttc.seconds is None  # a false positive has no containment time
    assert score.mttc.basis == "declared a false positive: never done"
    assert score.mttc.met is False
    assert score.mttr.seconds is None
    assert score.mttr.met is False
    assert not score.decision_correct
    assert score.decision_given == "false-positive"
    assert not score.severity_correct
    assert score.severity_given == "P2"
    assert [c.done for c in score.containment] == [False, False, False]
    assert score.extra_actions == ("isolate tts-router",)
    # The checklist ticked "Isolate Affected Services" from the wrong isolation: not the key's.
    assert set(score.steps_missed) == set(scenario.answer_key.steps)
    text = "\n".join(score.lines())
    assert "MISSED 0/1  MTTD: not reached (expected < 5m00s); not acknowledged yet; press a" in text
    assert "WRONG 0/1  Severity: P2 (expected P0); press v and choose P0" in text
    assert "WRONG 0/2  Decision: false-positive (expected active-attack); press d" in text
    assert (
        "MISSED 0/1  Isolate Affected Services (orchestrator): not done (expected done); "
        "press i on the alert, or `warroom act isolate orchestrator`"
    ) in text
    assert (
        "MISSED 0/1  Review Falco alerts: missed (expected done); press k, then space on "
        '"Review Falco alerts" (Detection & Analysis)'
    ) in text
    assert (
        "MISSED 0/1  Analyze Network Flows: missed (expected done); press c, or "
        "`warroom act capture`"
    ) in text
    assert "extra   -  Not in the answer key: isolate tts-router" in text
    assert "check-dns" not in text
    assert "review-network-policies" not in text
    assert "Verify service health" not in text  # the checklist's words: "Verify Service Health"
    assert "MISSED 0/1  Verify Service Health: missed (expected done); press k, then v" in text


def test_containment_seen_in_the_cluster_counts_without_a_recorded_action(
    record: Record, clock: FrozenClock
) -> None:
    scenario = load_builtin("suspicious-external-ip")
    incident = record.incidents.open("beacon", severity="P1", drill=True)
    clock.advance(seconds=240)
    observed = [
        Observation("block-ip", "203.0.113.66", clock.now, "external-api-segmentation"),
        Observation("eradicated", "Secret voicehive/tts-router-token-5m8qd", clock.now, ""),
    ]
    score = score_drill(
        scenario,
        record,
        incident.id,
        clock_started_at=clock.now - timedelta(seconds=300),
        observations=observed,
    )
    assert score.containment[0].done
    assert score.containment[0].how == "seen in the cluster (external-api-segmentation)"
    assert score.mttc.seconds is None  # the incident was not marked contained: as the header
    assert "rotate-credentials" in score.steps_done  # the token deleted with kubectl
    rotated = next(line for line in score.items if line.ref == "rotate-credentials")
    assert rotated.how == "seen in the cluster 09:04:00"



def test_an_action_that_proves_a_step_is_not_also_an_extra(
    record: Record, clock: FrozenClock
) -> None:
    """rotate-sa is how "Rotate Compromised Credentials" is done in suspicious-external-ip:
    credited there, never listed again as "Not in the answer key"."""
    scenario = load_builtin("suspicious-external-ip")
    incident = record.incidents.open("beacon", severity="P1", drill=True)
    clock.advance(seconds=60)
    succeed(record, incident.id, "rotate-sa", "tts-router")
    succeed(record, incident.id, "disable-sa", "booking-service")  # a real extra
    score = score_drill(scenario, record, incident.id, clock_started_at=None)
    assert "rotate-credentials" in score.steps_done
    assert score.extra_actions == ("disable-sa booking-service",)


def test_a_remediation_scenario_says_how_its_clock_stops_without_containment(
    record: Record, clock: FrozenClock
) -> None:
    """mtls-failure's key asks for the fix, not isolation: a missed MTTC says to move past
    Containment once the fix is in, not to isolate or block."""
    scenario = load_builtin("mtls-failure")
    incident = record.incidents.open("mTLS 503s", severity="P0", drill=True)
    clock.advance(seconds=120)
    fixed = [Observation("fix-config", "peerauthentication/default", clock.now, "")]
    score = score_drill(scenario, record, incident.id, clock_started_at=None,
                        observations=fixed)  # fmt: skip
    assert score.containment[0].done
    mttc = next(line for line in score.items if line.ref == "mttc")
    assert mttc.verdict == "MISSED"
    assert "a remediation, not a containment" in mttc.how
    assert "i, b, x or m" not in mttc.how

def test_a_false_positive_needs_no_containment(record: Record, clock: FrozenClock) -> None:
    scenario = load_builtin("false-positive-leader-election")
    started = clock.now
    incident = record.incidents.open(
        "K8s API contact", severity="P3", drill=True, detected_at=started
    )
    clock.advance(seconds=45)
    record.incidents.acknowledge(incident.id)
    record.decisions.add(
        incident.id, "false-positive", rule_to_tune="Contact K8S API Server From Container"
    )
    score = score_drill(scenario, record, incident.id, clock_started_at=started)
    assert score.mttd.seconds == 45
    assert score.mttc.met is None
    assert score.mttr.met is None
    mttc = next(line for line in score.items if line.ref == "mttc")
    assert (mttc.verdict, mttc.possible) == ("n/a", 0)
    assert score.decision_correct
    assert "tune-rules" in score.steps_done
    assert set(score.steps_missed) == {"review-falco", "initial-assessment", "capture-pod-logs"}


def test_the_score_and_the_header_give_the_same_mttd(record: Record, clock: FrozenClock) -> None:
    """One definition: the header's clock and the score's line for the same incident."""
    from tui.views.clocks import clock_states

    scenario = load_builtin("dns-exfiltration")
    played = clock.now
    clock.advance(seconds=70)  # the proposal's first alert: the DNS detection
    incident = record.incidents.open("DNS", severity="P0", drill=True, detected_at=clock.now)
    clock.advance(seconds=190)
    acked = record.incidents.acknowledge(incident.id)
    score = score_drill(scenario, record, incident.id, clock_started_at=played)
    (header_mttd, *_rest) = clock_states(acked, clock.now)
    assert score.mttd.seconds == header_mttd.elapsed.total_seconds() == 190
    (note,) = score.notes
    assert "first sign played at 09:00:00, 1m10s before this incident's clocks start" in note


def test_unknown_incident_is_an_error(record: Record) -> None:
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


async def test_session_scores_from_its_own_played_times(
    record: Record, clock: FrozenClock, drill_factory: DrillFactory
) -> None:
    """The session knows when the clock inject really played (wall time) and says so."""
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
    assert score.mttd.seconds == 0  # opened and acknowledged at once, by hand
    assert "1m40s before this incident's clocks start" in score.notes[0]
    isolate = next(c for c in score.containment if c.action == "isolate")
    assert isolate.done
    assert "emergency-isolation-1" in isolate.how


async def test_credentials_removed_with_kubectl_count_as_rotated(
    record: Record, clock: FrozenClock, drill_factory: DrillFactory
) -> None:
    drill = await drill_factory("dns-exfiltration", clock=ManualClock(clock.now))
    incident = record.incidents.open("DNS", severity="P0", drill=True)
    drill.state.delete("v1", "Secret", "voicehive", "orchestrator-token-x7k2p")
    score = drill.score(record, incident.id)
    rotate = next(c for c in score.containment if c.action == "rotate-sa")
    assert rotate.done
    assert rotate.how == "seen in the cluster"


async def test_deleting_the_pod_is_not_eradication_rolling_the_image_back_is(
    record: Record, clock: FrozenClock, drill_factory: DrillFactory
) -> None:
    """The score says why the attack runs on after the pod was deleted, and what ends it."""
    drill = await drill_factory("dns-exfiltration", clock=ManualClock(clock.now))
    incident = record.incidents.open("DNS", severity="P0", drill=True, detected_at=clock.now)
    drill.state.delete("v1", "Pod", "voicehive", "orchestrator-6f8d9c7b5d-k2x9p")

    score = drill.score(record, incident.id)
    patched = next(line for line in score.items if line.ref == "patch-vulnerabilities")
    assert (patched.item, patched.verdict) == ("Patch Vulnerabilities", "MISSED")
    assert patched.how.startswith(
        "roll orchestrator back to the release before (`kubectl rollout undo "
        "deploy/orchestrator -n voicehive`) or set a clean image (`kubectl set image "
        "deploy/orchestrator -n voicehive orchestrator=IMAGE`): deleting its pod does not help, "
        "its ReplicaSet starts registry.example.com/voicehive/orchestrator:2.14.0 again; "
    )
    (running,) = [note for note in score.notes if "still running" in note]
    assert running.startswith("The attack was still running when scored: poisoned-dependency (")
    assert "deleting the pod does not end it, its controller starts the same image" in running

    deployment = stored(drill.state, "apps/v1", "Deployment", "voicehive", "orchestrator")
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "registry.example.com/voicehive/orchestrator:2.13.4"
    )
    drill.state.replace(deployment)  # kubectl set image: the rollout replaces the pod
    score = drill.score(record, incident.id)
    patched = next(line for line in score.items if line.ref == "patch-vulnerabilities")
    assert patched.verdict == "met"
    assert patched.how == (
        "seen in the cluster 09:00:00 (no pod of app=orchestrator in voicehive runs "
        "registry.example.com/voicehive/orchestrator:2.14.0)"
    )
    assert not [note for note in score.notes if "still running" in note]


async def test_a_tick_by_hand_is_a_claim_the_drill_cluster_must_back(
    record: Record, clock: FrozenClock, drill_factory: DrillFactory
) -> None:
    """Ticking "Patch Vulnerabilities" while the poisoned image still runs earns nothing, and
    the line says so; the same tick after the rollback does. A tick of an item the cluster
    cannot show (no image in the attack: none here for "Review Falco alerts") is believed."""
    drill = await drill_factory("suspicious-external-ip", clock=ManualClock(clock.now))
    incident = record.incidents.open("Beacon", severity="P1", drill=True, detected_at=clock.now)
    for phase, item in (
        ("eradication", "Patch Vulnerabilities"),
        ("eradication", "Rotate Compromised Credentials"),
        ("detection", "Review Falco alerts"),
    ):
        record.checklist.tick(incident.id, phase, item, actor="root")

    lines = {line.ref: line for line in drill.score(record, incident.id).items}
    for ref in ("patch-vulnerabilities", "rotate-credentials"):
        assert (lines[ref].verdict, lines[ref].earned) == ("MISSED", 0)
        assert lines[ref].how.startswith(
            "ticked by root 09:00:00, but neither the record nor the drill cluster shows it done: "
        )
    assert lines["review-falco"].how == "ticked by root 09:00:00"

    deployment = stored(drill.state, "apps/v1", "Deployment", "voicehive", "tts-router")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].replace("1.9.3", "1.9.2")
    drill.state.replace(deployment)
    lines = {line.ref: line for line in drill.score(record, incident.id).items}
    assert lines["patch-vulnerabilities"].verdict == "met"


async def test_a_block_the_cluster_no_longer_has_is_not_credited(
    record_path: Path, drill_factory: DrillFactory
) -> None:
    """block-ip succeeded and was verified, then the address left the except list (not by
    restore): the score credits neither the containment nor its checklist step."""
    drill = await drill_factory("dns-exfiltration", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    args = ["--db", str(record_path), "act", "block-ip", "203.0.113.66", "--yes", *kube]
    assert await asyncio.to_thread(main, args) == 0
    with Record.open(record_path) as record:
        (incident,) = record.incidents.open_ones()
        before = next(c for c in drill.score(record, incident.id).containment
                      if c.action == "block-ip")  # fmt: skip
        assert before.done
        segmentation = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
        segmentation["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].remove("203.0.113.66/32")
        drill.state.replace(segmentation)  # lifted behind the incident's back
        await eventually(
            lambda: any(o.action == "block-ip-lifted" for o in drill.engine.observations)
        )
        score = drill.score(record, incident.id)
    block = next(c for c in score.containment if c.action == "block-ip")
    assert not block.done
    line = next(x for x in score.items if x.kind == "containment" and x.ref == "block-ip")
    assert (line.verdict, line.earned) == ("MISSED", 0)
    assert "the cluster no longer has it" in line.how
    steps = [x for x in score.items if x.kind == "step" and x.ref == "block-ip"]
    assert all(x.verdict == "MISSED" for x in steps)


async def test_isolating_the_workload_does_not_lift_its_ip_block(
    record_path: Path, drill_factory: DrillFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Isolation takes the pod out of the policy holding the except entry (its quarantine
    label): the block stays credited, as the policy and `act block-ip --dry-run` say; taking
    the entry out while the pod is isolated does lift it."""
    drill = await drill_factory("suspicious-external-ip", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    db = ["--db", str(record_path)]
    block = [*db, "act", "block-ip", "203.0.113.66", *kube]
    assert await asyncio.to_thread(main, [*block, "--yes"]) == 0
    assert await asyncio.to_thread(main, [*db, "act", "isolate", "tts-router", "--yes", *kube]) == 0
    # Isolation and blocks are judged in one reaction: once the isolation shows, so has the rest.
    await eventually(
        lambda: any(o.action == "isolate" for o in drill.engine.observations)
    )
    assert not [o for o in drill.engine.observations if o.action == "block-ip-lifted"]
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*block, "--dry-run", "--json"]) == 0
    assert "already in external-api-segmentation's except list" in json.loads(
        capsys.readouterr().out)["no_op"]
    with Record.open(record_path) as record:
        (incident,) = record.incidents.open_ones()
        score = drill.score(record, incident.id)
        line = next(x for x in score.items if x.kind == "containment" and x.ref == "block-ip")
        assert (line.verdict, line.earned) == ("met", 1)
        assert all(x.verdict == "met" for x in score.items if x.ref in ("block-ip", "isolate"))

        segmentation = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
        segmentation["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].remove("203.0.113.66/32")
        drill.state.replace(segmentation)  # lifted behind the isolated pod's back
        await eventually(
            lambda: any(o.action == "block-ip-lifted" for o in drill.engine.observations)
        )
        line = next(x for x in drill.score(record, incident.id).items
                    if x.kind == "containment" and x.ref == "block-ip")  # fmt: skip
        assert line.verdict == "MISSED"
        assert "the cluster no longer has it" in line.how


async def test_a_block_made_while_the_workload_is_isolated_is_seen_at_once(
    record_path: Path, drill_factory: DrillFactory
) -> None:
    """Blocking the address of an isolated pod's workload shows in the cluster then, not only
    once the isolation is lifted."""
    drill = await drill_factory("suspicious-external-ip", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    args = ["--db", str(record_path), "act", "isolate", "tts-router", "--yes", *kube]
    assert await asyncio.to_thread(main, args) == 0
    await eventually(lambda: any(o.action == "isolate" for o in drill.engine.observations))
    segmentation = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    segmentation["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].append("203.0.113.66/32")
    drill.state.replace(segmentation)
    await eventually(
        lambda: any(
            o.action == "block-ip" and o.target == "203.0.113.66" for o in drill.engine.observations
        )
    )
    seen = next(o for o in drill.engine.observations if o.action == "block-ip")
    assert seen.by == "external-api-segmentation"


async def test_recovery_is_not_met_while_the_attack_still_runs(
    record_path: Path, drill_factory: DrillFactory
) -> None:
    """R (restore) lifts the isolation, but the poisoned image still runs: MTTR is not met until
    the Deployment is rolled back, and then counts to the rollback. Until then the score shows
    the MTTR the header and the report show, as recorded but not credited, and why."""
    drill = await drill_factory("dns-exfiltration", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    db = ["--db", str(record_path)]
    assert (
        await asyncio.to_thread(main, [*db, "act", "isolate", "orchestrator", "--yes", *kube]) == 0
    )
    assert await asyncio.to_thread(main, [*db, "act", "restore", "--yes", *kube]) == 0
    with Record.open(record_path) as record:
        (incident,) = record.incidents.list()
        assert incident.recovered_at is not None  # restore marked it recovered
        score = drill.score(record, incident.id)
        mttr = next(line for line in score.items if line.ref == "mttr")
        recorded = incident_response_times(record, incident.id)["mttr"].seconds()  # the report's
        assert recorded is not None
        assert (mttr.verdict, mttr.result, score.mttr.met) == (
            "MISSED", f"{duration(recorded)} recorded, not credited", False)
        assert "but the attack still runs (poisoned-dependency)" in mttr.how
        assert "kubectl rollout undo deploy/orchestrator" in mttr.how

        deployment = stored(drill.state, "apps/v1", "Deployment", NS, "orchestrator")
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = (
            "registry.example.com/voicehive/orchestrator:2.13.4"
        )
        drill.state.replace(deployment)  # kubectl set image: the attack ends
        await eventually(lambda: any(o.action == "attack-ended" for o in drill.engine.observations))
        score = drill.score(record, incident.id)
    assert score.mttr.met is True
    assert score.mttr.seconds is not None
    assert score.mttr.basis.startswith("first sign")
