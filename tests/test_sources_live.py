"""All sources together, as the console runs them: one sink, the record, the detector."""

from __future__ import annotations

import json
from pathlib import Path

from actions.config import Settings, load_settings
from actions.drill.server import DrillServerThread
from actions.falco.classify import Classifier
from actions.kube.cluster import Cluster
from actions.sources.detection import IncidentProposal
from actions.sources.live import LiveSources
from store import Record
from tests.plugins.drill import FALCO_ALERT
from tests.sources_helpers import RunningSource, eventually


async def test_a_p1_alert_becomes_a_proposal_the_commander_accepts(
        drill_server: DrillServerThread, cluster: Cluster, record: Record) -> None:
    live = LiveSources(cluster, record, Settings(), Classifier.load(None), actor="commander")
    running = RunningSource(live.run)
    await eventually(lambda: {h.source for h in running.health() if h.state == "connected"}
                     >= {"falco", "events", "policies", "dns", "mesh"})
    netcat = {**FALCO_ALERT, "rule": "Netcat Remote Code Execution in Container",
              "priority": "Warning", "time": "2026-11-01T09:02:00.000000007Z"}
    drill_server.state.append_log("falco-system", "falco-m4n8q", json.dumps(netcat))
    await eventually(lambda: bool(running.of(IncidentProposal)))
    proposal = running.of(IncidentProposal)[0]
    incident = live.detector.accept(proposal.id)
    await running.stop()

    assert proposal.first_alert_time == "2026-11-01T09:02:00.000000007Z"
    assert incident.acknowledged_at is not None
    assert live.rates.total("P1") == 1
    # The seeded alert, K8s API contact: P3, a monitoring alert requiring investigation.
    assert live.rates.total("P3") == 1
    states = {h.source: h.state for h in running.health()}
    assert states["falco"] == "stopped"
    assert states["drift"] == "absent"  # no desired-state file here, and it says so
    recorded = {row[0] for row in record.query("SELECT DISTINCT kind FROM timeline")}
    assert {"source.health", "cluster.warning-event", "incident.proposed",
            "incident.proposal-accepted"} <= recorded
    # The commander accepted the proposal; the cluster, not the commander, reported the
    # Warning events, and warroom noted the sources' health.
    rows = record.query("SELECT kind, actor FROM timeline GROUP BY kind")
    authors: dict[str, str] = {kind: actor for kind, actor in rows}
    assert authors["incident.proposal-accepted"] == "commander"
    assert authors["cluster.warning-event"].startswith("cluster")
    assert authors["source.health"] == "warroom"


async def test_the_configuration_file_places_and_paces_the_sources(
        cluster: Cluster, record: Record, tmp_path: Path) -> None:
    (tmp_path / "flows.jsonl").write_text("")
    config = tmp_path / "config.toml"
    config.write_text('[falco]\nnamespace = "sec"\nselector = "app=f"\nfallback_selector = "x=y"\n'
                      '[coredns]\nnamespace = "dns-elsewhere"\nselector = "app=dns"\n'
                      '[hubble]\nfile = "flows.jsonl"\n[mesh]\ninterval_seconds = 7\n'
                      '[prometheus]\ninterval_seconds = 9\n[policies]\nrelist_seconds = 60\n')
    live = LiveSources(cluster, record, load_settings(config), Classifier.load(None))
    running = RunningSource(live.run)
    await eventually(lambda: any("dns-elsewhere" in h.detail for h in running.health("dns")))
    await eventually(lambda: any(str(tmp_path / "flows.jsonl") in h.detail
                                 for h in running.health("hubble")))
    await running.stop()
    assert live.dns.logs.watcher.selectors == ["app=dns"]
    falco = live.falco.settings  # the follower's settings object (FalcoFollowerSettings)
    assert (falco.namespace, falco.selectors) == ("sec", ["app=f", "x=y"])
    assert live.falco.logs.watcher.selectors == ["app=f", "x=y"]
    assert (live.mesh.interval_seconds, live.traffic.interval_seconds,
            live.policies.listwatch.relist_seconds) == (7, 9, 60)
