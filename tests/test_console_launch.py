"""`warroom drill` on a terminal: the drill plays on its own thread, the console connects to it
through its kubeconfig like any cluster, and every live source records into the record."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from actions.config import Settings
from actions.drill.scenario import load_scenario
from actions.kube.cluster import ClusterOptions
from store import Record
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.cli.console import DrillInBackground, console_services
from tui.widgets.alert_list import AlertList
from tui.widgets.header import WarRoomHeader


@contextmanager
def dns_exfiltration_at_x120(tmp_path: Path) -> Iterator[ClusterOptions]:
    """The drill playing on its own thread, as `warroom drill` starts it; its cluster's
    options for the console."""
    drill = DrillInBackground(
        load_scenario("dns-exfiltration"), speed=120, port=0,
        kubeconfig_path=tmp_path / "kubeconfig",
    )
    session = drill.start()
    try:
        yield ClusterOptions(kubeconfig=str(session.kubeconfig_path))
    finally:
        drill.stop()


async def test_drill_console_follows_the_drill_and_records_what_it_shows(
    record: Record, record_path: Path, clock: Any, tmp_path: Path
) -> None:
    with dns_exfiltration_at_x120(tmp_path) as options:
        settings = Settings()
        with Record.open(record_path) as sources_record:
            services, setup = console_services(
                record, sources_record, settings, mode="drill", options=options, actor="ic"
            )
            app = WarRoomApp(services, settings, clock=clock, setup=setup)
            async with app.run_test(size=(160, 48)) as pilot:
                alerts = app.screen.query_one(AlertList)
                header = app.screen.query_one(WarRoomHeader)
                await until(pilot, lambda: alerts.buffer.visible_count
                            and header.health.get("falco") == "connected",
                            "Falco connected and an alert shown")
                assert header.health.get("falco") == "connected"
                assert alerts.buffer.visible_count > 0
                assert services.context == "warroom-drill"
                assert services.namespace == "voicehive"
        assert record.alerts.count() > 0  # what the pane showed is in the record
        # Each alert says which pod's log it came from.
        assert (record.alerts.latest(limit=1)[0].origin or "").startswith(("falco:", "coredns"))


async def test_a_drill_on_a_new_record_records_once_its_tables_are_made(
    record_path: Path, clock: Any, tmp_path: Path
) -> None:
    """As `warroom drill --db NEW` opens it: the tables are made after the first frame, and
    the sources, on their own connection, record only once they exist."""
    from actions.runtime import ConsoleRuntime

    with dns_exfiltration_at_x120(tmp_path) as options:
        settings = Settings()
        with ConsoleRuntime.open(record_path, connections=("sources", "actions"),
                                 create_later=True) as runtime:
            assert runtime.record.schema_pending
            services, setup = console_services(
                runtime.record, runtime.connection("sources"), settings, mode="drill",
                options=options, actor="ic", actions_record=runtime.connection("actions"),
            )
            services.runtime = runtime
            app = WarRoomApp(services, settings, clock=clock, setup=setup)
            async with app.run_test(size=(160, 48)) as pilot:
                alerts = app.screen.query_one(AlertList)
                await until(pilot, lambda: alerts.buffer.visible_count > 0, "an alert shown")
                recorded = await runtime.in_record(runtime.record.alerts.count)
        assert recorded > 0


def test_a_drill_that_cannot_start_says_why(tmp_path: Path) -> None:
    busy = DrillInBackground(
        load_scenario("dns-exfiltration"), speed=1, port=0, kubeconfig_path=tmp_path / "a"
    )
    first = busy.start()
    try:
        port = int(first.url.rsplit(":", 1)[1])
        clash = DrillInBackground(
            load_scenario("dns-exfiltration"), speed=1, port=port, kubeconfig_path=tmp_path / "b"
        )
        with pytest.raises(OSError, match="(?i)address|in use"):
            clash.start()
    finally:
        busy.stop()
