"""Snapshots of ending an incident: the resolve/close dialog, and the war room once it is closed.

Deterministic as tests/test_tui_snapshots.py is: frozen clock, temporary record,
no blinking. Update after a deliberate change with `--snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from store import Record
from tests.plugins.tui import AppFactory, settle_for_snapshot
from tui.dialogs.close_incident import CloseIncidentScreen

LARGE = (160, 48)
SMALL = (80, 24)


@pytest.fixture
def incident(record: Record, clock: Any) -> str:
    opened = record.incidents.open("Beacon to 203.0.113.66 [red]x", severity="P1", drill=True)
    clock.advance(minutes=3)
    record.incidents.acknowledge(opened.id, actor="ic")
    clock.advance(minutes=9)
    return opened.id


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_close_dialog(
    snap_compare: Any, make_app: AppFactory, record: Record, incident: str,
    size: tuple[int, int],
) -> None:
    async def ending(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        pilot.app.push_screen(CloseIncidentScreen(record.incidents.get_required(incident)))
        await pilot.pause()
        await pilot.press(*"C2 blocked")
        await settle_for_snapshot(pilot, workers=False)

    assert snap_compare(make_app(), terminal_size=size, run_before=ending)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_war_room_with_the_incident_closed(
    snap_compare: Any, make_app: AppFactory, record: Record, clock: Any, incident: str,
    size: tuple[int, int],
) -> None:
    record.incidents.close(incident, resolution="C2 blocked, token rotated", actor="ic")
    clock.advance(hours=5)  # the clocks stay where they stopped

    async def settle(pilot: Pilot[Any]) -> None:
        await settle_for_snapshot(pilot)

    # As the console shows it after closing it (a new console would take no closed incident).
    assert snap_compare(make_app(incident_id=incident), terminal_size=size, run_before=settle)
