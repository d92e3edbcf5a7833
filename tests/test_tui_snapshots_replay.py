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

from tests.plugins.tui import AppFactory, settle_for_snapshot

LARGE = (160, 48)
SMALL = (80, 24)



async def _at_plus_four_minutes(pilot: Pilot[Any]) -> None:
    await settle_for_snapshot(pilot)
    await pilot.press("g")
    await pilot.pause()
    pilot.app.screen.query_one("#goto-time", Input).value = "+4m"
    await pilot.press("enter")
    await pilot.pause()
    await settle_for_snapshot(pilot)
    await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
    await settle_for_snapshot(pilot)


async def _go_to_form(pilot: Pilot[Any]) -> None:
    await _at_plus_four_minutes(pilot)
    await pilot.press("g")
    await pilot.pause()
    pilot.app.screen.query_one("#goto-time", Input).value = "+12x"
    await pilot.press("enter")  # a bad time: the form says what would do
    await settle_for_snapshot(pilot, workers=False)


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
