"""Alerts belong to their incident: an accepted proposal's, and later ones about the same subject.

Real alert lines are parsed, classified and recorded as the Falco follower records
them (no incident); the real detector proposes, accepts and links. The record is
then read the way the report, the rollup and `verify` read it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.falco.classify import Classifier
from actions.falco.ingest import BatchPreparer, BatchWriter
from actions.sources.batches import AlertBatch, RecordedAlert
from actions.sources.detection import IncidentDetector, IncidentProposal
from store import Record, chain, iso, verify_chain
from store.alert_links import AlertSubject, alert_subject, content_at_arrival, workload_of
from store.alert_summary import refresh_rollup, summarise_alerts
from store.incidents import SessionScope
from store.report.render import render_report
from tests.plugins.record import FrozenClock
from tests.plugins.tui import alert_line, parsed

TUNNEL = "DNS tunneling to exfil.example"  # the shipped classification: dns-exfiltration, P0
ORCHESTRATOR = "orchestrator-6f8d9c7b5d-k2x9p"
OTHER_REPLICA = "orchestrator-6f8d9c7b5d-w7q2z"


@pytest.fixture
def classifier() -> Classifier:
    return Classifier.load()


def record_lines(
    record: Record, classifier: Classifier, lines: list[bytes], incident_id: str | None = None
) -> AlertBatch:
    """Record alert lines as the follower does (batch, dedupe) and hand back its AlertBatch."""
    alerts = [parsed(line) for line in lines]
    prepared = BatchPreparer(classifier, incident_id=incident_id, origin="test").prepare(
        list(enumerate(alerts, 1)), record.now()
    )
    added = BatchWriter(record, classifier, incident_id=incident_id).write(prepared).accepted_keys
    recorded = [
        RecordedAlert("falco-x7k2p", a, classifier.classify(a), a.dedupe_key in added)
        for a in alerts
    ]
    return AlertBatch(recorded, [], record.clock(), 0)


def tunnel(index: int, pod: str = ORCHESTRATOR, rule: str = TUNNEL) -> bytes:
    return alert_line(index, rule=rule, priority="Critical", pod=pod, second=index)


@pytest.fixture
def detector(record: Record, classifier: Classifier) -> Iterator[IncidentDetector]:
    proposals: list[object] = []
    found = IncidentDetector(
        record,
        proposals.append,
        wording=classifier.wording,
        context="drill-ctx",
        namespace="voicehive",
    )
    yield found
    found.close()


def incident_alerts(record: Record, incident_id: str) -> list[str]:
    rows = record.query(
        "SELECT rule FROM alerts WHERE incident_id = ? ORDER BY seq", (incident_id,)
    )
    return [row[0] for row in rows]


def test_the_workload_is_the_pods_owner_as_kubernetes_names_it() -> None:
    assert workload_of("orchestrator-6f8d9c7b5d-k2x9p") == "orchestrator"  # a Deployment's
    assert workload_of("falco-x7k2p") == "falco"  # a DaemonSet's
    assert workload_of("prometheus-0") == "prometheus"  # a StatefulSet's
    assert workload_of("redis-cache") == "redis-cache"  # not a generated suffix: the pod itself
    fields = {"k8s.pod.name": ORCHESTRATOR, "k8s.ns.name": "voicehive"}
    assert alert_subject("dns-exfiltration", fields) == AlertSubject(
        "dns-exfiltration", "voicehive", "orchestrator"
    )
    assert alert_subject("x", {"k8s_pod_name": "<NA>", "container_name": "api"}) == AlertSubject(
        "x", "", "api"
    )
    dns = alert_subject("dns-exfiltration", {"client": "10.42.1.7", "domain": "exfil.example"})
    assert dns == AlertSubject("dns-exfiltration", "", "client 10.42.1.7")
    assert alert_subject("x", {"container.name": "host"}) is None  # names no workload
    assert alert_subject("x", "not fields") is None


def test_accepting_links_the_proposals_alerts_and_later_ones_about_the_same_subject(
    record: Record, classifier: Classifier, detector: IncidentDetector, clock: FrozenClock
) -> None:
    detector(record_lines(record, classifier, [tunnel(1), tunnel(2, pod=OTHER_REPLICA)]))
    proposal = detector.pending
    assert isinstance(proposal, IncidentProposal)
    # Recorded while the proposal waits: same subject (a P2 of the same class would be too).
    record_lines(record, classifier, [tunnel(3)])
    incident = detector.accept(proposal.id, actor="ic@example.com", drill=True)
    assert (incident.category, incident.commander) == ("dns-exfiltration", "ic@example.com")
    assert (incident.cluster_context, incident.namespace) == ("drill-ctx", "voicehive")
    assert incident_alerts(record, incident.id) == [TUNNEL] * 3

    # Later: the same subject is linked, another workload or class is not.
    later = record_lines(
        record,
        classifier,
        [tunnel(4), tunnel(5, pod="tts-router-7c9d8e6f5a-q7w3e"), alert_line(6, pod=ORCHESTRATOR)],
    )
    assert detector.link_now(later.fresh) == 1
    assert len(incident_alerts(record, incident.id)) == 4
    summary = summarise_alerts(record, incident.id)
    assert summary.total == 4
    assert "No alerts recorded" not in render_report(record, incident.id)
    (entry,) = [e for e in record.timeline.for_incident(incident.id) if e.data.get("linked")]
    assert entry.data["linked"] == 3


def test_a_linked_alert_keeps_the_hash_it_was_chained_with(
    record: Record, classifier: Classifier, detector: IncidentDetector
) -> None:
    detector(record_lines(record, classifier, [tunnel(1)]))
    assert detector.pending is not None
    incident = detector.accept(detector.pending.id, actor="ic")
    cursor = record.conn.cursor()
    cursor.row_factory = sqlite3.Row
    row = cursor.execute("SELECT * FROM alerts WHERE incident_id = ?", (incident.id,)).fetchone()
    content = {
        column: row[column] for column in row.keys() if column not in ("id", *chain_columns())
    }
    link = record.query(
        "SELECT incident_id, basis, actor FROM alert_links WHERE alert_seq = ?", (row["seq"],)
    )
    assert tuple(link[0]) == (incident.id, "proposal", "ic")

    def holds(values: dict[str, object]) -> bool:
        return bool(row["hash"] == chain.link_hash(
            row["prev_hash"], row["seq"], chain.content_hash("alerts", values)
        ))

    arrival = content_at_arrival(record.conn, row["seq"], content)
    assert arrival is not None
    assert holds(arrival)
    assert not holds(content)
    # Pointed at another incident behind warroom's back, no chained link explains it.
    elsewhere = {**content, "incident_id": "NSI-2026-03-14-099"}
    assert content_at_arrival(record.conn, row["seq"], elsewhere) is None


def test_a_record_with_linked_alerts_verifies_and_an_undone_link_is_found(
    record: Record, classifier: Classifier, detector: IncidentDetector
) -> None:
    detector(record_lines(record, classifier, [tunnel(1), tunnel(2)]))
    assert detector.pending is not None
    incident = detector.accept(detector.pending.id, actor="ic")
    record_lines(record, classifier, [tunnel(3)], incident_id=incident.id)  # ingested into it
    assert verify_chain(record.conn).ok
    (seq,) = record.query("SELECT min(alert_seq) FROM alert_links")[0]
    with record.conn:  # behind warroom's back: the alert taken out of its incident
        record.conn.execute("UPDATE alerts SET incident_id = NULL WHERE seq = ?", (seq,))
    result = verify_chain(record.conn)
    assert result.problem is not None
    assert (result.problem.table, result.problem.seq) == ("alerts", seq)
    assert "links it to" in result.problem.problem
    with record.conn:  # ... or moved to another incident
        record.conn.execute("UPDATE alerts SET incident_id = 'NSI-2026-03-14-099' WHERE seq = ?",
                            (seq,))
    assert "edited" in str(verify_chain(record.conn).problem)


def chain_columns() -> tuple[str, ...]:
    return ("seq", "prev_hash", "hash")


def test_links_already_in_the_rollup_window_are_counted(
    record: Record, classifier: Classifier, detector: IncidentDetector
) -> None:
    batch = record_lines(record, classifier, [tunnel(1), tunnel(2)])
    refresh_rollup(record)  # the rollup now covers both alerts, which had no incident
    detector(batch)
    assert detector.pending is not None
    incident = detector.accept(detector.pending.id, actor="ic")
    summary = summarise_alerts(record, incident.id)
    assert (summary.total, summary.by_rule) == (2, [(TUNNEL, "Critical", 2)])
    refresh_rollup(record)  # and folding again counts nothing twice
    assert summarise_alerts(record, incident.id).total == 2


def test_a_closed_incident_takes_no_more_alerts(
    record: Record, classifier: Classifier, detector: IncidentDetector
) -> None:
    detector(record_lines(record, classifier, [tunnel(1)]))
    assert detector.pending is not None
    incident = detector.accept(detector.pending.id, actor="ic")
    record.incidents.close(incident.id, resolution="contained")
    later = record_lines(record, classifier, [tunnel(2)])
    assert detector.link_now(later.fresh) == 0
    assert (
        record.alerts.link_keys(
            incident.id, [a.alert.dedupe_key for a in later.alerts], basis="subject", actor=None
        )
        == 0
    )
    assert incident_alerts(record, incident.id) == [TUNNEL]


def test_later_alerts_are_linked_off_the_callers_thread(
    record: Record, classifier: Classifier, detector: IncidentDetector
) -> None:
    detector(record_lines(record, classifier, [tunnel(1)]))
    assert detector.pending is not None
    incident = detector.accept(detector.pending.id, actor="ic")
    detector(record_lines(record, classifier, [tunnel(2), tunnel(3)]))
    detector.close()  # waits for the linker, as the live sources do when they stop
    assert incident_alerts(record, incident.id) == [TUNNEL] * 3
    assert record.query("SELECT count(*) FROM alert_links")[0][0] == 3


def test_an_older_drills_open_incident_neither_silences_nor_takes_a_new_drills_alerts(
    record: Record, classifier: Classifier, clock: FrozenClock
) -> None:
    stale = record.incidents.open("Last week's drill", drill=True, severity="P0")
    clock.advance(days=7)
    proposals: list[object] = []
    detector = IncidentDetector(
        record,
        proposals.append,
        wording=classifier.wording,
        scope=SessionScope.for_mode("drill", clock.now),
    )
    try:
        detector(record_lines(record, classifier, [tunnel(1)]))
        assert proposals, "the stale drill incident silenced the new drill's proposal"
        incident = detector.accept(detector.pending.id, actor="ic", drill=True)  # type: ignore[union-attr]
        assert incident.id != stale.id
        assert incident_alerts(record, stale.id) == []
    finally:
        detector.close()


def test_an_exported_incident_carries_its_linked_alerts_and_verifies(
    record: Record,
    classifier: Classifier,
    detector: IncidentDetector,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    from store.transfer import export_incident, import_incident

    detector(record_lines(record, classifier, [tunnel(1), tunnel(2)]))
    assert detector.pending is not None
    incident = detector.accept(detector.pending.id, actor="ic")
    exported = export_incident(record, incident.id, tmp_path / "incident.db")
    with Record.open(tmp_path / "elsewhere.db", clock=clock) as elsewhere:
        # A record with a history of its own: every chain position moves on import.
        for number in range(3):
            elsewhere.incidents.open(f"earlier {number}", severity="P3")
        imported = import_incident(elsewhere, exported.path).incident_id
        assert incident_alerts(elsewhere, imported) == [TUNNEL, TUNNEL]
        assert verify_chain(elsewhere.conn).ok
        linked = elsewhere.query(
            "SELECT count(*) FROM alert_links AS l JOIN alerts AS a ON a.seq = l.alert_seq "
            "WHERE a.incident_id = l.incident_id")[0][0]
        assert linked == 2  # each link names its alert where the import put it


def test_a_hostile_pod_name_is_cut_to_a_kubernetes_name_length() -> None:
    subject = alert_subject("x", {"k8s.pod.name": "a" * 1_000_000 + "-k2x9p"})
    assert subject is not None
    assert len(subject.workload) <= 253
    assert subject == alert_subject("x", {"k8s.pod.name": "a" * 2_000_000})  # cut the same way


def test_an_incident_opened_by_hand_from_an_alert_takes_its_class_and_its_subjects_alerts(
    record: Record, classifier: Classifier, detector: IncidentDetector
) -> None:
    """`o` on an alert nothing proposes (a P3): the incident keeps the alert's class, the
    alert and its subject's earlier ones are linked, later ones too, another pod's are not."""
    lease = "Contact K8S API Server From Container"  # the shipped classification: P3
    record_lines(record, classifier, [tunnel(1, rule=lease), tunnel(2, rule=lease)])
    selected = record.alerts.latest(limit=1)[0]
    found = record.alerts.find(selected.rule, selected.time_ns or 0)
    assert found is not None
    incident = record.incidents.open("Leader election?", severity="P3",
                                     category=found.category)
    assert record.alerts.link_opening(incident.id, found, actor="ic") == 2
    assert incident.category == "monitoring-alert"
    later = record_lines(record, classifier, [
        tunnel(3, rule=lease), tunnel(4, rule=lease, pod="tts-router-7c9d8e6f5a-q7w3e")])
    assert detector.link_now(later.fresh) == 1
    assert incident_alerts(record, incident.id) == [lease] * 3


def test_opening_from_an_alert_links_only_alerts_received_since_the_session_began(
    record: Record, classifier: Classifier, clock: FrozenClock
) -> None:
    """A drill console's `o`: the same workload's unclaimed alerts from an earlier drill (a
    run the facilitator quit) are not this incident's first sign: its MTTD would start
    there."""
    lease = "Contact K8S API Server From Container"
    record_lines(record, classifier, [tunnel(1, rule=lease), tunnel(2, rule=lease)])
    session_start = clock.advance(minutes=10)
    record_lines(record, classifier, [tunnel(3, rule=lease)])
    found = record.alerts.find(lease, record.alerts.latest(limit=1)[0].time_ns or 0)
    assert found is not None
    incident = record.incidents.open("Leader election?", severity="P3", drill=True,
                                     category=found.category)
    linked = record.alerts.link_opening(incident.id, found, actor="ic",
                                        received_since=iso(session_start))
    assert linked == 1
    (alert,) = record.alerts.for_incident(incident.id)
    assert alert.seq == found.seq  # the session's own, not the two before it
