"""Drift from the drill's desired state: detected as the runbook's P2, remediated by re-applying."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.config import PolicySettings, Settings
from actions.falco.classify import Classifier
from actions.kube.cluster import ClusterOptions, connect
from actions.policy.drift import compare, load_desired
from actions.sources.detection import IncidentProposal
from actions.sources.live import LiveSources
from actions.sources.policies import DriftReport
from store import Record
from tests.isolation_helpers import cut_off
from tests.plugins.actions import stored
from tests.plugins.drill_scenarios import DrillFactory
from tests.sources_helpers import RunningSource, eventually
from tui.cli.main import main

NS = "voicehive"
NP = "networking.k8s.io/v1"


def drift(drill: Any) -> None:
    """The scenario's injects: the segmentation loosened, tts-router-ingress deleted."""
    for inject in drill.scenario.injects:
        if inject.kind in ("apply", "delete"):
            drill.engine.play(inject)


def findings(drill: Any) -> list[tuple[str, str]]:
    actual = {p["metadata"]["name"]: p for p in drill.state.list(NP, "NetworkPolicy", NS)}
    return [(f.name, f.kind) for f in compare(load_desired(drill.desired_state, NS), actual, NS)]


async def act(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_the_drill_ships_its_desired_state_and_drift_shows(
    drill_factory: DrillFactory,
) -> None:
    drill = await drill_factory("network-policy-drift")
    assert findings(drill) == []
    text = drill.desired_state.read_text()
    assert text.startswith("# Desired NetworkPolicies of drill network-policy-drift")
    drift(drill)
    assert findings(drill) == [
        ("external-api-segmentation", "changed"),
        ("tts-router-ingress", "missing"),
    ]


async def test_drift_records_a_p2_alert_and_proposes_an_incident(
    drill_factory: DrillFactory, record: Record
) -> None:
    drill = await drill_factory("network-policy-drift", serve=True)
    cluster = await connect(ClusterOptions(kubeconfig=str(drill.kubeconfig_path)))
    settings = Settings(policies=PolicySettings(desired_state_file=drill.desired_state))
    live = LiveSources(cluster, record, settings, Classifier.load(None))
    running = RunningSource(live.run)
    try:
        await eventually(lambda: any(h.source == "drift" for h in running.health()))
        assert running.of(IncidentProposal) == []
        drift(drill)
        await eventually(lambda: bool(running.of(IncidentProposal)), within=20)
    finally:
        await running.stop()
        await cluster.close()
    proposal = running.of(IncidentProposal)[-1]
    assert (proposal.severity, proposal.category) == ("P2", "policy-drift")
    assert proposal.rule == "Network policy configuration drift"
    rows = record.query(
        "SELECT severity, output FROM alerts WHERE rule = ?",
        ("Network policy configuration drift",),
    )
    assert {row[0] for row in rows} == {"P2"}
    assert any("external-api-segmentation (changed)" in row[1] for row in rows)


async def test_reapply_puts_the_desired_policies_back_and_restore_can_undo_it(
    drill_factory: DrillFactory, record_path: Path
) -> None:
    drill = await drill_factory("network-policy-drift", serve=True)
    drift(drill)
    drifted = {p["metadata"]["name"]: p["spec"] for p in drill.state.list(NP, "NetworkPolicy", NS)}
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    desired = ["--file", str(drill.desired_state)]

    assert (
        await act("--db", str(record_path), "act", "reapply-policies", *desired, "--dry-run", *kube)
        == 0
    )
    assert findings(drill) != []  # a dry run changes nothing
    assert (
        await act("--db", str(record_path), "act", "reapply-policies", *desired, "--yes", *kube)
        == 0
    )

    assert findings(drill) == []
    observed = {(o.action, o.target) for o in drill.engine.observations}
    assert ("fix-config", "networkpolicy/external-api-segmentation") in observed
    assert ("fix-config", "networkpolicy/tts-router-ingress") in observed
    assert (
        await act("--db", str(record_path), "act", "reapply-policies", *desired, "--yes", *kube)
        == 0
    )  # a recorded no-op

    assert await act("--db", str(record_path), "act", "restore", "--yes", *kube) == 0
    assert findings(drill) == []  # the desired state is the normal one: kept
    assert (
        await act("--db", str(record_path), "act", "restore", "--undo-reapply", "--yes", *kube) == 0
    )
    after = {p["metadata"]["name"]: p["spec"] for p in drill.state.list(NP, "NetworkPolicy", NS)}
    assert after == drifted


async def test_a_misconfiguration_put_right_by_reapply_is_contained_then(
    drill_factory: DrillFactory, record_path: Path
) -> None:
    """Decided a misconfiguration in Detection, re-applying the policies is its remediation:
    the incident moves to Eradication and, past Containment, is contained (MTTC stops), as
    moving there with p does. MTTC ran on until someone left Recovery."""
    drill = await drill_factory("network-policy-drift", serve=True)
    drift(drill)
    with Record.open(record_path) as record:
        incident = record.incidents.open("Drift on egress", severity="P2", drill=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    assert await act("--db", str(record_path), "act", "reapply-policies", "--file",
                     str(drill.desired_state), "--incident", incident.id, "--yes", *kube) == 0
    with Record.open(record_path) as record:
        after = record.incidents.get_required(incident.id)
    assert (after.phase, after.status) == ("eradication", "contained")
    assert after.contained_at is not None


async def test_reapply_keeps_an_isolation_in_progress(
    drill_factory: DrillFactory, record_path: Path
) -> None:
    drill = await drill_factory("dns-exfiltration", serve=True)
    cut_off(drill.state, "orchestrator")
    loosened = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    loosened["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] = []
    drill.state.replace(loosened)
    code = await act(
        "--db",
        str(record_path),
        "act",
        "reapply-policies",
        "--file",
        str(drill.desired_state),
        "--yes",
        "--kubeconfig",
        str(drill.kubeconfig_path),
    )
    assert code == 0
    segmentation = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    assert segmentation["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] != []
    assert {"key": "warroom.io/quarantine", "operator": "DoesNotExist"} in (
        segmentation["spec"]["podSelector"]["matchExpressions"]
    )
    assert "orchestrator-6f8d9c7b5d-k2x9p" in drill.engine._cut_off


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("", "holds no NetworkPolicy for voicehive"),
        ("kind: NetworkPolicy\nmetadata: {}\n", "a NetworkPolicy without a name"),
        ("- [unclosed", "not valid YAML"),
        (None, "no such desired-state file"),
    ],
)
async def test_reapply_refuses_a_bad_desired_state_file(
    drill_factory: DrillFactory,
    record_path: Path,
    tmp_path: Path,
    content: str | None,
    why: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    drill = await drill_factory("network-policy-drift", serve=True)
    drift(drill)
    path = tmp_path / "policies.yaml"
    if content is not None:
        path.write_text(content)
    code = await act(
        "--db",
        str(record_path),
        "act",
        "reapply-policies",
        "--file",
        str(path),
        "--yes",
        "--kubeconfig",
        str(drill.kubeconfig_path),
    )
    assert code == 1
    assert why in capsys.readouterr().err
    assert findings(drill) != []  # nothing changed


async def test_reapply_keeps_an_open_incidents_ip_block_and_says_so(
    drill_factory: DrillFactory, record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tester's path: block-ip, then reapply-policies; the block stays, the preview says."""
    drill = await drill_factory("dns-exfiltration", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    db = ["--db", str(record_path)]
    assert await act(*db, "act", "block-ip", "203.0.113.66", "--yes", *kube) == 0
    # Drift elsewhere in the same policy, so re-applying does patch it.
    loosened = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    loosened["spec"]["egress"][0]["ports"] = [{"protocol": "TCP", "port": 8443}]
    drill.state.replace(loosened)
    capsys.readouterr()
    desired = ["--file", str(drill.desired_state)]
    assert await act(*db, "act", "reapply-policies", *desired, "--yes", *kube) == 0
    out = capsys.readouterr().out
    assert "keeps NSI-" in out
    assert "block of 203.0.113.66/32" in out
    assert "LIFTS" not in out
    segmentation = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    assert "203.0.113.66/32" in segmentation["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]
    assert segmentation["spec"]["egress"][0].get("ports") != [{"protocol": "TCP", "port": 8443}]
    assert await act(*db, "act", "restore", "--unblock", "--dry-run", *kube) == 0
    out = capsys.readouterr().out
    assert "no blocked IP of this incident remains" not in out
    assert "path: /spec/egress/0/to/0/ipBlock/except/4" in out, out


async def test_reapply_says_plainly_when_it_would_lift_a_block(
    drill_factory: DrillFactory,
    record_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A desired spec with no ipBlock to keep the address in: the preview says it lifts it."""
    drill = await drill_factory("dns-exfiltration", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    db = ["--db", str(record_path)]
    assert await act(*db, "act", "block-ip", "203.0.113.66", "--yes", *kube) == 0
    wanted = load_desired(drill.desired_state, NS)
    segmentation = wanted["external-api-segmentation"]
    segmentation["spec"]["egress"][0]["to"][0] = {"ipBlock": {"cidr": "198.51.100.0/24"}}
    desired = tmp_path / "policies.yaml"
    desired.write_text(yaml.safe_dump_all(list(wanted.values())))
    capsys.readouterr()
    assert await act(*db, "act", "reapply-policies", "--file", str(desired), "--dry-run",
                     *kube) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "LIFTS an open incident's containment" in out
    assert "block of 203.0.113.66/32" in out
    # Confirmed anyway: the intent records what it lifted, and the report stops crediting it.
    assert await act(*db, "act", "reapply-policies", "--file", str(desired), "--yes", *kube) == 0
    segmentation = stored(drill.state, NP, "NetworkPolicy", NS, "external-api-segmentation")
    assert "203.0.113.66/32" not in str(segmentation["spec"])
    with Record.open(record_path) as record:
        (incident,) = record.incidents.open_ones()
    capsys.readouterr()
    assert await act(*db, "report", incident.id) == 0
    report = capsys.readouterr().out
    worked = report.split("What worked well", 1)[1].split("What could be improved", 1)
    assert "block-ip 203.0.113.66" not in worked[0]
    assert "then lifted by reapply-policies" in worked[1]


async def test_an_open_incidents_own_containment_is_not_drift(
    drill_factory: DrillFactory, record_path: Path
) -> None:
    """isolate and block-ip through the CLI: the drift watch says "expected: ..." for the
    incident's own changes, raises no P2 for them, and still reports real drift."""
    drill = await drill_factory("dns-exfiltration", serve=True)
    kube = ["--kubeconfig", str(drill.kubeconfig_path)]
    db = ["--db", str(record_path)]
    assert await act(*db, "act", "isolate", "orchestrator", "--yes", *kube) == 0
    assert await act(*db, "act", "block-ip", "203.0.113.66", "--yes", *kube) == 0
    with Record.open(record_path) as record:
        (incident,) = record.incidents.open_ones()
        cluster = await connect(ClusterOptions(kubeconfig=str(drill.kubeconfig_path)))
        settings = Settings(policies=PolicySettings(desired_state_file=drill.desired_state))
        live = LiveSources(cluster, record, settings, Classifier.load(None))
        running = RunningSource(live.run)
        try:
            await eventually(lambda: bool(running.of(DriftReport)), within=20)
            kinds = {f.name: (f.kind, f.detail) for f in running.of(DriftReport)[-1].findings}
            assert all(kind == "contained" for kind, _ in kinds.values()), kinds
            segmentation = kinds["external-api-segmentation"][1]
            assert segmentation.startswith("expected: ")
            assert f"{incident.id}'s block of 203.0.113.66/32" in segmentation
            emergency = [d for k, d in kinds.values() if "emergency policy" in d]
            assert emergency == [f"expected: emergency policy of {incident.id}"]
            # Real drift beside it is still drift, and alerted.
            drill.state.delete(NP, "NetworkPolicy", NS, "tts-router-ingress")
            await eventually(
                lambda: any(f.kind == "missing" for f in running.of(DriftReport)[-1].findings),
                within=20,
            )
            await eventually(lambda: bool(record.query(
                "SELECT 1 FROM alerts WHERE rule = ?", ("Network policy configuration drift",)
            )), within=20)  # fmt: skip
        finally:
            await running.stop()
            await cluster.close()
        (output,) = record.query(
            "SELECT output FROM alerts WHERE rule = ?", ("Network policy configuration drift",)
        )
    assert "tts-router-ingress (missing)" in output[0]
    assert "external-api-segmentation" not in output[0]
    assert "emergency" not in output[0]
