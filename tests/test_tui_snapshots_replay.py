"""Snapshots of review mode's replay: the war room at a replay moment, and the go-to form.

Deterministic: a frozen clock, a paused replay, alerts and entries at fixed
times in a temporary record. Update after a deliberate change with
`pytest tests/test_tui_snapshots_replay.py --snapshot-update`, then read the svg.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.plugins.tui import AppFactory
from tui.widgets.alert_pane import AlertPane

LARGE = (160, 48)
SMALL = (80, 24)



async def _settle(pilot: Pilot[Any], *, workers: bool = True) -> None:
    if workers:  # not while a form is open: its worker waits for the form
        await pilot.app.workers.wait_for_complete()
    for pane in pilot.app.screen.query(AlertPane):
        pane.alert_list.drain()
        pane.refresh_counters()
    await pilot.pause(0.25)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()


async def _at_plus_four_minutes(pilot: Pilot[Any]) -> None:
    await _settle(pilot)
    await pilot.press("g")
    await pilot.pause()
    pilot.app.screen.query_one("#goto-time", Input).value = "+4m"
    await pilot.press("enter")
    await pilot.pause()
    await _settle(pilot)
    await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
    await _settle(pilot)


async def _go_to_form(pilot: Pilot[Any]) -> None:
    await _at_plus_four_minutes(pilot)
    await pilot.press("g")
    await pilot.pause()
    pilot.app.screen.query_one("#goto-time", Input).value = "+12x"
    await pilot.press("enter")  # a bad time: the form says what would do
    await _settle(pilot, workers=False)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_review_at_a_replay_moment(
    snap_compare: Any, make_app: AppFactory, recorded: str, size: tuple[int, int]
) -> None:
    assert snap_compare(
        make_app(mode="review"), terminal_size=size, run_before=_at_plus_four_minutes
    )


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_go_to_form_with_a_bad_time(
    snap_compare: Any, make_app: AppFactory, recorded: str, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(mode="review"), terminal_size=size, run_before=_go_to_form)
