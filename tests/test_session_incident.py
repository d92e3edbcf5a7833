"""Which incident a console takes: a new drill never another drill's, live never a drill's.

The consoles are built as `warroom drill` and `warroom live` build them
(`console_services`), without a cluster: the pick is the record's alone.
"""

from __future__ import annotations

from actions.config import Settings
from store import Record
from tests.plugins.record import FrozenClock
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.cli.console import console_services
from tui.screens.war_room import WarRoomScreen
from tui.widgets.header import NO_INCIDENT, WarRoomHeader


async def shown(record: Record, clock: FrozenClock, mode: str) -> str | None:
    """The incident a freshly started `mode` console shows (None: none)."""
    services, _ = console_services(record, None, Settings(), mode=mode, options=None)
    app = WarRoomApp(services, Settings(), clock=clock)
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen._loaded_once, "the first read of the record")
        incident = screen.incident
        if incident is None:
            assert screen.query_one(WarRoomHeader).fit.incident == NO_INCIDENT  # type: ignore[union-attr]
        return incident.id if incident else None


async def test_a_new_drill_takes_no_older_incident_and_live_takes_no_drill(
    record: Record, clock: FrozenClock
) -> None:
    record.incidents.open("Last week's drill, never closed", drill=True, severity="P0")
    clock.advance(days=7)
    assert await shown(record, clock, "drill") is None
    assert await shown(record, clock, "live") is None
    real = record.incidents.open("Beaconing from tts-router", severity="P1")
    closed = record.incidents.open("Closed yesterday", severity="P1")
    record.incidents.close(closed.id, resolution="blocked")
    clock.advance(minutes=1)
    assert await shown(record, clock, "live") == real.id
    assert await shown(record, clock, "drill") is None
