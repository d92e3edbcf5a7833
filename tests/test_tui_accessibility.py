"""What the console says without colour, keys as typed, a question before quitting, and a
review that offers only what works there (a drill's score among it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.color import Color
from textual.widgets import Input

from actions.config import AlertingSettings, Settings, SlackSettings
from actions.drill.drill_events import Observation
from actions.drill.scenario import load_builtin
from actions.drill.score import score_drill
from actions.runbook import ActionRequest
from store import Record
from tests.plugins.tui import AppFactory, until
from tui.dialogs.action_form import CLUSTER_ACTIONS, ActionForm
from tui.dialogs.escalate import EscalateForm
from tui.dialogs.forms import AskScreen, OpenIncidentForm
from tui.dialogs.help import HelpScreen
from tui.dialogs.score import ScoreScreen
from tui.drill_score import SCORE_KIND, record_drill_score
from tui.screens.war_room import WarRoomScreen
from tui.views.clocks import BREACHED, LATE, MET, ClockState
from tui.widgets.key_footer import KeyFooter, footer_keys
from tui.widgets.toggles import Checkbox, RadioButton


def plain(widget: Any) -> str:
    """What a widget draws, colours dropped: what a monochrome terminal shows."""
    return str(widget.render().plain if hasattr(widget.render(), "plain") else widget.render())


async def war_room(pilot: Any) -> WarRoomScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, WarRoomScreen)
                and pilot.app.screen.is_mounted, "the war room")
    await pilot.app.workers.wait_for_complete()
    return pilot.app.screen  # type: ignore[no-any-return]


# --- state without colour -------------------------------------------------------------------


async def test_checkboxes_and_radio_buttons_show_their_state_with_a_glyph(
    make_app: AppFactory
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await war_room(pilot)
        form = EscalateForm("NSI-1", Settings().escalation,
                            AlertingSettings(slack=SlackSettings()), drill=True)
        app.push_screen(form)
        await until(pilot, lambda: form.is_mounted and form.query(RadioButton), "the form")
        radios = list(form.query(RadioButton))
        chosen = [plain(r)[:3] for r in radios if r.value]
        others = [plain(r)[:3] for r in radios if not r.value]
        assert chosen == ["▐●▌"]
        assert others
        assert all(glyph == "▐ ▌" for glyph in others)
        app.pop_screen()
        action = ActionForm(CLUSTER_ACTIONS["block-ip"], ActionRequest(
            "block-ip", "203.0.113.9", emergency_egress=True, service="orchestrator"), "here")
        app.push_screen(action)
        await until(pilot, lambda: action.is_mounted and action.query(Checkbox), "the form")
        box = action.query(Checkbox).first()
        before = plain(box)[:3]
        box.toggle()
        await pilot.pause()
        after = plain(box)[:3]
    assert {before, after} == {"▐X▌", "▐ ▌"}


def test_every_checkbox_and_radio_button_of_the_console_shows_its_state_without_colour() -> None:
    """Textual's own toggles draw on and off with one glyph in two colours: the console uses
    tui/widgets/toggles.py's everywhere (a form once took Textual's and showed X when off)."""
    import ast

    own = Path(__file__).resolve().parents[1] / "tui"
    offenders = []
    for source in own.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "textual.widgets":
                names = {alias.name for alias in node.names} & {"Checkbox", "RadioButton"}
                if names and source.name != "toggles.py":
                    offenders.append(f"{source.relative_to(own.parent)}: {sorted(names)}")
    assert offenders == []


@pytest.mark.parametrize(("state", "long", "short"), [
    (BREACHED, "MTTD 6:00/5m OVER", "D 6:00/5m!"),
    (LATE, "MTTD 6:00/5m late", "D 6:00/5m!"),
    (MET, "MTTD 6:00/5m \N{CHECK MARK}", "D 6:00/5m\N{CHECK MARK}"),
])
def test_a_clock_past_its_target_says_so_in_words(state: str, long: str, short: str) -> None:
    clock = ClockState("mttd", "ack", timedelta(minutes=6), timedelta(minutes=5), state)
    assert clock.text() == long
    assert clock.text(short=True) == short


def contrast(one: Color, other: Color) -> float:
    """WCAG's contrast ratio of two opaque colours."""
    def luminance(color: Color) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_dialogs_fields_stand_out_from_it_in_both_themes(
    make_app: AppFactory, theme: str
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await war_room(pilot)
        app.theme = theme
        form = OpenIncidentForm("Shell in orchestrator", "P1")
        app.push_screen(form)
        await until(pilot, lambda: form.is_mounted and form.query(Input), "the form")
        await pilot.pause()
        form.set_focus(None)  # the resting look, not the focused one
        await pilot.pause()
        field = form.query_one("#title", Input)
        dialog = form.query_one(".dialog")
        behind = dialog.styles.background
        edge = behind + field.styles.border_top[1]  # the edge, drawn over the dialog
    assert contrast(edge, behind) >= 3.0, (edge, behind)


# --- keys as typed ----------------------------------------------------------------------------


async def test_the_help_shows_keys_as_they_are_typed(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await war_room(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        rows = {(row[2], row[1]) for row in app.screen.rows}  # type: ignore[attr-defined]
    keys = " ".join(key for _, key in rows)
    assert ("Proposal", "!") in rows
    assert ("Drill faster", "+") in rows
    assert ("Help", "?") in rows
    assert ("Command palette", "ctrl+p") in rows
    for name in ("exclamation_mark", "question_mark", "plus", "minus", "greater_than_sign"):
        assert name not in keys


# --- quitting -------------------------------------------------------------------------------


async def test_q_with_an_incident_open_asks_first(make_app: AppFactory, record: Record) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app(mode="live", incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await war_room(pilot)
        await until(pilot, lambda: screen.incident is not None, "the incident")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the question")
        assert incident.id in app.screen._question  # type: ignore[attr-defined]
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, "back, still running")
        assert app.is_running
        await pilot.press("q", "y")
        await until(pilot, lambda: not app.is_running, "the console closed")


@pytest.mark.parametrize("mode", ["live", "review"])
async def test_q_quits_at_once_when_nothing_is_at_stake(
    make_app: AppFactory, record: Record, mode: str
) -> None:
    if mode == "review":  # an open incident, but review changes nothing: no question
        record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app(mode=mode)
    async with app.run_test(size=(80, 24)) as pilot:
        await war_room(pilot)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the console closed")


# --- review -----------------------------------------------------------------------------------


def drill_incident(record: Record, clock: Any) -> str:
    """A drill incident whose drill ended and was scored (as `warroom drill` leaves it)."""
    started = clock()
    incident = record.incidents.open("Drill: DNS exfiltration", severity="P1", drill=True)
    clock.advance(minutes=3)
    record.incidents.acknowledge(incident.id, actor="ic")
    record.decisions.add(incident.id, "active-attack", rationale="tunnel", actor="ic")
    scenario = load_builtin("dns-exfiltration", schemas=False)
    seen = [Observation("isolate", "orchestrator", clock(), "kubectl")]
    score = score_drill(scenario, record, incident.id, clock_started_at=started,
                        observations=seen)
    record_drill_score(record, incident.id, scenario, started, seen, score)
    clock.advance(minutes=30)
    return incident.id


async def test_review_offers_only_what_works_and_shows_the_drills_score(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    incident_id = drill_incident(record, clock)
    (entry,) = record.timeline.for_incident(incident_id, kinds=(SCORE_KIND,))
    app = make_app(mode="review", incident_id=incident_id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await war_room(pilot)
        footer = screen.query_one(KeyFooter)
        await until(pilot, lambda: screen.incident is not None
                    and "S" in {k.key for k in footer.shown.keys}, "the review footer")
        offered = {k.description for k in footer.shown.keys}
        assert "Drill score" in offered
        assert "Checklist" in offered
        assert "Report" in offered
        for write in ("Open", "Ack", "Note", "Isolate", "Block IP", "Decide", "Next phase"):
            assert write not in offered
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score")
        shown = app.screen
        summary = plain(shown.query_one("#score-summary"))
    assert shown.score is not None  # type: ignore[attr-defined]
    earned, possible = shown.score.points  # type: ignore[attr-defined]
    assert [earned, possible] == entry.data["points"]
    assert f"{earned}/{possible} points" in summary


async def test_review_of_an_incident_that_was_no_drill_offers_no_score(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    incident = record.incidents.open("A real one", severity="P1")
    clock.advance(minutes=5)
    app = make_app(mode="review", incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await war_room(pilot)
        await until(pilot, lambda: screen.incident is not None, "the incident")
        footer = screen.query_one(KeyFooter)
        # The footer redraws a refresh after the bindings change: wait until it shows what
        # the screen offers with the incident loaded, then look.
        await until(pilot, lambda: footer.shown == footer_keys(screen), "the footer's redraw")
        assert "S" not in {k.key for k in footer.shown.keys}


def test_when_a_drill_recorded_its_score_it_is_dated() -> None:
    """The entry's observations keep their times (score_drill compares them to the key)."""
    when = datetime(2026, 3, 14, 9, 5, tzinfo=UTC)
    assert Observation("isolate", "orchestrator", when, "ic").wall.tzinfo is not None
