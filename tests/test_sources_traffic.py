"""Traffic from the drill cluster's Prometheus: series, string values, the mTLS-failure P0,
the calls the mesh refuses."""

from __future__ import annotations

from typing import Any

from actions.drill.clock import ManualClock
from actions.drill.server import PROMETHEUS_PROXY_PATH, DrillServerThread
from actions.kube.cluster import Cluster
from actions.runbook.own_changes import mesh_denied_workloads, quarantined_workloads
from actions.sources.batches import AlertBatch
from actions.sources.traffic import (
    DENIALS,
    MTLS_FAILURES,
    MTLS_FAILURES_BY_SOURCE,
    PLAINTEXT,
    TCP_RECEIVED,
    Denial,
    PrometheusClient,
    TrafficMonitor,
    TrafficSample,
    received_by_route,
)
from store import Record
from store.alert_links import AlertSubject, row_subject
from tests.plugins.drill_scenarios import DRILL_START, DrillFactory
from tests.sources_helpers import RunningSource, eventually


def metrics(failing: dict[str, str], callers: dict[str, list[str]] | None = None,
            refused: dict[tuple[str, str], str] | None = None) -> Any:
    """Prometheus' answers: `failing` service -> failures/s; `callers`: service -> the
    workloads whose sidecars report its failures (each at the service's rate); `refused`:
    (caller, callee) -> 403s/s the callee's sidecar answered."""
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
        elif promql == MTLS_FAILURES_BY_SOURCE:
            result = [{"metric": {"source_workload": caller, "destination_service_name": name,
                                  "destination_workload_namespace": "voicehive"},
                       "value": value}
                      for name, value in failing.items()
                      for caller in (callers or {}).get(name, ["api-gateway"])]
        elif promql == DENIALS:
            result = [{"metric": {"source_workload": caller,
                                  "source_workload_namespace": "voicehive",
                                  "destination_workload": callee,
                                  "destination_workload_namespace": "voicehive"},
                       "value": value} for (caller, callee), value in (refused or {}).items()]
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


async def test_a_quarantines_own_failures_are_expected_not_a_p0(
        drill_server: DrillServerThread, cluster: Cluster, record: Record) -> None:
    """orchestrator quarantined by an open incident: its callers and its own calls fail (as on
    a real cluster). Not the P0: a P3 on that incident saying so. Another service's failures
    still count."""
    incident = record.incidents.open("DNS tunnel", severity="P0")
    record.actions.intent(incident.id, "isolate", "orchestrator", actor="alice")
    drill_server.state.metrics_provider = metrics(
        {"booking-service": "0.5", "orchestrator": "0.7", "tts-router": "0.4"},
        {"booking-service": ["orchestrator"], "orchestrator": ["booking-service"],
         "tts-router": ["orchestrator"]})
    monitor = TrafficMonitor(PrometheusClient(cluster=cluster), record, interval_seconds=0.05,
                             quarantined=lambda: quarantined_workloads(record))
    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(TrafficSample)) >= 3)
    await running.stop()
    (batch,) = running.of(AlertBatch)
    (alert,) = batch.alerts
    assert alert.classification.severity == "P3"
    (row,) = record.query("SELECT rule, severity, output, incident_id FROM alerts")
    assert row[0] == "Service mesh failures expected from an incident's quarantine"
    assert row[3] == incident.id
    assert f"voicehive/tts-router: expected: quarantined by {incident.id}" in row[2]

    # billing and payments fail for their own reasons: that is the P0, naming only them.
    drill_server.state.metrics_provider = metrics(
        {"orchestrator": "0.7", "billing": "0.3", "payments": "0.2"},
        {"orchestrator": ["booking-service"]})
    monitor = TrafficMonitor(PrometheusClient(cluster=cluster), record, interval_seconds=0.05,
                             quarantined=lambda: quarantined_workloads(record))
    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(TrafficSample)) >= 2)
    await running.stop()
    (p0,) = record.query("SELECT output FROM alerts WHERE severity = 'P0'")
    assert "services=voicehive/billing,voicehive/payments" in p0[0]


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


async def test_calls_the_mesh_refuses_are_a_p1_about_the_caller_once_per_cooldown(
        drill_server: DrillServerThread, cluster: Cluster, record: Record) -> None:
    """The runbook's "Authorization policy violations": pms-connector refused by
    booking-service's sidecar (403) is unauthorized inter-service communication, P1, about
    pms-connector (so later alerts about it link to the incident it proposes). A trickle
    below the threshold is not an alert."""
    drill_server.state.metrics_provider = metrics(
        {}, refused={("pms-connector", "booking-service"): "1.75",
                     ("api-gateway", "billing"): "0.01"})
    monitor = TrafficMonitor(PrometheusClient(cluster=cluster), record, interval_seconds=0.05)
    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(TrafficSample)) >= 3)
    await running.stop()
    assert running.of(TrafficSample)[0].denials == {
        Denial("voicehive", "pms-connector", "voicehive", "booking-service"): 1.75,
        Denial("voicehive", "api-gateway", "voicehive", "billing"): 0.01}
    (batch,) = running.of(AlertBatch)  # once, then quiet for the cooldown
    (alert,) = batch.alerts
    assert (alert.classification.severity, alert.classification.category) == (
        "P1", "unauthorized-inter-service")
    (row,) = record.query("SELECT rule, output, category, output_fields FROM alerts")
    assert row[0] == "Service mesh authorization denials"
    assert "caller=voicehive/pms-connector" in row[1]
    assert "callee=voicehive/booking-service" in row[1]
    assert row_subject(row[2], row[3]) == AlertSubject(
        "unauthorized-inter-service", "voicehive", "pms-connector")


async def test_refusals_an_incidents_mesh_deny_causes_are_expected_not_a_p1(
        drill_server: DrillServerThread, cluster: Cluster, record: Record) -> None:
    """booking-service cut off with mesh-deny by an open incident: its callers' 403s are that
    incident's containment working (a P3 on it); a refusal elsewhere is still the P1."""
    incident = record.incidents.open("Probing", severity="P1")
    record.actions.intent(incident.id, "mesh-deny", "booking-service", actor="alice")
    drill_server.state.metrics_provider = metrics(
        {}, refused={("orchestrator", "booking-service"): "2",
                     ("pms-connector", "tts-router"): "0.5"})
    monitor = TrafficMonitor(PrometheusClient(cluster=cluster), record, interval_seconds=0.05,
                             mesh_denied=lambda: mesh_denied_workloads(record))
    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(TrafficSample)) >= 2)
    await running.stop()
    rows = record.query("SELECT rule, severity, incident_id, output FROM alerts ORDER BY seq")
    assert [(rule, severity) for rule, severity, _, _ in rows] == [
        ("Service mesh refusals expected from an incident's mesh-deny", "P3"),
        ("Service mesh authorization denials", "P1")]
    assert rows[0][2] == incident.id
    assert f"expected=mesh-deny by {incident.id}" in rows[0][3]
    assert rows[1][2] is None
    assert "caller=voicehive/pms-connector" in rows[1][3]


async def test_the_drill_plays_the_mesh_refusing_the_pms_connector(
    drill_factory: DrillFactory, manual_clock: ManualClock
) -> None:
    """unauthorized-service-traffic: booking-service's AuthorizationPolicy admits only the
    gateway and the orchestrator, so the probing the connector starts at T+90 is refused."""
    drill = await drill_factory("unauthorized-service-traffic", clock=manual_clock, speed=1)
    await drill.play()  # the whole scenario: its metrics can be asked at any moment
    prometheus = DrillPrometheus(drill.engine, DRILL_START.timestamp() + 80)
    monitor = TrafficMonitor(prometheus)  # type: ignore[arg-type]
    assert monitor.denied_routes(await monitor.sample()) == []  # T+80: no probing yet
    prometheus.at += 70
    refused = monitor.denied_routes(await monitor.sample())
    assert Denial("voicehive", "pms-connector", "voicehive", "booking-service") in refused
