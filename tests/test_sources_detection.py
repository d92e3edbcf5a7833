"""Incident proposals from P0/P1 alerts, accepted or dismissed, with MTTD measured."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actions.falco.alert import FalcoAlert
from actions.falco.classify import Classification
from actions.falco.parse import parse_line
from actions.sources.batches import AlertBatch, RecordedAlert
from actions.sources.detection import IncidentDetector, IncidentProposal, UnknownProposal
from store import Incident, Record
from tests.plugins.record import FrozenClock


def recorded(number: int, severity: str, category: str = "network-anomaly",
             second: int = 0) -> RecordedAlert:
    line = json.dumps({"hostname": "node-1", "output": f"alert {number}", "priority": "Warning",
                       "rule": "Netcat Remote Code Execution in Container", "source": "syscall",
                       "tags": [], "output_fields": {},
                       "time": f"2026-03-14T08:59:{second:02d}.00000000{number}Z"})
    alert = parse_line(line.encode())
    assert isinstance(alert, FalcoAlert)
    return RecordedAlert("falco-x", alert, Classification(severity, category, "test"), True)


def batch(*alerts: RecordedAlert) -> AlertBatch:
    return AlertBatch(list(alerts), [], datetime(2026, 3, 14, 9, tzinfo=UTC), 0)


def test_a_p1_alert_proposes_an_incident_and_accepting_measures_mttd(
        record: Record, clock: FrozenClock) -> None:
    proposals: list[object] = []
    detector = IncidentDetector(record, proposals.append, wording=lambda c: "Network anomalies")
    detector(batch(recorded(1, "P3")))
    assert proposals == []
    detector(batch(recorded(2, "P1", second=5), recorded(3, "P1", second=7)))
    (proposal,) = proposals
    assert isinstance(proposal, IncidentProposal)
    assert proposal.severity == "P1"
    assert proposal.alerts == 2
    assert proposal.first_alert_time == "2026-03-14T08:59:05.000000002Z"
    assert proposal.title == "Network anomalies: Netcat Remote Code Execution in Container"

    clock.advance(minutes=4)
    incident = detector.accept(proposal.id, actor="commander")
    assert incident.severity == "P1"
    detected = incident.detected_at
    acknowledged = incident.acknowledged_at
    # Detected when warroom received the alert (its clock), not at the alert's own 08:59:05.
    assert detected == datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    assert acknowledged - detected == timedelta(minutes=4)
    kinds = [row[0] for row in record.query("SELECT kind FROM timeline ORDER BY seq")]
    assert kinds[0] == "incident.proposed"
    assert "incident.proposal-accepted" in kinds
    with pytest.raises(UnknownProposal):
        detector.accept(proposal.id)


def test_no_proposal_while_an_incident_is_open(record: Record) -> None:
    record.incidents.open("already handling it", severity="P1")
    proposals: list[object] = []
    IncidentDetector(record, proposals.append)(batch(recorded(1, "P0")))
    assert proposals == []


def test_a_worse_alert_raises_the_proposal_but_not_its_detection_time(record: Record) -> None:
    proposals: list[IncidentProposal] = []
    detector = IncidentDetector(record, proposals.append)  # type: ignore[arg-type]
    detector(batch(recorded(1, "P1", second=1)))
    detector(batch(recorded(2, "P0", "active-intrusion", second=9)))
    assert [p.severity for p in proposals] == ["P1", "P0"]
    assert proposals[-1].category == "active-intrusion"
    assert proposals[-1].first_alert_time.startswith("2026-03-14T08:59:01")
    assert proposals[-1].id == proposals[0].id


def test_dismissing_quiets_the_category_for_a_while(record: Record, clock: FrozenClock) -> None:
    proposals: list[IncidentProposal] = []
    detector = IncidentDetector(record, proposals.append)  # type: ignore[arg-type]
    detector(batch(recorded(1, "P1")))
    detector.dismiss(proposals[0].id, actor="commander", reason="pentest")
    detector(batch(recorded(2, "P1")))
    assert len(proposals) == 1
    detector(batch(recorded(3, "P0", "active-intrusion")))  # another category still proposes
    assert len(proposals) == 2
    detector.dismiss(proposals[1].id)
    clock.advance(minutes=16)
    detector(batch(recorded(4, "P1")))
    assert len(proposals) == 3
    assert record.incidents.list() == []
    dismissed = record.query("SELECT summary FROM timeline WHERE kind = ?",
                             ("incident.proposal-dismissed",))
    assert dismissed[0][0].endswith("(pentest)")


def test_a_batch_during_an_accept_does_not_propose_again(record: Record) -> None:
    """Batches come from the sources' side while the console accepts on its record thread."""
    proposals: list[object] = []
    detector = IncidentDetector(record, proposals.append)
    detector(batch(recorded(1, "P1", second=1)))
    (proposal,) = proposals
    opening, may_open = threading.Event(), threading.Event()
    open_incident = record.incidents.open

    def slow_open(*args: Any, **kwargs: Any) -> Incident:
        opening.set()
        may_open.wait(10)
        return open_incident(*args, **kwargs)

    record.incidents.open = slow_open  # type: ignore[method-assign]
    assert isinstance(proposal, IncidentProposal)
    accepting = threading.Thread(target=detector.accept, args=(proposal.id,))
    accepting.start()
    assert opening.wait(10)  # the proposal is taken, the incident not open yet
    arriving = threading.Thread(target=detector, args=(batch(recorded(2, "P1", second=2)),))
    arriving.start()
    arriving.join(0.2)
    may_open.set()
    accepting.join(10)
    arriving.join(10)
    assert len(record.incidents.open_ones()) == 1
    assert detector.pending is None  # not revived, not proposed anew
    assert len(proposals) == 1


def test_drift_proposes_a_p2_and_an_attack_is_proposed_apart(record: Record) -> None:
    proposals: list[IncidentProposal] = []
    detector = IncidentDetector(record, proposals.append)  # type: ignore[arg-type]
    detector(batch(recorded(1, "P2", "security-rule-violation")))
    assert proposals == []  # an ordinary P2 proposes nothing
    detector(batch(recorded(2, "P2", "policy-drift", second=2)))
    assert [(p.severity, p.category) for p in proposals] == [("P2", "policy-drift")]
    detector(batch(recorded(3, "P1", second=3)))
    attack = proposals[-1]
    assert (attack.severity, attack.category, attack.alerts) == ("P1", "network-anomaly", 1)
    assert attack.first_alert_time == "2026-03-14T08:59:03.000000003Z"  # not the drift's time
    detector(batch(recorded(4, "P2", "policy-drift", second=4)))
    assert detector.pending is not None
    assert detector.pending.alerts == 1  # drift does not grow the attack's proposal


def test_a_rule_named_as_its_class_is_said_once_in_the_title(record: Record) -> None:
    """The drift source's rule is its class's wording: the title once read
    "Network policy configuration drift: Network policy configuration drift"."""
    proposals: list[object] = []
    detector = IncidentDetector(record, proposals.append,
                                wording=lambda c: "Netcat Remote Code Execution in Container")
    detector(batch(recorded(1, "P1")))
    (proposal,) = proposals
    assert isinstance(proposal, IncidentProposal)
    assert proposal.title == "Netcat Remote Code Execution in Container"
