"""Keyboard flows of the incident keys, asserted on the record's rows."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from actions.falco.classify import Classifier
from actions.falco.ingest import BatchPreparer, BatchWriter
from store import Record
from store.incidents import SessionScope
from tests.plugins.record import FrozenClock
from tests.plugins.tui import AppFactory, alert_line, parsed, run_from_palette, until
from tui.dialogs.close_incident import CloseIncidentScreen
from tui.dialogs.decision import DecisionScreen
from tui.dialogs.forms import AskScreen, NoteForm, OpenIncidentForm
from tui.screens.war_room import WarRoomScreen
from tui.widgets.header import WarRoomHeader
from tui.widgets.timeline_pane import TimelineList, TimelinePane


async def test_open_incident_from_the_keyboard(make_app: AppFactory, record: Record) -> None:
    app = make_app()
    messages: list[object] = []
    async with app.run_test(message_hook=messages.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OpenIncidentForm)
        await pilot.press(*"Shell on db")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    (incident,) = record.incidents.list()
    assert incident.title == "Shell on db"
    assert incident.drill is True
    assert incident.cluster_context == "drill-context"
    (opened,) = record.timeline.for_incident(incident.id)
    assert opened.kind == "incident.opened"
    assert opened.actor == "ic@example.com"
    changed = [m for m in messages if isinstance(m, WarRoomScreen.IncidentChanged)]
    assert changed[-1].incident is not None
    assert changed[-1].incident.id == incident.id


async def test_an_empty_title_is_refused_and_nothing_is_written(
    make_app: AppFactory, record: Record
) -> None:
    async with make_app().run_test() as pilot:
        await pilot.press("o")
        await until(pilot, lambda: isinstance(pilot.app.screen, OpenIncidentForm), "the form")
        await pilot.press("ctrl+s")
        form = pilot.app.screen
        await until(
            pilot,
            lambda: "needs a title" in str(form.query_one(".dialog-error").render()),
            "the form saying the title is missing",
        )
        await pilot.press("escape")
        await pilot.app.workers.wait_for_complete()
    assert record.incidents.list() == []


async def test_note_acknowledge_severity_and_phase_land_in_the_timeline(
    make_app: AppFactory, record: Record, clock: object
) -> None:
    incident = record.incidents.open("Unexpected egress", severity="P2", drill=True)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteForm)
        await pilot.press(*"curl seen", "enter")
        await app.workers.wait_for_complete()
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.press("v")
        await pilot.pause()
        # The Select has focus: open it, move up from P2 to P1, choose, save.
        await pilot.press("enter", "up", "enter", "ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(TimelinePane).query_one(TimelineList)
        shown = table.row_count
    kinds = [(e.kind, e.summary) for e in record.timeline.for_incident(incident.id)]
    assert ("note", "curl seen") in kinds
    after = record.incidents.get_required(incident.id)
    assert after.acknowledged_at is not None
    assert after.severity == "P1"
    assert after.phase == "containment"
    assert shown == len(kinds)


async def test_decision_false_positive_names_the_rule_and_closes(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Shell in tts-router", severity="P3", drill=True)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DecisionScreen)
        rationale = app.screen.query_one("#rationale", Input)
        rationale.focus()
        await pilot.press(*"debugging")
        await pilot.press("ctrl+s")
        await pilot.pause()
        # Nothing is pre-selected: a reason and ctrl+s alone record nothing.
        assert isinstance(app.screen, DecisionScreen)
        assert "choose one" in str(app.screen.query_one(".dialog-error").render())
        await pilot.press("enter")  # the radio set has focus: false positive, the first
        app.screen.query_one("#rationale", Input).focus()
        await pilot.press("ctrl+s")
        await pilot.pause()
        # No rule named yet: refused, and the rule field asked for.
        assert isinstance(app.screen, DecisionScreen)
        await pilot.press(*"Shell rule", "enter")
        # It asks before closing, saying so.
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the confirmation")
        assert "close" in str(app.screen.query_one(".dialog-title").render())
        assert record.decisions.for_incident(incident.id) == []
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = app.screen.query_one(WarRoomHeader)
        assert header.fit is not None
        shown_phase = header.fit.phase
    assert shown_phase == "Closed"
    (decision,) = record.decisions.for_incident(incident.id)
    assert decision.decision == "false-positive"
    assert decision.rule_to_tune == "Shell rule"
    assert decision.rationale == "debugging"
    after = record.incidents.get_required(incident.id)
    assert after.false_positive
    assert after.status == "closed"
    assert after.resolution == "false positive: debugging"


async def test_a_false_positive_not_confirmed_records_nothing(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Leader election", severity="P3", drill=True)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DecisionScreen), "the decision")
        await pilot.press("enter")
        app.screen.query_one("#rationale", Input).focus()
        await pilot.press(*"expected", "tab", *"API rule", "enter")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the confirmation")
        await pilot.press("n")
        await app.workers.wait_for_complete()
    assert record.decisions.for_incident(incident.id) == []
    assert record.incidents.get_required(incident.id).is_open

async def test_decision_active_attack_moves_to_containment(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("C2 beacon", severity="P0", drill=True)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("down")  # the RadioSet: false positive -> active attack
        await pilot.press("enter")
        app.screen.query_one("#rationale", Input).focus()
        await pilot.press(*"C2 beacon", "enter")
        await app.workers.wait_for_complete()
    (decision,) = record.decisions.for_incident(incident.id)
    assert decision.decision == "active-attack"
    assert record.incidents.get_required(incident.id).phase == "containment"


async def test_review_mode_dims_the_keys_and_writes_nothing(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Recorded incident", severity="P1")
    before = record.timeline.count(incident.id)
    app = make_app(mode="review")
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        assert screen.has_class("-readonly")
        assert screen.check_action("add_note", ()) is False  # hidden in review
        assert "review mode" in (screen.why_disabled("add_note") or "")
        await pilot.press("n", "a", "p", "d", "o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen  # no form opened
        notices = [n.message for n in app._notifications]
        assert notices
        assert all("review mode" in message for message in notices)
    assert record.timeline.count(incident.id) == before
    assert record.incidents.get_required(incident.id).acknowledged_at is None


async def test_escalate_names_the_security_lead_from_the_escalation_matrix(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Lateral movement", severity="P0", drill=True)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("down", "down", "down", "enter")  # the fourth choice: escalate
        app.screen.query_one("#rationale", Input).focus()
        await pilot.press(*"out of reach", "enter")
        await app.workers.wait_for_complete()
    entries = record.timeline.for_incident(incident.id)
    escalation = [e for e in entries if e.kind == "incident.escalated"]
    assert len(escalation) == 1
    assert "John Doe" in escalation[0].summary  # the runbook's Security Engineer, primary
    assert record.decisions.for_incident(incident.id)[0].decision == "escalate"


def test_leaving_containment_and_recovery_stops_their_clocks(record: Record, clock: Any) -> None:
    from store.incidents import phase_changes

    incident = record.incidents.open("x", severity="P2")
    now = clock.advance(minutes=20)
    assert phase_changes(incident, "containment", now) == {"phase": "containment"}
    leaving = phase_changes(incident, "eradication", now)
    assert leaving == {"phase": "eradication", "contained_at": now, "status": "contained"}
    done = phase_changes(incident, "lessons-learned", now)
    assert done["recovered_at"] == now
    assert done["status"] == "recovered"


async def test_close_from_the_keyboard_records_why_and_the_header_shows_it_closed(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    incident = record.incidents.open("Beacon to 203.0.113.66", severity="P1", drill=True)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        await pilot.press("enter")  # no resolution yet: refused
        assert "how it was resolved" in str(app.screen.query_one(".dialog-error").render())
        await pilot.press("ctrl+r")  # resolve only: recovered, still open
        await app.workers.wait_for_complete()
        assert record.incidents.get_required(incident.id).status == "recovered"
        clock.advance(minutes=5)
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        await pilot.press(*"blocked and rotated", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = app.screen.query_one(WarRoomHeader)
        closed_clocks = header.clocks
        clock.advance(hours=3)
        header.tick(clock.now)
        assert header.fit is not None
        shown = (header.fit.phase, header.clocks == closed_clocks)
        # A closed incident reopens from the same key.
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        assert "Reopen" in str(app.screen.query_one(".dialog-title").render())
        await pilot.press("escape")
    assert shown == ("Closed", True)  # said closed, and its clocks stopped at closing
    after = record.incidents.get_required(incident.id)
    assert (after.status, after.resolution) == ("closed", "blocked and rotated")
    closing = record.timeline.for_incident(incident.id)[-1]
    assert (closing.summary, closing.actor) == ("Closed: blocked and rotated", "ic@example.com")


def done(record: Record, incident_id: str, action: str, target: str | None,
         **params: Any) -> None:
    """An action of the incident that succeeded, as the action layer records it."""
    action_id = record.actions.intent(incident_id, action, target, params=params)
    record.actions.outcome(action_id, "succeeded", "applied")


async def test_closing_says_what_is_still_applied_in_the_cluster(
    make_app: AppFactory, record: Record
) -> None:
    """A commander closed with the orchestrator still isolated: the quarantine stayed, what
    it cut off kept failing, and warroom proposed a P0 for it two seconds later."""
    incident = record.incidents.open("Beacon", severity="P1", drill=True)
    done(record, incident.id, "isolate", "orchestrator")
    done(record, incident.id, "block-ip", "203.0.113.66")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        said = str(app.screen.query_one("#close-still-applied").render())
        assert "isolate orchestrator, block-ip 203.0.113.66" in said
        assert "R restores first" in said
        await pilot.press("escape")
        done(record, incident.id, "restore", None, unblock=False)  # the block stays
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        said = str(app.screen.query_one("#close-still-applied").render())
        assert "cluster: block-ip 203.0.113.66." in said
        await pilot.press("escape")
        done(record, incident.id, "restore", None, unblock=True)
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        assert not app.screen.query("#close-still-applied")
        await pilot.press("escape")
        await app.workers.wait_for_complete()


async def test_the_palette_resolves_or_closes_and_help_lists_the_key(
    make_app: AppFactory, record: Record
) -> None:
    record.incidents.open("Drift on egress", severity="P2", drill=True)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        assert ("incident", "C", "Close", "incident.close") in screen.help_rows()
        await run_from_palette(pilot, "close incident")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        await pilot.press("escape")
        await app.workers.wait_for_complete()


async def test_a_hostile_resolution_is_shown_literally_when_reopening(
    make_app: AppFactory, record: Record
) -> None:
    from textual.widgets import Static

    from tests.plugins.tui import HOSTILE

    incident = record.incidents.open("Imported", severity="P2", drill=True)
    record.incidents.close(incident.id, resolution=" ".join(HOSTILE))
    app = make_app(incident_id=incident.id)
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CloseIncidentScreen), "the dialog")
        shown = " ".join(str(s.render()) for s in app.screen.query(Static))
        await pilot.press(*"it came back", "enter")
        await app.workers.wait_for_complete()
    assert "[/oops] [red]x" in shown
    assert "\x1b" not in shown
    assert "\x9b" not in shown
    assert record.incidents.get_required(incident.id).status == "open"


async def test_o_in_a_drill_links_none_of_an_earlier_drills_alerts(
    make_app: AppFactory, record: Record, clock: FrozenClock
) -> None:
    """An earlier drill (quit) left orchestrator alerts nobody claimed; the next drill's `o`
    on the same workload's alert links this session's alerts only, so MTTD starts at its
    first sign, not at the old run's."""
    classifier = Classifier.load()
    rule = "Contact K8S API Server From Container"  # P3: nothing proposes, `o` opens it

    def record_alerts(*numbers: int) -> list[Any]:
        alerts = [parsed(alert_line(n, rule=rule, pod="orchestrator-6f8d9c7b5d-k2x9p",
                                    second=n)) for n in numbers]
        prepared = BatchPreparer(classifier, incident_id=None, origin="falco").prepare(
            list(enumerate(alerts, 1)), record.now())
        BatchWriter(record, classifier, incident_id=None).write(prepared)
        return alerts

    record_alerts(1, 2)  # the earlier drill's
    session_start = clock.advance(minutes=15)
    app = make_app(incident_scope=SessionScope.for_mode("drill", session_start))
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        this_drills = record_alerts(3)
        app.push_alerts(this_drills)
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.selected_alert is not None, "the alert selected")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OpenIncidentForm), "the form")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(record.incidents.list()), "the incident")
        await app.workers.wait_for_complete()
    (incident,) = record.incidents.list()
    linked = record.alerts.for_incident(incident.id)
    assert [alert.time_ns for alert in linked] == [this_drills[0].time_ns]


async def test_v_flags_personal_data_and_the_report_owes_the_gdpr_notification(
    make_app: AppFactory, record: Record
) -> None:
    """The severity form (v) says whether personal data is involved: ticked, the incident
    owes the GDPR notification 72 h from detection; the severity can stay as it was."""
    from tui.dialogs.forms import SeverityForm

    incident = record.incidents.open("DNS tunnel", severity="P0", drill=True)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, SeverityForm), "the severity form")
        await pilot.press("tab", "space", "ctrl+s")
        await until(pilot, lambda: record.incidents.get_required(incident.id).data_breach,
                    "the incident flagged")
        await app.workers.wait_for_complete()
    after = record.incidents.get_required(incident.id)
    assert after.severity == "P0"
    flagged = record.timeline.for_incident(incident.id)[-1]
    assert flagged.actor == "ic@example.com"
    assert "GDPR breach notification is due 72 h" in flagged.summary


async def quit_question(app: Any) -> tuple[str, str]:
    """What q asks once the console shows its incident."""
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await until(pilot, lambda: app.quit_question() is not None, "the incident on screen")
        question: tuple[str, str] = app.quit_question()
    return question


async def test_quitting_with_an_incident_open_says_where_it_is_found_again(
    make_app: AppFactory, record: Record
) -> None:
    """A live console finds its open incident again; a new drill never takes an older one,
    so a drill console must not promise that it does."""
    drill_incident = record.incidents.open("Drill beacon", severity="P1", drill=True)
    question, detail = await quit_question(make_app())
    assert question == f"Quit warroom with {drill_incident.id} open?"
    assert "a new drill starts without it" in detail
    assert "shows it again" not in detail
    record.incidents.close(drill_incident.id, resolution="drill over")

    live_incident = record.incidents.open("Beacon", severity="P1")
    question, detail = await quit_question(make_app(mode="live"))
    assert question == f"Quit warroom with {live_incident.id} open?"
    assert "`warroom live` shows it again" in detail
