"""The console fed by the real Falco follower reading the drill cluster's Falco pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actions.falco.classify import Classifier
from actions.kube.cluster import ClusterOptions, connect
from actions.sources.falco_follower import FalcoFollower, FalcoFollowerSettings
from store import Record
from tests.plugins.tui import AppFactory, until
from tui.widgets.alert_list import AlertList
from tui.widgets.header import WarRoomHeader


async def test_follower_alerts_reach_the_pane_and_its_health_the_header(
    make_app: AppFactory, record: Record, drill_kubeconfig: Path
) -> None:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig)))
    follower = FalcoFollower(cluster.client, record, Classifier.load(None),
                             FalcoFollowerSettings(flush_seconds=0.05, backoff_first=0.05,
                                                   backoff_max=0.2))
    try:
        app = make_app(source=follower, cluster=None)
        async with app.run_test(size=(160, 48)) as pilot:
            alert_list = app.screen.query_one(AlertList)
            await until(pilot, lambda: alert_list.buffer.visible_count, "an alert shown")
            row = alert_list.selected
            assert row is not None
            assert row.rule == "Contact K8S API Server From Container"
            assert row.pod == "orchestrator-6f8d9c7b5d-k2x9p"
            assert app.screen.query_one(WarRoomHeader).health.get("falco") == "connected"
        assert record.alerts.count() == 1  # recorded by the follower, shown by the console
    finally:
        await cluster.close()


async def test_setup_connects_inside_the_console_and_the_console_closes_it(
    record: Record, clock: Any, drill_kubeconfig: Path
) -> None:
    from tui.app import WarRoomApp
    from tui.services import Services
    from tui.widgets.policy_pane import PolicyPane

    connected: list[Any] = []

    async def setup(services: Services) -> None:
        services.cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig)))
        services.context = services.cluster.context
        connected.append(services.cluster)

    app = WarRoomApp(Services(record, mode="live"), clock=clock, setup=setup)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "voicehive/external-api-segmentation" in app.screen.query_one(PolicyPane).policies
        where = str(app.screen.query_one("#where").render())
        assert where == f"{connected[0].context}/voicehive"
    (cluster,) = connected
    assert cluster.client.rest_client.pool_manager.closed
