"""The score modal: points per line, the checklist's words, how a missed step is done."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from actions.drill.scenario import load_builtin
from actions.drill.score import score_drill
from store import Record
from tests.plugins.tui import AppFactory, until
from tui.dialogs.score import ScoreScreen


def shown_how(screen: ScoreScreen) -> str:
    return str(screen.query_one("#score-how", Static).visual)


async def test_the_cursor_starts_on_the_first_miss_and_each_line_says_how(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    incident = record.incidents.open("DNS", severity="P0", drill=True, detected_at=clock.now)
    clock.advance(seconds=100)
    record.incidents.acknowledge(incident.id)
    score = score_drill(load_builtin("dns-exfiltration"), record, incident.id,
                        clock_started_at=clock.now)  # fmt: skip
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ScoreScreen(score))
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen)
                    and bool(app.screen.query(DataTable)), "the score")  # fmt: skip
        screen = app.screen
        assert isinstance(screen, ScoreScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: shown_how(screen) != "", "the highlighted line's how")
        # MTTD was met: the first miss is MTTC.
        assert table.cursor_row == 1
        assert shown_how(screen).startswith("MTTC: not reached (expected < 15m00s)\nTo do it:")
        row = next(i for i, line in enumerate(score.items) if line.ref == "review-falco")
        table.move_cursor(row=row)
        await until(pilot, lambda: "Review Falco alerts" in shown_how(screen), "the step")
        assert shown_how(screen) == (
            "Review Falco alerts: missed (expected done)\n"
            'To do it: press k, then space on "Review Falco alerts" (Detection & Analysis)'
        )
        cells = [str(cell) for cell in table.get_row_at(row)]
        assert cells[:3] == ["MISSED", "0/1", "Review Falco alerts"]
        await pilot.press("escape")


async def test_the_whole_debrief_can_be_read_at_80x24(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    """The debrief once stopped mid-sentence at four lines, with no way to read on."""
    incident = record.incidents.open("DNS", severity="P0", drill=True, detected_at=clock.now)
    scenario = load_builtin("dns-exfiltration")
    score = score_drill(scenario, record, incident.id, clock_started_at=clock.now)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ScoreScreen(score))
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen)
                    and bool(app.screen.query("#score-why-scroll")), "the score")  # fmt: skip
        scroll = app.screen.query_one("#score-why-scroll")
        await pilot.press("tab")
        await until(pilot, lambda: scroll.has_focus, "the debrief focused")
        await pilot.press("end")
        await until(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y > 0, "the debrief's end")
        # There was more than the box holds, and the keyboard reached its end.
        why = app.screen.query_one("#score-why", Static)
        assert why.region.bottom == scroll.content_region.bottom
