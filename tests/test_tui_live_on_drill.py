"""A team drill's participant: `warroom live` (and `incidents open`) on the drill cluster
open drill incidents, as `warroom act` there does: scored, kept out of the real metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Label

from actions.config import Settings
from actions.kube.cluster import ClusterOptions
from store import Record
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.cli import main
from tui.cli.console import console_services
from tui.dialogs.forms import OpenIncidentForm
from tui.screens.war_room import WarRoomScreen


@pytest.fixture
def sources_record(record_path: Path, clock: Any, record: Record) -> Iterator[Record]:
    with Record.open(record_path, clock=clock) as opened:
        yield opened


async def test_an_incident_opened_in_live_on_the_drill_cluster_is_a_drill(
    record: Record, sources_record: Record, drill_kubeconfig: Path
) -> None:
    """Also when a real incident is open in the same record: the console leaves it alone."""
    real = record.incidents.open("Shell on db", severity="P1")
    services, setup = console_services(
        record, sources_record, Settings(), mode="live",
        options=ClusterOptions(kubeconfig=str(drill_kubeconfig)), actor="bob",
    )
    app = WarRoomApp(services, setup=setup, clock=record.clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: services.actions is not None, "the cluster connected")
        assert services.actions is not None
        assert services.actions.drill
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.incident is None, "the real incident let go")
        badge = screen.query_one("#mode-badge", Label)
        await until(pilot, lambda: str(badge.content).strip() == "DRILL", "the DRILL badge")
        assert badge.has_class("-drill")
        assert not badge.has_class("-live")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OpenIncidentForm), "the form")
        await pilot.press(*"Beacon to 203.0.113.66", "ctrl+s")
        await until(pilot, lambda: len(record.incidents.list()) == 2, "the incident recorded")
        app.exit()  # the live sources' workers run until the console ends
    (incident,) = [i for i in record.incidents.list() if i.id != real.id]
    assert (incident.drill, incident.cluster_context) == (True, "warroom-drill")
    assert screen.incident is not None
    assert screen.incident.id == incident.id


def test_incidents_open_with_the_kubeconfig_on_the_drill_cluster_is_a_drill(
    record_path: Path, drill_kubeconfig: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(drill_kubeconfig))
    assert main.main(["incidents", "open", "Beacon", "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["drill"] is True
    assert "drill cluster: opening a drill incident" in said.err

    monkeypatch.setenv("KUBECONFIG", str(record_path.parent / "no-such-kubeconfig"))
    assert main.main(["incidents", "open", "Shell on db", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["drill"] is False

