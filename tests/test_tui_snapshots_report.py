"""Snapshots of the report screen and its section editor at 80x24 and 160x48.

Deterministic by construction: the frozen clock drives the report's times and
the reporting clocks, the record is a temporary file, and the part of the report
on screen names neither the record's path nor the chain's hashes.
Update after a deliberate change with
`pytest tests/test_tui_snapshots_report.py --snapshot-update`, then look at the svg.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, TextArea

from store import Record
from store.report.sections import set_section
from tests.plugins.record import FrozenClock
from tests.plugins.tui import HOSTILE, AppFactory

LARGE = (160, 48)
SMALL = (80, 24)
SIZES = pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])



@pytest.fixture
def incident(record: Record, clock: FrozenClock) -> str:
    """A P1 incident 20 hours in: the executive summary's clock is amber."""
    opened = record.incidents.open("Shell in orchestrator [red]x", severity="P1", drill=True)
    record.timeline.add(opened.id, "note", f"curl to 203.0.113.9 seen {HOSTILE[0]}", actor="ic")
    record.timeline.add(
        opened.id, "note", "# heading | a | b | [x](javascript:alert(1))", actor="ic"
    )
    set_section(
        record,
        opened.id,
        "summary",
        "A shell in orchestrator reached 203.0.113.9.\n<script>alert(1)</script> was in it.",
        "ic",
    )
    clock.advance(hours=20)
    return opened.id


async def _settle(pilot: Pilot[Any], *, workers: bool = True) -> None:
    if workers:  # not while the editor is open: the screen's worker waits for it
        await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.25)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
        # Focus again so the cursor is shown whatever phase its blink had reached.
        area.blur()
        area.focus()
    # The footer recomposes when the keys that apply change: let that settle.
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()


async def _open_report(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.press("w")
    await _settle(pilot)


@SIZES
def test_report_screen(
    snap_compare: Any, make_app: AppFactory, incident: str, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_open_report)


@SIZES
def test_section_editor(
    snap_compare: Any, make_app: AppFactory, incident: str, size: tuple[int, int]
) -> None:
    async def edit(pilot: Pilot[Any]) -> None:
        await _open_report(pilot)
        options = pilot.app.screen.query_one("#report-sections", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("summary")
        await pilot.press("enter")
        await _settle(pilot, workers=False)

    assert snap_compare(make_app(), terminal_size=size, run_before=edit)


def test_review_mode_executive_summary(
    snap_compare: Any, make_app: AppFactory, incident: str
) -> None:
    async def executive(pilot: Pilot[Any]) -> None:
        await _open_report(pilot)
        await pilot.press("e")
        await _settle(pilot)

    assert snap_compare(make_app(mode="review"), terminal_size=SMALL, run_before=executive)
