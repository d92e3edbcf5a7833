"""Mesh traffic from Prometheus, as series for sparklines, and the mTLS-failure P0.

Polls Prometheus' instant query API (a configured URL over httpx, else
through the API server's service proxy) for:

- `rate(istio_tcp_received_bytes_total[5m])` per destination workload, and per
  source for traffic leaving the mesh (whose destination labels are all `unknown`);
- requests failing as mTLS failures do (503 with Envoy's upstream-failure
  flags `UF`/`URX`, reported by the client's sidecar) per destination service;
- plaintext requests reaching sidecars (`connection_security_policy="none"`);
- requests the destination's sidecar refused with 403, per caller and callee: what an
  AuthorizationPolicy denial looks like (Envoy's RBAC filter answers "403 RBAC: access
  denied" and sets no response flag of its own), also an application's own 403s.

Values arrive as strings (`"12.5"`, `"NaN"`, `"+Inf"`), series in no
particular order (formats.md 5). When mTLS failures hit two services or more
at once, the runbook's P0 "mTLS failures affecting multiple services" is
recorded as an alert, like a Falco one, once per cooldown.

A workload an open incident quarantined is cut off on purpose: its callers'
sidecars answer 503 UF/URX for it, and its own calls fail the same way, as on
a real cluster. Failures from or to a quarantined workload are the incident's
own containment, not a new incident: they are recorded once per cooldown as a
P3 linked to that incident ("expected: quarantined by NSI-..."), and only the
services failing for another reason count toward the P0.

Refused calls are the runbook's "Authorization policy violations" (a mesh detection
source): a caller refused at a rate of `denial_min_rate` or more is recorded as a P1
"unauthorized-inter-service" alert about the caller, once per caller and callee per
cooldown. Refusals to a workload an open incident's mesh-deny cut off are that
incident's own containment: a P3 linked to it, as for a quarantine.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from actions.falco.classify import Classification
from actions.kube.cluster import Cluster, ClusterError
from actions.sources.batches import AlertBatch
from actions.sources.health import ABSENT, CONNECTED, FORBIDDEN, RETRYING, HealthReporter
from actions.sources.series import TrafficSeries
from actions.sources.warroom_alerts import record_alert
from store import Record
from store.wording import counted

# Per route, by reporter: traffic leaving the mesh (PassthroughCluster) has `unknown` for
# every destination label (istio/istio#23901, #24379: TCP passthrough sets only
# destination_service_name), so its row is named by its source; a route both proxies
# report (source and destination sidecars) is counted once, from the destination's side.
TCP_RECEIVED = ("sum by (reporter, source_workload, source_workload_namespace, "
                "destination_workload, destination_workload_namespace, destination_service_name) "
                "(rate(istio_tcp_received_bytes_total[5m]))")
UNKNOWN = "unknown"
OUTSIDE_THE_MESH = {"PassthroughCluster": "outside the mesh",
                    "BlackHoleCluster": "outside the mesh, refused (BlackHoleCluster)"}
MTLS_FAILURES = ('sum by (destination_service_name, destination_workload_namespace) '
                 '(rate(istio_requests_total{reporter="source",response_code="503",'
                 'response_flags=~".*(UF|URX).*"}[5m]))')
PLAINTEXT = ('sum by (destination_workload, destination_workload_namespace) '
             '(rate(istio_requests_total{reporter="destination",'
             'connection_security_policy="none"}[5m]))')
# The same failures by source workload too, to tell the ones a quarantine explains.
MTLS_FAILURES_BY_SOURCE = ('sum by (source_workload, destination_service_name, '
                           'destination_workload_namespace) '
                           '(rate(istio_requests_total{reporter="source",response_code="503",'
                           'response_flags=~".*(UF|URX).*"}[5m]))')
# Calls the destination's sidecar answered 403, per caller and callee (reporter="destination":
# the refusing proxy is the callee's; the caller's sidecar reports the same 403 again).
DENIALS = ('sum by (source_workload, source_workload_namespace, destination_workload, '
           'destination_workload_namespace) '
           '(rate(istio_requests_total{reporter="destination",response_code="403"}[5m]))')
DENIAL_LABELS = ("source_workload_namespace", "source_workload",
                 "destination_workload_namespace", "destination_workload")
DENIAL_RULE = "Service mesh authorization denials"
DENIAL_CLASSIFICATION = Classification("P1", "unauthorized-inter-service",
                                       "warroom traffic: calls the mesh refuses (403)")
MTLS_RULE = "Service mesh mTLS failures affecting multiple services"
EXPECTED_RULE = "Service mesh failures expected from an incident's quarantine"
EXPECTED_CLASSIFICATION = Classification("P3", "containment-effect",
                                         "warroom traffic: failures of a quarantined workload")
EXPECTED_DENIAL_RULE = "Service mesh refusals expected from an incident's mesh-deny"
EXPECTED_DENIAL_CLASSIFICATION = Classification(
    "P3", "containment-effect", "warroom traffic: refusals of a workload mesh-deny cut off")
MTLS_CLASSIFICATION = Classification("P0", "mesh-mtls-failure",
                                     "warroom traffic: mTLS failures on 2+ services")


class PrometheusError(Exception):
    """Prometheus could not be asked; `state` is the health it means."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True, slots=True)
class Denial:
    """A caller the callee's sidecar refuses (403), each side a namespace and a workload."""

    source_namespace: str
    source: str
    destination_namespace: str
    destination: str

    def __str__(self) -> str:
        return (f"{self.source_namespace}/{self.source} \N{RIGHTWARDS ARROW} "
                f"{self.destination_namespace}/{self.destination}")


def denials(data: Any) -> dict[Denial, float]:
    """DENIALS' answer as {Denial: refused calls/s}; a series without a caller is skipped
    (the alert is about the caller)."""
    result: dict[Denial, float] = {}
    for metric, value in _vector_samples(data):
        denial = Denial(*(str(metric.get(label) or UNKNOWN) for label in DENIAL_LABELS))
        if denial.source != UNKNOWN:
            result[denial] = result.get(denial, 0.0) + value
    return result


@dataclass(frozen=True, slots=True)
class TrafficSample:
    """One poll: per-workload bytes/s, per-service mTLS failures/s, per-workload plaintext/s,
    refused calls/s."""

    at: float
    received_bytes: dict[str, float]
    mtls_failures: dict[str, float]
    plaintext: dict[str, float]
    # "namespace/service/source workload" -> failures/s (to tell a quarantine's effects).
    mtls_by_source: dict[str, float] = field(default_factory=dict)
    # Refused calls/s, per caller and callee.
    denials: dict[Denial, float] = field(default_factory=dict)


def vector(data: Any, labels: tuple[str, ...]) -> dict[str, float]:
    """A Prometheus vector as {"label1/label2": value}; NaN and infinities dropped."""
    result: dict[str, float] = {}
    for metric, value in _vector_samples(data):
        key = "/".join(str(metric.get(label, UNKNOWN)) for label in reversed(labels))
        result[key] = result.get(key, 0.0) + value
    return result


def received_by_route(data: Any) -> dict[str, float]:
    """TCP_RECEIVED's answer as {"ns/workload": bytes/s} for workloads of the mesh, and
    {"ns/source -> outside the mesh": bytes/s} for traffic to no workload Istio knows."""
    routes: dict[tuple[str, str], float] = {}
    for sample in _vector_samples(data):
        metric, value = sample
        dest = metric.get("destination_workload", UNKNOWN)
        if dest != UNKNOWN:
            key = f"{metric.get('destination_workload_namespace', UNKNOWN)}/{dest}"
        else:
            where = str(metric.get("destination_service_name") or UNKNOWN)
            source = (f"{metric.get('source_workload_namespace', UNKNOWN)}/"
                      f"{metric.get('source_workload', UNKNOWN)}")
            key = f"{source} \N{RIGHTWARDS ARROW} {OUTSIDE_THE_MESH.get(where, where)}"
        reporter = str(metric.get("reporter", "source"))
        routes[(key, reporter)] = routes.get((key, reporter), 0.0) + value
    result: dict[str, float] = {}
    for (key, reporter), value in routes.items():
        if reporter == "destination" or (key, "destination") not in routes:
            result[key] = result.get(key, 0.0) + value
    return result


def _vector_samples(data: Any) -> list[tuple[dict[str, Any], float]]:
    """An instant vector's (labels, value) pairs; NaN and infinities dropped."""
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        raise PrometheusError(RETRYING, f"unexpected answer: {str(data)[:200]}")
    samples = []
    for sample in data.get("result") or []:
        metric = sample.get("metric") or {}
        try:
            value = float(sample["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if math.isnan(value) or math.isinf(value):
            continue
        samples.append((metric, value))
    return samples


class PrometheusClient:
    """Instant queries, at a URL or through the API server's service proxy."""

    def __init__(self, *, url: str | None = None, cluster: Cluster | None = None,
                 namespace: str = "monitoring", service: str = "prometheus", port: int = 9090,
                 timeout: float = 10.0) -> None:
        if url is None and cluster is None:
            raise ValueError("Prometheus needs a URL or a cluster to reach it through")
        self.url = url.rstrip("/") if url else None
        self.cluster = cluster
        self.namespace, self.service, self.port = namespace, service, port
        self.timeout = timeout
        self.where = self.url or f"service {namespace}/{service}:{port} (API proxy)"

    async def query(self, promql: str) -> Any:
        if self.url is not None:
            body = await self._direct(promql)
        else:
            body = await self._proxied(promql)
        try:
            answer = json.loads(body)
        except ValueError:
            raise PrometheusError(RETRYING, f"{self.where}: the answer is not JSON") from None
        if answer.get("status") != "success":
            raise PrometheusError(RETRYING, f"{self.where}: {answer.get('errorType')}: "
                                            f"{answer.get('error')}")
        return answer.get("data")

    async def _direct(self, promql: str) -> bytes:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(f"{self.url}/api/v1/query", params={"query": promql})
        except httpx.HTTPError as error:
            raise PrometheusError(RETRYING, f"{self.where}: {error}") from None
        if response.status_code in (401, 403):
            raise PrometheusError(FORBIDDEN, f"{self.where}: HTTP {response.status_code}")
        if response.status_code >= 400 and not response.content.startswith(b"{"):
            raise PrometheusError(RETRYING, f"{self.where}: HTTP {response.status_code}")
        return response.content

    async def _proxied(self, promql: str) -> bytes:
        assert self.cluster is not None
        try:
            return await self.cluster.service_proxy(
                self.namespace, f"{self.service}:{self.port}", "api/v1/query",
                query={"query": promql})
        except ClusterError as error:
            state = {"forbidden": FORBIDDEN, "unauthorized": FORBIDDEN,
                     "not-found": ABSENT}.get(error.cause, RETRYING)
            if "no endpoints" in error.message:
                state = ABSENT
            raise PrometheusError(state, error.message) from None


class TrafficMonitor:
    """`await TrafficMonitor(prometheus, record).run(sink)`: a TrafficSample every interval."""

    SOURCE = "traffic"

    def __init__(self, prometheus: PrometheusClient, record: Record | None = None, *,
                 interval_seconds: float = 15.0, mtls_services: int = 2,
                 mtls_min_rate: float = 0.05, cooldown_seconds: float = 600.0,
                 incident_id: str | None = None,
                 quarantined: Callable[[], dict[str, str]] | None = None,
                 denial_min_rate: float = 0.05,
                 mesh_denied: Callable[[], dict[str, str]] | None = None) -> None:
        self.prometheus = prometheus
        # Workloads open incidents quarantined -> the incident (read from the record).
        self.quarantined = quarantined
        # Workloads open incidents cut off with mesh-deny -> the incident.
        self.mesh_denied = mesh_denied
        self.denial_min_rate = denial_min_rate
        self._denial_quiet_until: dict[Denial, float] = {}
        self._expected_quiet_until = 0.0
        self.record = record
        self.interval_seconds = interval_seconds
        self.mtls_services = mtls_services
        self.mtls_min_rate = mtls_min_rate
        self.cooldown_seconds = cooldown_seconds
        self.incident_id = incident_id
        self.received = TrafficSeries()
        self.mtls = TrafficSeries()
        self._quiet_until = 0.0

    async def run(self, sink: Callable[[object], None]) -> None:
        health = HealthReporter(self.SOURCE, sink)
        while True:
            try:
                sample = await self.sample()
            except PrometheusError as error:
                health.report(error.state, str(error))
            else:
                health.report(CONNECTED, f"Prometheus at {self.prometheus.where}: "
                                         f"{counted(len(sample.received_bytes), 'traffic row')}")
                sink(sample)
                for batch in (await self._check_mtls(sample),
                              *await self._check_denials(sample)):
                    if batch is not None:
                        sink(batch)
            await asyncio.sleep(self.interval_seconds)

    async def sample(self) -> TrafficSample:
        received, failures, plaintext, by_source, refused = await asyncio.gather(
            self.prometheus.query(TCP_RECEIVED), self.prometheus.query(MTLS_FAILURES),
            self.prometheus.query(PLAINTEXT), self.prometheus.query(MTLS_FAILURES_BY_SOURCE),
            self.prometheus.query(DENIALS))
        sample = TrafficSample(
            at=time.time(),
            received_bytes=received_by_route(received),
            mtls_failures=vector(failures, ("destination_service_name",
                                            "destination_workload_namespace")),
            plaintext=vector(plaintext, ("destination_workload",
                                         "destination_workload_namespace")),
            mtls_by_source=vector(by_source, ("source_workload", "destination_service_name",
                                              "destination_workload_namespace")),
            denials=denials(refused))
        self.received.add(sample.received_bytes)
        self.mtls.add(sample.mtls_failures)
        return sample

    def _explained(self, sample: TrafficSample, failing: list[str]) -> dict[str, str]:
        """Failing services whose every failure is from or to a quarantined workload ->
        "quarantined by NSI-..."."""
        quarantined = self.quarantined() if self.quarantined is not None else {}
        if not quarantined:
            return {}
        explained = {}
        for service in failing:
            namespace, _, name = service.partition("/")
            sources = [key.rsplit("/", 1)[-1] for key, rate in sample.mtls_by_source.items()
                       if key.rsplit("/", 1)[0] == service and rate > 0]
            why = {quarantined[w] for w in [name, *sources] if w in quarantined}
            if why and (name in quarantined or all(w in quarantined for w in sources)):
                explained[service] = "quarantined by " + ", ".join(sorted(why))
        return explained

    async def _check_mtls(self, sample: TrafficSample) -> AlertBatch | None:
        failing = sorted(s for s, rate in sample.mtls_failures.items()
                         if rate >= self.mtls_min_rate)
        explained = await asyncio.to_thread(self._explained, sample, failing) if failing else {}
        failing = [s for s in failing if s not in explained]
        if len(failing) < self.mtls_services or sample.at < self._quiet_until:
            if explained and sample.at >= self._expected_quiet_until and self.record:
                self._expected_quiet_until = sample.at + self.cooldown_seconds
                return await asyncio.to_thread(self._record_expected, sample, explained)
            return None
        self._quiet_until = sample.at + self.cooldown_seconds
        if self.record is None:
            return None
        return await asyncio.to_thread(self._record, sample, failing)

    def _record(self, sample: TrafficSample, failing: list[str]) -> AlertBatch:
        assert self.record is not None
        rates = {service: round(sample.mtls_failures[service], 3) for service in failing}
        return record_alert(
            self.record, at=sample.at, rule=MTLS_RULE, classification=MTLS_CLASSIFICATION,
            source="warroom-traffic", origin="prometheus", tags=("mesh", "mtls", "warroom"),
            details={"services": ",".join(failing), "failing_requests_per_second": rates},
            fields={"services": failing, "failure_rates": rates, "query": MTLS_FAILURES},
            incident_id=self.incident_id)

    def _record_expected(self, sample: TrafficSample, explained: dict[str, str]) -> AlertBatch:
        """The quarantine's own effect: a P3 on the incident that made it, never a proposal."""
        assert self.record is not None
        incidents = sorted({i for why in explained.values()
                            for i in why.removeprefix("quarantined by ").split(", ")})
        expected = "; ".join(f"{service}: expected: {why}" for service, why in explained.items())
        return record_alert(
            self.record, at=sample.at, rule=EXPECTED_RULE,
            classification=EXPECTED_CLASSIFICATION, source="warroom-traffic",
            origin="prometheus", tags=("mesh", "containment", "warroom"),
            details={"services": ",".join(explained), "expected": expected},
            fields={"services": list(explained), "expected": explained,
                    "query": MTLS_FAILURES_BY_SOURCE},
            incident_id=self.incident_id or incidents[0])

    def denied_routes(self, sample: TrafficSample) -> list[Denial]:
        """The callers refused often enough to count, whose cooldown has passed."""
        return sorted((d for d, rate in sample.denials.items()
                       if rate >= self.denial_min_rate
                       and sample.at >= self._denial_quiet_until.get(d, 0.0)), key=str)

    async def _check_denials(self, sample: TrafficSample) -> list[AlertBatch]:
        routes = self.denied_routes(sample)
        if not routes:
            return []
        for route in routes:
            self._denial_quiet_until[route] = sample.at + self.cooldown_seconds
        if self.record is None:
            return []
        return await asyncio.to_thread(self._record_denials, sample, routes)

    def _record_denials(self, sample: TrafficSample, routes: list[Denial]) -> list[AlertBatch]:
        """One alert per refused caller and callee: a P1 about the caller, or a P3 on the
        incident whose mesh-deny cut the callee off (its own containment)."""
        assert self.record is not None
        cut_off = self.mesh_denied() if self.mesh_denied is not None else {}
        batches = []
        for route in routes:
            rate = round(sample.denials[route], 3)
            fields = {"k8s.ns.name": route.source_namespace,
                      "k8s.deployment.name": route.source,
                      "destination_namespace": route.destination_namespace,
                      "destination_workload": route.destination,
                      "refused_requests_per_second": rate, "query": DENIALS}
            details: dict[str, Any] = {"caller": f"{route.source_namespace}/{route.source}",
                                       "callee": f"{route.destination_namespace}/"
                                                 f"{route.destination}",
                                       "refused_requests_per_second": rate}
            if (incident := cut_off.get(route.destination)) is not None:
                details["expected"] = f"mesh-deny by {incident}"
                batches.append(record_alert(
                    self.record, at=sample.at, rule=EXPECTED_DENIAL_RULE,
                    classification=EXPECTED_DENIAL_CLASSIFICATION, source="warroom-traffic",
                    origin="prometheus", tags=("mesh", "containment", "warroom"),
                    details=details, fields={**fields, "expected": details["expected"]},
                    incident_id=self.incident_id or incident))
                continue
            batches.append(record_alert(
                self.record, at=sample.at, rule=DENIAL_RULE,
                classification=DENIAL_CLASSIFICATION, source="warroom-traffic",
                origin="prometheus", tags=("mesh", "authorization", "warroom"),
                details=details, fields=fields, incident_id=self.incident_id))
        return batches
