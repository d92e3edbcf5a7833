"""Escalate/notify from the console: the matrix's roles, a note, real channels, the drainer.

Real local receivers (tests/plugins/notify.py) stand for Slack and PagerDuty;
the console's own drainer delivers what the escalation queued.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input, RadioButton, RadioSet, Static

from actions.config import Settings, load_settings
from actions.notify import notify_incident_event
from store import Record
from tests.plugins.notify import ShapeReceiver
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.dialogs.decision import DecisionScreen
from tui.dialogs.escalate import NO_MATRIX, EscalateForm
from tui.screens.war_room import WarRoomScreen
from tui.services import Services


def console(record: Record, clock: Any, settings: Settings, incident_id: str,
            mode: str = "live") -> WarRoomApp:
    services = Services(record, mode=mode, context="ctx", actor="ic@example.com",
                        incident_id=incident_id)
    return WarRoomApp(services, settings, clock=clock)


def messages(app: WarRoomApp) -> list[str]:
    return [n.message for n in app._notifications]


async def on_screen(pilot: Any, app: WarRoomApp) -> None:
    await until(pilot, lambda: isinstance(app.screen, WarRoomScreen)
                and app.screen.incident is not None, "the incident on screen")


async def test_escalating_sends_slack_through_the_consoles_drainer(
    record: Record, clock: Any, slack_receiver: ShapeReceiver,
    notify_config: Callable[..., Path],
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open("Exfiltration over DNS", severity="P1")
    app = console(record, clock, settings, incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await on_screen(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EscalateForm)
                    and app.screen.query("#escalate-channels"), "the form")
        form = app.screen
        plan = str(form.query_one("#escalate-channels", Static).render())
        assert "pagerduty: not configured" in plan  # the Security Engineer's PagerDuty + Slack
        assert "slack: queued and sent" in plan
        form.query_one("#note", Input).focus()
        await pilot.press(*"exfil confirmed", "ctrl+s")
        await until(pilot, lambda: slack_receiver.received, "the Slack message")
        await until(pilot, lambda: any(m.startswith("delivered: slack escalated")
                                       for m in messages(app)), "the delivered toast")
        said = messages(app)
    (entry,) = record.timeline.for_incident(incident.id, kinds=("incident.escalated",))
    assert entry.data["role"] == "Security Engineer"
    assert entry.data["note"] == "exfil confirmed"
    assert entry.actor == "ic@example.com"
    body = json.dumps(slack_receiver.bodies()[0])
    assert "John Doe" in body
    assert "exfil confirmed" in body
    assert [item.status for item in record.outbox.items()] == ["delivered"]
    escalated = next(m for m in said if m.startswith("Escalated to Security Engineer John Doe"))
    assert "queued: slack" in escalated
    assert "not configured: pagerduty" in escalated


async def test_a_role_reached_by_phone_tells_the_human_what_to_do(
    record: Record, clock: Any, pagerduty_receiver: ShapeReceiver,
    notify_config: Callable[..., Path],
) -> None:
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver))
    incident = record.incidents.open("Lateral movement", severity="P0")
    app = console(record, clock, settings, incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EscalateForm)
                    and len(app.screen.query(RadioButton)) == 4, "the form")
        form = app.screen
        network = next(button for button in form.query(RadioButton)
                       if "Network Engineer" in str(button.label))
        network.value = True
        await pilot.pause(0.1)
        assert form.query_one(RadioSet).pressed_index == 1
        assert "phone Bob Johnson (then Alice Brown): by hand" in str(
            form.query_one("#escalate-channels", Static).render())
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pagerduty_receiver.received, "the page")
        said = messages(app)
    escalated = next(m for m in said if m.startswith("Escalated to Network Engineer Bob Johnson"))
    assert "queued: pagerduty" in escalated
    assert "do by hand: phone Bob Johnson (then Alice Brown)" in escalated
    (page,) = pagerduty_receiver.bodies()
    assert page["event_action"] == "trigger"


async def test_the_drainer_sends_what_was_already_queued(
    record: Record, clock: Any, slack_receiver: ShapeReceiver,
    notify_config: Callable[..., Path],
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open("Opened elsewhere", severity="P2")
    queued = notify_incident_event(record, settings, incident, "opened")
    assert [q.channel for q in queued] == ["slack"]
    app = console(record, clock, settings, incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: slack_receiver.received, "the drainer's first round")
        await until(pilot, lambda: "delivered: slack opened" in messages(app), "the toast")
    assert [item.status for item in record.outbox.items()] == ["delivered"]


async def test_without_an_escalation_matrix_the_form_says_so_and_nothing_happens(
    record: Record, clock: Any
) -> None:
    settings = dataclasses.replace(Settings(), escalation=())
    incident = record.incidents.open("Nobody to call", severity="P1")
    app = console(record, clock, settings, incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EscalateForm)
                    and app.screen.query("#escalate-none"), "the form")
        form = app.screen
        assert str(form.query_one("#escalate-none", Static).render()) == NO_MATRIX
        await pilot.press("ctrl+s")
        await pilot.pause()  # the key handled (keys go one at a time: escape comes after it)
        assert isinstance(app.screen, EscalateForm)  # nothing to submit
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room")
    assert record.timeline.for_incident(incident.id, kinds=("incident.escalated",)) == []
    assert record.outbox.items() == []


async def test_review_mode_refuses_escalation(record: Record, clock: Any) -> None:
    incident = record.incidents.open("Recorded", severity="P1")
    app = console(record, clock, Settings(), incident.id, mode="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, app)
        await pilot.press("e")
        # The refusal is the key's answer: once it shows, no form can follow.
        await until(pilot, lambda: app.services.readonly_reason in messages(app), "the refusal")
        assert isinstance(app.screen, WarRoomScreen)


async def test_the_decision_points_escalate_notifies_the_security_lead(
    record: Record, clock: Any, slack_receiver: ShapeReceiver,
    notify_config: Callable[..., Path],
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open("Out of our depth", severity="P1")
    app = console(record, clock, settings, incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await on_screen(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DecisionScreen), "the decision")
        await pilot.press("down", "down", "down", "enter")  # the fourth choice: escalate
        app.screen.query_one("#rationale", Input).focus()
        await pilot.press(*"needs the lead", "enter")
        await until(pilot, lambda: slack_receiver.received, "the Slack message")
    (entry,) = record.timeline.for_incident(incident.id, kinds=("incident.escalated",))
    assert entry.data["role"] == "Security Engineer"
    assert entry.data["note"] == "needs the lead"
    assert record.decisions.for_incident(incident.id)[0].decision == "escalate"


async def test_with_no_channel_configured_the_record_says_to_call_and_keeps_the_note(
    record: Record, clock: Any
) -> None:
    """The Security Engineer's "PagerDuty + Slack" with neither configured: nothing is sent,
    and the timeline says so (not "via PagerDuty + Slack"), with the commander's note."""
    incident = record.incidents.open("Exfiltration over DNS", severity="P1")
    app = console(record, clock, Settings(), incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EscalateForm)
                    and app.screen.query("#note"), "the form")
        app.screen.query_one("#note", Input).focus()
        await pilot.press(*"dns tunnel confirmed", "ctrl+s")
        await until(pilot, lambda: any(m.startswith("Escalated") for m in messages(app)),
                    "the toast")
        said = next(m for m in messages(app) if m.startswith("Escalated"))
    (entry,) = record.timeline.for_incident(incident.id, kinds=("incident.escalated",))
    assert "via" not in entry.summary
    assert "no channel configured: call them (PagerDuty + Slack)" in entry.summary
    assert entry.summary.endswith("Note: dns tunnel confirmed")
    assert entry.data["queued"] == []
    assert entry.data["not_configured"] == ["pagerduty", "slack"]
    assert record.outbox.items() == []
    assert "nothing queued" in said
    assert "no channel configured: call them" in said
