"""Review mode's replay, driven from the keyboard: alerts shown, go to a time, play, the end."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Label

from store import Record
from tests.plugins.tui import T0, AppFactory, until
from tui.dialogs.replay_form import GoToForm
from tui.replay import ReplayClock
from tui.screens.war_room import WarRoomScreen
from tui.widgets.alert_pane import AlertPane
from tui.widgets.timeline_pane import TimelineList


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    for pane in app.screen.query(AlertPane):
        pane.alert_list.drain()
    await pilot.pause()


def timeline_rows(app: App[Any]) -> int:
    return app.screen.query_one("#timeline-table", TimelineList).row_count


def alert_rules(app: Any) -> list[str]:
    buffer = app.screen.query_one(AlertPane).alert_list.buffer
    return [buffer.row(seq).rule for seq in buffer.index]


def entries_until(record: Record, incident_id: str, moment: datetime) -> int:
    return sum(1 for e in record.timeline.for_incident(incident_id) if e.at <= moment)


async def go_to(pilot: Pilot[Any], typed: str) -> None:
    await pilot.press("g")
    await pilot.pause()
    assert isinstance(pilot.app.screen, GoToForm)
    pilot.app.screen.query_one("#goto-time", Input).value = typed
    await pilot.press("enter")
    await settle(pilot)


async def test_review_opens_at_the_end_with_the_incidents_alerts(
    make_app: AppFactory, record: Record, recorded: str
) -> None:
    app = make_app(mode="review")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert isinstance(app.clock, ReplayClock)
        assert app.clock.at_end
        assert timeline_rows(app) == record.timeline.count(recorded)
        rules = alert_rules(app)
        assert len(rules) == 40
        assert rules[0] == "Outbound DNS 0"  # index order is oldest first; newest drawn on top
        row = app.screen.query_one(AlertPane).selected
        assert row is not None
        assert row.rule == "Outbound DNS 39"
        for bad in ("[/oops]", "[red]x"):
            assert bad in row.output  # attacker text kept literally, not interpreted
        assert "\x1b" not in row.output
        assert "\x9b" not in row.output


async def test_go_to_shows_only_what_was_recorded_by_then(
    make_app: AppFactory, record: Record, recorded: str
) -> None:
    app = make_app(mode="review")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await go_to(pilot, "+2m")
        moment = T0 + timedelta(minutes=2)
        assert app.clock() == moment
        assert timeline_rows(app) == entries_until(record, recorded, moment) == 3
        assert alert_rules(app) == [f"Outbound DNS {n}" for n in range(5)]
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        assert screen.incident is not None
        assert screen.incident.acknowledged_at is None  # acknowledged only at T+3
        assert str(screen.query_one("#since", Label).render()) == "T+2:00"
        assert "REPLAY 09:02:00" in str(screen.query_one("#readonly-banner", Label).render())

        await go_to(pilot, "09:07")
        moment = T0 + timedelta(minutes=7)
        assert timeline_rows(app) == entries_until(record, recorded, moment)
        assert screen.incident.severity == "P0"
        assert len(alert_rules(app)) == 15

        await pilot.press("n")  # writing is refused in a replay too, with the reason
        await pilot.pause()
        assert any("review mode" in n.message for n in app._notifications)
    assert record.timeline.count(recorded) == entries_until(
        record, recorded, T0 + timedelta(hours=1)
    )


async def test_going_back_keeps_the_falco_filter_and_starts_the_counts_again(
    make_app: AppFactory, recorded: str
) -> None:
    app = make_app(mode="review")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"DNS 3", "enter")
        await settle(pilot)
        assert alert_rules(app) == ["Outbound DNS 3", *(f"Outbound DNS {n}" for n in range(30, 40))]
        pane = app.screen.query_one(AlertPane)
        await go_to(pilot, "+2m")
        assert app.screen.query_one(AlertPane) is pane  # emptied in place, not rebuilt
        assert alert_rules(app) == ["Outbound DNS 3"]  # the filter still applies
        assert pane.alert_list.received == 5  # the alerts up to the moment, counted afresh
        assert pane.alert_list.filter.text == "DNS 3"


async def refused_in_the_go_to_form(pilot: Any, typed: str) -> tuple[GoToForm, str]:
    """`g`, `typed`, enter: the form stays open; it and the error it shows."""
    await pilot.press("g")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, GoToForm)
    form.query_one("#goto-time", Input).value = typed
    await pilot.press("enter")
    await pilot.pause()
    assert pilot.app.screen is form  # still open, saying why
    return form, str(form.query_one(".dialog-error").render())


async def test_a_bad_time_says_what_would_do_and_keeps_the_form(
    make_app: AppFactory, recorded: str
) -> None:
    app = make_app(mode="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, error = await refused_in_the_go_to_form(pilot, "soon [red]x")
        assert "+12m" in error
        assert "[red]x" in error
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.clock, ReplayClock)
        assert app.clock.at_end


async def test_a_time_out_of_range_is_said_in_the_form_and_the_console_goes_on(
    make_app: AppFactory, recorded: str
) -> None:
    """`g` `+99999999h` enter stopped the console: "the console stopped on an unexpected
    error (OverflowError)", exit 1."""
    app = make_app(mode="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form, error = await refused_in_the_go_to_form(pilot, "+99999999h")
        assert "out of range" in error
        assert "+12m" in error
        form.query_one("#goto-time", Input).value = "+2m"  # and a good time still goes there
        await pilot.press("enter")
        await settle(pilot)
        assert app.clock() == T0 + timedelta(minutes=2)
        assert app.is_running


async def test_playing_fast_moves_the_timeline_forward_and_G_shows_everything(
    make_app: AppFactory, record: Record, recorded: str
) -> None:
    app = make_app(mode="review")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await go_to(pilot, "+1m")
        assert timeline_rows(app) == 2
        await pilot.press(*["greater_than_sign"] * 6)  # 1x -> 300x: a real second is 5 minutes
        clock = app.clock
        assert isinstance(clock, ReplayClock)
        assert clock.speed == 300
        await pilot.press("space")
        assert clock.playing
        await until(pilot, lambda: timeline_rows(app) > 4, "the replay playing entries in")
        await pilot.press("space")
        assert not clock.playing
        await settle(pilot)
        paused_at = clock()
        assert timeline_rows(app) == entries_until(record, recorded, paused_at)

        await pilot.press("G")
        await settle(pilot)
        assert clock.at_end
        assert timeline_rows(app) == record.timeline.count(recorded)
        assert len(alert_rules(app)) == 40


async def test_replay_keys_outside_review_say_where_they_work(make_app: AppFactory) -> None:
    app = make_app(mode="drill")
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("G")
        await pilot.pause()
        assert not isinstance(app.clock, ReplayClock)
        assert any("review mode" in n.message for n in app._notifications)
