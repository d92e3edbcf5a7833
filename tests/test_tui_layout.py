"""Layout flows: tabs at 80x24, grid when large, zoom, help, theme, header clocks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.widgets import Label

from store import Record
from tests.plugins.tui import AppFactory, run_from_palette, until
from tui.dialogs.help import HelpScreen
from tui.screens.war_room import WarRoomScreen
from tui.views.clocks import BREACHED, MET, OK, WARNING, clock_states
from tui.widgets.header import WarRoomHeader
from tui.widgets.phase_bar import PhaseBar, long_title


async def test_small_terminal_shows_one_pane_at_a_time(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        assert screen.has_class("-narrow")
        assert [p.id for p in screen.query(".pane") if p.display] == ["alerts"]
        await pilot.press("4")
        assert [p.id for p in screen.query(".pane") if p.display] == ["timeline"]
        assert screen.current_pane().id == "timeline"
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not screen.has_class("-narrow")
        assert len([p for p in screen.query(".pane") if p.display]) == 4


def _phase_titles(screen: WarRoomScreen) -> list[str]:
    bar = screen.query_one(PhaseBar)
    return [str(label.render()) for label in bar.query(Label) if label.display]


async def test_the_phase_bar_titles_follow_the_terminals_width(make_app: AppFactory) -> None:
    """Long titles when a fifth of the width holds them, short ones below, both ways."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        assert _phase_titles(screen)[0] == long_title(1, "detection")
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: _phase_titles(screen)[0] == "1 Detect", "the short titles")
        assert _phase_titles(screen) == ["1 Detect", "2 Contain", "3 Eradicate", "4 Recover",
                                         "5 Lessons"]
        await pilot.resize_terminal(160, 48)
        await until(pilot, lambda: _phase_titles(screen)[4] == long_title(5, "lessons-learned"),
                    "the long titles again")


async def test_zoom_gives_the_focused_pane_the_whole_body(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        await pilot.press("3", "z")
        await pilot.pause()
        assert screen.has_class("-zoomed")
        assert [p.id for p in screen.query(".pane") if p.display] == ["policies"]
        await pilot.press("z")
        await pilot.pause()
        assert len([p for p in screen.query(".pane") if p.display]) == 4


async def test_help_lists_every_binding_with_its_id(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        ids = {row[3] for row in app.screen.rows}
        assert {"incident.open", "incident.note", "incident.decision", "pane.zoom",
                "alerts.filter", "alerts.severity", "policies.yaml", "app.theme"} <= ids
        await pilot.press("escape")
        assert isinstance(app.screen, WarRoomScreen)


async def test_theme_toggles_between_dark_and_light(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


async def test_header_clocks_turn_amber_then_red(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    record.incidents.open("Egress to unknown IP", severity="P1", drill=True)
    clock.advance(minutes=4, seconds=30)  # 90 % of the 5 minute MTTD target
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        header = app.screen.query_one(WarRoomHeader)
        assert header.query_one("#clock-mttd").has_class("-warning")
        assert header.query_one("#clock-mttc").has_class("-ok")
        clock.advance(minutes=1)
        # The header ticks at 1 Hz from the injected clock: the next tick shows the breach.
        await until(pilot, lambda: header.query_one("#clock-mttd").has_class("-breached"),
                    "the MTTD clock breached")


def test_clock_states_follow_the_runbook_targets(record: Record, clock: Any) -> None:
    incident = record.incidents.open("x", severity="P2")
    start = clock.now
    assert [s.state for s in clock_states(incident, start + timedelta(minutes=1))] == [OK] * 3
    acked = record.incidents.acknowledge(incident.id)
    later = start + timedelta(minutes=13)
    states = {s.key: s.state for s in clock_states(acked, later)}
    assert states == {"mttd": MET, "mttc": WARNING, "mttr": OK}
    states = {s.key: s.state for s in clock_states(acked, start + timedelta(hours=3))}
    assert states == {"mttd": MET, "mttc": BREACHED, "mttr": BREACHED}


async def test_palette_offers_incident_commands_named_after_a_hostile_alert(
    make_app: AppFactory,
) -> None:
    from tests.plugins.tui import hostile_alerts
    from tui.dialogs.forms import OpenIncidentForm

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        app.push_alerts(hostile_alerts()[:1])  # rule and pod "[/oops]": markup if parsed
        await pilot.pause(0.3)
        await pilot.pause()
        await run_from_palette(pilot, "open inc")
        await until(pilot, lambda: isinstance(app.screen, OpenIncidentForm), "the form")
        title = app.screen.query_one("#title").value  # type: ignore[attr-defined]
        assert title == "Rule [/oops] on pod-[/oops]"
        await pilot.press("escape")
        await app.workers.wait_for_complete()
