"""Warning events streamed from the drill cluster, through the real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from actions.drill.server import DrillServerThread
from actions.kube.cluster import ClusterOptions, connect
from actions.kube.streams import Backoff
from actions.sources.warning_events import WarningEvent, WarningEvents
from tests.sources_helpers import RunningSource, eventually


@pytest.fixture
async def api(drill_server: DrillServerThread, tmp_path: Path) -> AsyncIterator[Any]:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_server.kubeconfig_path(tmp_path))))
    yield cluster.client
    await cluster.close()


def event(name: str, event_type: str, reason: str, message: str, count: int = 1
          ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "voicehive"},
            "involvedObject": {"kind": "Pod", "name": "orchestrator-6f8d9c7b5d-k2x9p",
                               "namespace": "voicehive"},
            "type": event_type, "reason": reason, "message": message, "count": count,
            "firstTimestamp": "2026-11-01T09:05:00Z", "lastTimestamp": "2026-11-01T09:05:00Z",
            "source": {"component": "kubelet"}}


async def test_each_warning_event_once_and_each_repeat_again(
        drill_server: DrillServerThread, api: Any) -> None:
    source = WarningEvents(api, "voicehive", backoff=Backoff(0.05, 0.2))
    running = RunningSource(source.run)
    await eventually(lambda: len(running.of(WarningEvent)) == 2)  # the seeded Warnings
    state = drill_server.state
    state.create(event("orchestrator.3", "Warning", "NetworkNotReady", "[/oops] network down"))
    state.create(event("orchestrator.4", "Normal", "Pulled", "image pulled"))
    await eventually(lambda: len(running.of(WarningEvent)) == 3)
    repeated = state.get("v1", "Event", "voicehive", "orchestrator.3")
    assert repeated is not None
    repeated["count"] = 2
    state.replace(repeated)
    await eventually(lambda: len(running.of(WarningEvent)) == 4)
    await running.stop()
    events = running.of(WarningEvent)
    assert [e.reason for e in events] == ["BackOff", "Unhealthy", "NetworkNotReady",
                                          "NetworkNotReady"]
    assert [e.count for e in events[2:]] == [1, 2]
    assert events[2].message == "[/oops] network down"  # data, kept as is
    assert events[2].object == "pod/orchestrator-6f8d9c7b5d-k2x9p"
    assert running.health("events")[0].state == "connected"


async def test_already_recorded_events_are_not_repeated(api: Any) -> None:
    first = WarningEvents(api, "voicehive")
    running = RunningSource(first.run)
    await eventually(lambda: len(running.of(WarningEvent)) == 2)
    await running.stop()
    second = WarningEvents(api, "voicehive", already_seen=first.seen)
    again = RunningSource(second.run)
    await eventually(lambda: bool(again.health("events")))
    await again.stop()
    assert again.of(WarningEvent) == []


async def test_forbidden_events_say_forbidden(drill_server: DrillServerThread, api: Any) -> None:
    drill_server.state.set_rbac([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
    running = RunningSource(WarningEvents(api, "voicehive", backoff=Backoff(0.05, 0.2)).run)
    await eventually(lambda: bool(running.health("events")))
    await running.stop()
    health = running.health("events")[0]
    assert health.state == "forbidden"
    assert 'cannot list resource "events"' in health.detail
