"""Traffic from the drill cluster's Prometheus: series, string values, the mTLS-failure P0."""

from __future__ import annotations

from typing import Any

from actions.drill.clock import ManualClock
from actions.drill.server import PROMETHEUS_PROXY_PATH, DrillServerThread
from actions.kube.cluster import Cluster
from actions.sources.batches import AlertBatch
from actions.sources.traffic import (
    MTLS_FAILURES,
    PLAINTEXT,
    TCP_RECEIVED,
    PrometheusClient,
    TrafficMonitor,
    TrafficSample,
    received_by_route,
)
from store import Record
from tests.plugins.drill_scenarios import DrillFactory
from tests.sources_helpers import RunningSource, eventually


def metrics(failing: dict[str, str]) -> Any:
    def provider(promql: str, at: float) -> dict[str, Any]:
        if promql == TCP_RECEIVED:
            result = [
                {"metric": {"destination_workload": "tts-router",
                            "destination_workload_namespace": "voicehive"}, "value": "1234.5"},
                {"metric": {"destination_workload": "orchestrator",
                            "destination_workload_namespace": "voicehive"}, "value": "NaN"},
            ]
        elif promql == MTLS_FAILURES:
            result = [{"metric": {"destination_service_name": name,
                                  "destination_workload_namespace": "voicehive"},
                       "value": value} for name, value in failing.items()]
        elif promql == PLAINTEXT:
            result = []
        else:
            raise ValueError(f"unexpected query {promql}")
        return {"resultType": "vector", "result": result}
    return provider


async def test_series_through_the_api_proxy_and_the_mtls_p0(
        drill_server: DrillServerThread, cluster: Cluster, record: Record) -> None:
    drill_server.state.metrics_provider = metrics({"tts-router": "0.5", "billing": "0.25"})
    monitor = TrafficMonitor(PrometheusClient(cluster=cluster), record, interval_seconds=0.05)
    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(TrafficSample)) >= 3)
    await running.stop()

    sample = running.of(TrafficSample)[0]
    assert sample.received_bytes == {"voicehive/tts-router": 1234.5}  # NaN dropped
    assert sample.mtls_failures == {"voicehive/tts-router": 0.5, "voicehive/billing": 0.25}
    assert monitor.received.of("voicehive/tts-router")[:3] == [1234.5] * 3
    (batch,) = running.of(AlertBatch)  # once, then quiet for the cooldown
    (alert,) = batch.alerts
    assert (alert.classification.severity, alert.classification.category) == (
        "P0", "mesh-mtls-failure")
    (row,) = record.query("SELECT rule, severity, output FROM alerts")
    assert row[0] == "Service mesh mTLS failures affecting multiple services"
    assert row[1] == "P0"
    assert "services=voicehive/billing,voicehive/tts-router" in row[2]
    assert running.health("traffic")[0].state == "connected"


async def test_one_failing_service_is_not_the_p0(drill_server: DrillServerThread,
                                                 cluster: Cluster, record: Record) -> None:
    drill_server.state.metrics_provider = metrics({"tts-router": "0.5", "billing": "0"})
    monitor = TrafficMonitor(PrometheusClient(cluster=cluster), record, interval_seconds=0.05)
    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(TrafficSample)) >= 2)
    await running.stop()
    assert running.of(AlertBatch) == []
    assert record.alerts.count() == 0


async def test_direct_url_and_prometheus_errors(drill_server: DrillServerThread,
                                                cluster: Cluster, kubectl_proxy: str) -> None:
    # A URL with no credentials of its own: the drill's Prometheus through `kubectl proxy`.
    direct = PrometheusClient(url=kubectl_proxy + PROMETHEUS_PROXY_PATH)
    running = RunningSource(TrafficMonitor(direct, interval_seconds=0.05).run)
    await eventually(lambda: bool(running.health("traffic")))
    drill_server.state.metrics_provider = metrics({})
    await eventually(lambda: running.health("traffic")[-1].state == "connected")
    await running.stop()
    assert running.health("traffic")[0].state == "retrying"  # no provider yet: 503

    drill_server.state.delete("v1", "Service", "monitoring", "prometheus")
    proxied = RunningSource(TrafficMonitor(PrometheusClient(cluster=cluster),
                                           interval_seconds=0.05).run)
    await eventually(lambda: bool(proxied.health("traffic")))
    await proxied.stop()
    assert proxied.health("traffic")[0].state == "absent"


class DrillPrometheus:
    """The drill's simulated Prometheus, asked at the drill clock's now."""

    def __init__(self, engine: Any, at: float) -> None:
        self.engine, self.at = engine, at
        self.where = "the drill's Prometheus"

    async def query(self, promql: str) -> Any:
        return self.engine.metrics(promql, self.at)


async def test_traffic_leaving_the_mesh_is_named_by_its_source_not_unknown(
    drill_factory: DrillFactory, manual_clock: ManualClock
) -> None:
    """Istio labels TCP traffic to no workload it knows (PassthroughCluster) with `unknown`
    for every destination label: the Mesh pane's row read "unknown/unknown"."""
    drill = await drill_factory("dns-exfiltration", clock=manual_clock, speed=1)
    await drill.play()
    prometheus = DrillPrometheus(drill.engine, manual_clock.now().timestamp())
    sample = await TrafficMonitor(prometheus).sample()  # type: ignore[arg-type]
    assert sample.received_bytes
    assert not any("unknown" in key for key in sample.received_bytes), sample.received_bytes
    assert "voicehive/orchestrator \N{RIGHTWARDS ARROW} outside the mesh" in sample.received_bytes


def test_a_route_both_sidecars_report_is_counted_once() -> None:
    def series(reporter: str, value: str) -> dict[str, Any]:
        return {"metric": {"reporter": reporter, "source_workload": "api-gateway",
                           "source_workload_namespace": "voicehive",
                           "destination_workload": "orchestrator",
                           "destination_workload_namespace": "voicehive",
                           "destination_service_name": "orchestrator"},
                "value": [1, value]}
    data = {"resultType": "vector", "result": [series("source", "100"),
                                               series("destination", "98")]}
    assert received_by_route(data) == {"voicehive/orchestrator": 98.0}
