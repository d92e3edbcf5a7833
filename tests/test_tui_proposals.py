"""Incident proposals in the console: a toast, `!`, accept (MTTD measured) or dismiss (recorded).

The real incident detector runs on a real classified P0 alert batch, on its
own connection to the record file as the live sources' is; the console is
driven by Pilot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from actions.falco.classify import Classifier
from actions.sources.batches import AlertBatch, RecordedAlert
from actions.sources.detection import (
    ACCEPTED_KIND,
    DISMISSED_KIND,
    IncidentDetector,
    IncidentProposal,
)
from actions.sources.dns_detector import DnsDetection
from actions.sources.dns_follower import detection_alert
from store import Record
from tests.plugins.tui import HOSTILE, AppFactory, alert_line, parsed, until
from tui.dialogs.proposal import ProposalScreen
from tui.screens.keys.alerting import NO_PROPOSAL
from tui.screens.war_room import WarRoomScreen
from tui.screens.war_room_base import SourceItem

FIRST_ALERT = datetime(2026, 3, 14, 9, 0, 10, tzinfo=UTC)



@pytest.fixture
def sources_record(record_path: Path, clock: Any, record: Record) -> Iterator[Record]:
    """The live sources' own connection to the console's record file."""
    with Record.open(record_path, clock=clock) as opened:
        yield opened


def dns_tunnel_batch(rule: str = "DNS tunneling to exfil.example") -> AlertBatch:
    """Two P0 alerts (09:00:10 and 09:00:20), classified by the real classifier."""
    classifier = Classifier.load()
    alerts = []
    for index, second in ((1, 10), (2, 20)):
        alert = parsed(alert_line(index, rule=rule, priority="Critical", second=second,
                                  text="long high-entropy labels"))
        classification = classifier.classify(alert)
        alerts.append(RecordedAlert("falco-x7k2p", alert, classification, True))
    assert {a.classification.severity for a in alerts} == {"P0"}
    return AlertBatch(alerts, [], FIRST_ALERT, 0)


class DetectingSource:
    """A live source as LiveSources wires it: each batch to the console, then to the detector."""

    def __init__(self, record: Record, batch: AlertBatch) -> None:
        self.batch = batch
        self.detector = IncidentDetector(record, self._to_sink,
                                         wording=Classifier.load().wording, actor="warroom")
        self._sink: Callable[[object], None] = lambda _item: None

    def _to_sink(self, item: object) -> None:
        self._sink(item)

    async def run(self, sink: Callable[[object], None]) -> None:
        self._sink = sink
        sink(self.batch)
        self.detector(self.batch)
        await asyncio.Event().wait()  # a live source runs until the console closes


def proposed(app: Any) -> IncidentProposal | None:
    screen = app.screen
    return screen.proposal if isinstance(screen, WarRoomScreen) else None


async def test_accepting_opens_the_incident_detected_at_the_first_alerts_receipt_and_acknowledged(
    make_app: AppFactory, record: Record, sources_record: Record, clock: Any
) -> None:
    clock.advance(minutes=5)  # the commander sees it five minutes after 09:00
    source = DetectingSource(sources_record, dns_tunnel_batch())
    app = make_app(source=source)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: proposed(app) is not None, "the proposal")
        await until(pilot, lambda: any(n.title == "Incident proposed"
                                       for n in app._notifications), "the toast")
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, ProposalScreen), "the proposal modal")
        modal = app.screen
        assert isinstance(modal, ProposalScreen)
        assert modal.proposal.alerts == 2
        assert modal.proposal.severity == "P0"
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen)
                    and app.screen.incident is not None, "the new incident on screen")
        war_room = app.screen
        assert isinstance(war_room, WarRoomScreen)
        shown = war_room.incident
        # "Press ! to accept" no longer holds: its toast is gone (at 80x24 it hid the pane).
        assert not any(n.title == "Incident proposed" for n in app._notifications)
    (incident,) = record.incidents.list()
    assert shown is not None
    assert shown.id == incident.id
    # Detected when warroom received the first alert (09:05), not at its own time (09:00):
    # the alert's time is the writer's word (store/response_times.py).
    assert incident.detected_at == datetime(2026, 3, 14, 9, 5, tzinfo=UTC)
    assert incident.detected_at > FIRST_ALERT
    assert incident.acknowledged_at == datetime(2026, 3, 14, 9, 5, tzinfo=UTC)
    assert incident.severity == "P0"
    assert incident.drill  # accepted in a drill console: a drill incident, which the score finds
    accepted = record.timeline.for_incident(incident.id, kinds=(ACCEPTED_KIND,))
    assert len(accepted) == 1
    assert accepted[0].actor == "ic@example.com"
    assert source.detector.pending is None


async def open_the_proposal(pilot: Any) -> None:
    """Wait for warroom's proposal, then `!`: its modal."""
    app = pilot.app
    await until(pilot, lambda: proposed(app) is not None, "the proposal")
    await pilot.press("exclamation_mark")
    await until(pilot, lambda: isinstance(app.screen, ProposalScreen), "the proposal modal")


@pytest.mark.parametrize("drill_cluster", [True, False], ids=["drill-cluster", "real"])
async def test_accepted_in_live_the_incident_is_the_drill_s_on_the_drill_cluster(
    make_app: AppFactory, record: Record, sources_record: Record, drill_cluster: bool
) -> None:
    """A team drill's participant (`warroom live` on the drill cluster) accepts: a drill
    incident, scored and kept out of the real metrics; on a real cluster, a real one."""
    source = DetectingSource(sources_record, dns_tunnel_batch())
    app = make_app(mode="live", source=source, drill_cluster=drill_cluster)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_the_proposal(pilot)
        await pilot.press("y")
        await until(pilot, lambda: record.incidents.list(), "the incident in the record")
    (incident,) = record.incidents.list()
    assert incident.drill is drill_cluster


async def test_dismissing_needs_a_reason_and_records_it(
    make_app: AppFactory, record: Record, sources_record: Record
) -> None:
    source = DetectingSource(sources_record, dns_tunnel_batch())
    app = make_app(mode="live", source=source)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_the_proposal(pilot)
        await pilot.press("n", "enter")  # no reason: refused, nothing recorded
        assert isinstance(app.screen, ProposalScreen)
        assert "say why" in str(app.screen.query_one(".dialog-error").render())
        app.screen.query_one("#reason", Input).focus()
        await pilot.press(*"red-team exercise", "enter")
        await until(pilot, lambda: proposed(app) is None, "the proposal handled")
        assert isinstance(app.screen, WarRoomScreen)
        await pilot.press("exclamation_mark")  # nothing pending any more
        await until(pilot, lambda: NO_PROPOSAL in [n.message for n in app._notifications],
                    "the key's answer")
        assert isinstance(app.screen, WarRoomScreen)
        messages = [n.message for n in app._notifications]
    assert record.incidents.list() == []
    rows = record.query("SELECT summary, actor, data FROM timeline WHERE kind = ?",
                        (DISMISSED_KIND,))
    assert len(rows) == 1
    assert "red-team exercise" in rows[0][0]
    assert rows[0][1] == "ic@example.com"
    assert NO_PROPOSAL in messages


async def test_the_reason_field_appears_with_n_so_tabbing_to_it_cannot_accept(
    make_app: AppFactory, record: Record, sources_record: Record
) -> None:
    """A commander tabbing from Accept towards the reason to type "yearly backup" accepted the
    incident with its y. The field is not there until n (or Dismiss): tab stays on the
    buttons, and n shows the field with the cursor in it."""
    source = DetectingSource(sources_record, dns_tunnel_batch())
    app = make_app(mode="live", source=source)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_the_proposal(pilot)
        modal = app.screen
        reason = modal.query_one("#reason", Input)
        for _ in range(4):  # round the dialog: buttons only
            await pilot.press("tab")
            assert modal.focused is not reason
        assert not reason.display
        await pilot.press("n")
        await until(pilot, lambda: modal.focused is reason, "the reason field, focused")
        await pilot.press(*"yearly backup")
        assert reason.value == "yearly backup"
        assert isinstance(app.screen, ProposalScreen)
        await pilot.press("escape")  # later: the proposal stays pending, nothing opened
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room")
    assert record.incidents.list() == []


async def test_hostile_alert_text_in_a_proposal_is_shown_literally(
    make_app: AppFactory, sources_record: Record
) -> None:
    rule = "DNS tunneling " + " ".join(HOSTILE)
    source = DetectingSource(sources_record, dns_tunnel_batch(rule))
    app = make_app(source=source)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: proposed(app) is not None, "the proposal")
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, ProposalScreen)
                    and app.screen.query("#proposal-rule"), "the proposal modal")
        text = str(app.screen.query_one("#proposal-rule").render())
        assert "[/oops]" in text
        assert "[red]x" in text
        assert "\x1b" not in text
        assert "\x9b" not in text


async def test_review_mode_refuses_the_proposal_key(
    make_app: AppFactory, record: Record, sources_record: Record
) -> None:
    handed: list[object] = []
    IncidentDetector(sources_record, handed.append)(dns_tunnel_batch())
    (proposal,) = handed
    incident = record.incidents.open("Recorded", severity="P1")
    app = make_app(mode="review", incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room")
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        screen.post_message(SourceItem(proposal))
        await until(pilot, lambda: proposed(app) is not None, "the proposal")
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: app.services.readonly_reason
                    in [n.message for n in app._notifications], "the refusal")
        assert isinstance(app.screen, WarRoomScreen)  # no modal
        messages = [n.message for n in app._notifications]
    assert app.services.readonly_reason in messages
    assert len(record.incidents.list()) == 1


async def test_a_dns_detection_names_the_coredns_pod_it_read_not_a_node(
    make_app: AppFactory, record: Record, sources_record: Record
) -> None:
    """The DNS detector's alerts carry the CoreDNS pod whose log it read where Falco puts the
    node: the proposal labelled `coredns-...` as the "Node"."""
    coredns = "coredns-5d78c9869d-x2x7c"
    time_ns = int(FIRST_ALERT.timestamp()) * 1_000_000_000
    detection = DnsDetection("exfil.example", "10.42.1.17", ("long-labels",), time_ns, None,
                             40, ("aGVsbG8.exfil.example",))
    alert = detection_alert(detection, coredns)
    classification = Classifier.load().classify(alert)
    assert classification.severity == "P0"
    batch = AlertBatch([RecordedAlert(coredns, alert, classification, True)], [], FIRST_ALERT, 0)
    app = make_app(source=DetectingSource(sources_record, batch))
    async with app.run_test(size=(160, 48)) as pilot:
        await open_the_proposal(pilot)
        names = [str(label.render()) for label in app.screen.query(".proposal-name")]
        values = [str(label.render()) for label in app.screen.query(".proposal-value")]
    facts = dict(zip(names, values, strict=True))
    assert "Node" not in facts
    assert facts["CoreDNS pod"] == coredns
