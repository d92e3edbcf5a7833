"""The drill cluster's traffic: flows between pods and to outside addresses, and their counters.

Each flow has a wanted state (active, rates: set by the scenario and its
injects) and an effective state decided by the network and the mesh (see
`actions.policy.connection_verdict`). Every time either changes, the flow's current
segment is closed and a new one starts, so Istio's counters
(`istio_requests_total`, `istio_tcp_*`) can be computed exactly at any moment,
past or present, from the segments. Counter values are in real (wall) seconds.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from actions.drill.scenario import Flow, Scenario
from actions.policy import ClusterView, Endpoint, Verdict, connection_verdict

# How far back the counters of flows that run from the start reach, so
# rate(...[5m]) has history at the drill's first second.
HISTORY_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class FlowState:
    """What the flow does in one segment: rates as seen by Istio, and how requests end."""

    requests_per_second: float
    sent_bytes_per_second: float
    received_bytes_per_second: float
    response_code: str
    response_flags: str
    reporters: tuple[str, ...]
    connection_security_policy: str

    @property
    def flowing(self) -> bool:
        return (
            self.response_code in ("200", "")
            and self.requests_per_second + self.sent_bytes_per_second > 0
        )


@dataclass
class Segment:
    start: float
    end: float | None
    state: FlowState


@dataclass
class FlowRuntime:
    flow: Flow
    wanted_active: bool
    rates: dict[str, float]
    forced_code: str | None = None
    forced_flags: str | None = None
    verdict: Verdict = field(default_factory=lambda: Verdict.ok("not evaluated"))
    segments: list[Segment] = field(default_factory=list)
    ends: tuple[Endpoint, Endpoint] | None = None  # as last read from the cluster


@dataclass(frozen=True)
class FlowChange:
    """A flow started, stopped or changed how it ends, and why."""

    flow_id: str
    malicious: bool
    flowing: bool
    was_flowing: bool
    why: str
    blocked_by: str | None


class TrafficModel:
    """The flows of one scenario, re-evaluated whenever the cluster or an inject changes them."""

    def __init__(self, scenario: Scenario, view: ClusterView, get_pod: Any) -> None:
        self.scenario = scenario
        self.view = view
        self._get_pod = get_pod  # (namespace, name) -> the pod now running in its place, or None
        self._lock = threading.RLock()
        self.ended_drivers: set[str] = set()
        self._flows: dict[str, FlowRuntime] = {
            f.id: FlowRuntime(
                flow=f,
                wanted_active=f.active,
                rates={
                    "requests_per_second": f.requests_per_second,
                    "sent_bytes_per_second": f.sent_bytes_per_second,
                    "received_bytes_per_second": f.received_bytes_per_second,
                },
            )
            for f in scenario.flows
        }
        rng = random.Random(scenario.seed)
        self._history = {f.id: HISTORY_SECONDS * rng.uniform(0.6, 1.0) for f in scenario.flows}

    # ----- changes ----------------------------------------------------------------------

    def start(self, now: float) -> list[FlowChange]:
        """Open the first segments; flows active from the start get hours of history."""
        evaluated = self._evaluate_all()
        with self._lock:
            changes = []
            for flow_id, (state, verdict, ends) in evaluated.items():
                runtime = self._flows[flow_id]
                runtime.verdict, runtime.ends = verdict, ends
                begin = now - self._history[flow_id] if state.flowing else now
                runtime.segments = [Segment(begin, None, state)]
                changes.append(self._change(runtime, state.flowing, state.flowing))
            return changes

    def set_wanted(
        self,
        flow_id: str,
        now: float,
        *,
        active: bool | None = None,
        rates: dict[str, float] | None = None,
        response_code: str | None = None,
        response_flags: str | None = None,
    ) -> list[FlowChange]:
        with self._lock:
            runtime = self._flows[flow_id]
            if active is not None:
                runtime.wanted_active = active
            runtime.rates.update(rates or {})
            if response_code is not None:
                runtime.forced_code = response_code
            if response_flags is not None:
                runtime.forced_flags = response_flags
        return self.reevaluate(now)

    def end_drivers(self, drivers: set[str], now: float) -> list[FlowChange]:
        """These attack drivers have stopped for good: their flows stop with them."""
        self.ended_drivers |= drivers
        return self.reevaluate(now)

    def reevaluate(self, now: float) -> list[FlowChange]:
        """Recompute every flow against the cluster; close segments whose state changed.

        The cluster is read before this model's lock is taken and never while
        holding it: the cluster calls back into here under its own lock.
        """
        evaluated = self._evaluate_all()
        with self._lock:
            changes = []
            for flow_id, (state, verdict, ends) in evaluated.items():
                runtime = self._flows[flow_id]
                current = runtime.segments[-1] if runtime.segments else None
                was_flowing = bool(current and current.state.flowing)
                runtime.verdict, runtime.ends = verdict, ends
                if current is not None and current.state == state:
                    continue
                if current is not None:
                    current.end = now
                runtime.segments.append(Segment(now, None, state))
                if current is not None and (
                    was_flowing != state.flowing
                    or current.state.response_code != state.response_code
                ):
                    changes.append(self._change(runtime, state.flowing, was_flowing))
            return changes

    def _evaluate_all(self) -> dict[str, tuple[FlowState, Verdict, tuple[Endpoint, Endpoint]]]:
        return {flow_id: self._effective(runtime) for flow_id, runtime in list(self._flows.items())}

    def _change(self, runtime: FlowRuntime, flowing: bool, was_flowing: bool) -> FlowChange:
        return FlowChange(
            runtime.flow.id,
            runtime.flow.malicious,
            flowing,
            was_flowing,
            runtime.verdict.why,
            runtime.verdict.blocked_by,
        )

    # ----- evaluation ----------------------------------------------------------------------

    def endpoints(self, flow: Flow) -> tuple[Endpoint, Endpoint]:
        source_pod = self._get_pod(flow.source_namespace, flow.source_pod)
        source = Endpoint(ip=_pod_ip(source_pod), pod=source_pod)
        if flow.dest_pod:
            dest_pod = self._get_pod(flow.dest_namespace, flow.dest_pod)
            return source, Endpoint(ip=_pod_ip(dest_pod), pod=dest_pod)
        return source, Endpoint(ip=str(flow.dest_ip))

    def verdict_for(self, flow: Flow) -> Verdict:
        source, dest = self.endpoints(flow)
        if source.pod is None:
            return Verdict(
                False, f"pod {flow.source_namespace}/{flow.source_pod} is gone", None, "gone"
            )
        if flow.dest_pod and dest.pod is None:
            return Verdict(
                False, f"pod {flow.dest_namespace}/{flow.dest_pod} is gone", None, "gone"
            )
        return connection_verdict(
            self.view, self.scenario.mesh, source, dest, flow.port, "TCP", flow.protocol
        )

    def _effective(
        self, runtime: FlowRuntime
    ) -> tuple[FlowState, Verdict, tuple[Endpoint, Endpoint]]:
        flow = runtime.flow
        rates = dict(runtime.rates)
        source, dest = self.endpoints(flow)
        if not runtime.wanted_active or flow.driver in self.ended_drivers:
            why = (
                f"attack driver {flow.driver} has stopped"
                if runtime.wanted_active
                else "not started"
            )
            return _idle(), Verdict(False, why, None, "scenario"), (source, dest)
        verdict = self.verdict_for(flow)
        reporters = (
            tuple(
                name for name, end in (("source", source), ("destination", dest)) if end.has_sidecar
            )
            if self.scenario.mesh == "istio"
            else ()
        )
        security = "mutual_tls" if source.has_sidecar and dest.istio_mtls_ready else "none"
        code, flags = runtime.forced_code or "200", runtime.forced_flags or "-"
        if not verdict.allowed:
            if verdict.layer == "mesh-authz":
                code, flags = "403", "-"  # the server's sidecar answers "RBAC: access denied"
            elif verdict.layer in ("network", "mtls", "gone"):
                code, flags = "503", "UF,URX"
                reporters = tuple(r for r in reporters if r == "source")
            rates = {**rates, "sent_bytes_per_second": 0.0, "received_bytes_per_second": 0.0}
        state = FlowState(
            requests_per_second=rates["requests_per_second"],
            sent_bytes_per_second=rates["sent_bytes_per_second"],
            received_bytes_per_second=rates["received_bytes_per_second"],
            response_code=code,
            response_flags=flags,
            reporters=reporters,
            connection_security_policy=security,
        )
        return state, verdict, (source, dest)

    # ----- reading ----------------------------------------------------------------------

    def wanted(self, flow_id: str) -> bool:
        """Whether the scenario wants the flow running (its driver alive): an attempt is made."""
        with self._lock:
            runtime = self._flows[flow_id]
            return runtime.wanted_active and runtime.flow.driver not in self.ended_drivers

    def flowing(self, flow_id: str) -> bool:
        with self._lock:
            runtime = self._flows[flow_id]
            return bool(runtime.segments and runtime.segments[-1].state.flowing)

    def verdict(self, flow_id: str) -> Verdict:
        with self._lock:
            return self._flows[flow_id].verdict

    def flow_ids(self) -> list[str]:
        return list(self._flows)

    def series(self, at: float) -> list[tuple[str, dict[str, str], float]]:
        """Every Istio counter at unix time `at`: (metric name, labels, value)."""
        if self.scenario.mesh != "istio":
            return []
        totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        with self._lock:
            for runtime in self._flows.values():
                if runtime.ends is None:
                    continue
                source, dest = runtime.ends
                for segment in runtime.segments:
                    seconds = _overlap(segment, at)
                    if seconds <= 0:
                        continue
                    for name, labels, rate in _samples(runtime.flow, segment.state, source, dest):
                        key = (name, tuple(sorted(labels.items())))
                        totals[key] = totals.get(key, 0.0) + rate * seconds
        return [(name, dict(labels), float(int(value))) for (name, labels), value in totals.items()]


def _idle() -> FlowState:
    return FlowState(0.0, 0.0, 0.0, "", "-", (), "none")


def _pod_ip(pod: dict[str, Any] | None) -> str:
    return str(((pod or {}).get("status") or {}).get("podIP") or "0.0.0.0")


def _overlap(segment: Segment, at: float) -> float:
    end = at if segment.end is None else min(segment.end, at)
    return max(0.0, end - segment.start)


def _workload_labels(prefix: str, end: Endpoint) -> dict[str, str]:
    if end.pod is None:
        return {
            f"{prefix}_workload": "unknown",
            f"{prefix}_workload_namespace": "unknown",
            f"{prefix}_principal": "unknown",
            f"{prefix}_app": "unknown",
            f"{prefix}_version": "unknown",
            f"{prefix}_cluster": "unknown",
            f"{prefix}_canonical_service": "unknown",
            f"{prefix}_canonical_revision": "latest",
        }
    labels = end.labels
    app = labels.get("app", "unknown")
    owner = ((end.pod.get("metadata") or {}).get("ownerReferences") or [{}])[0].get("name", app)
    workload = owner.rsplit("-", 1)[0] if labels.get("pod-template-hash") else owner
    return {
        f"{prefix}_workload": workload,
        f"{prefix}_workload_namespace": str(end.namespace),
        f"{prefix}_principal": (
            f"spiffe://cluster.local/ns/{end.namespace}/sa/{end.service_account}"
            if end.has_sidecar
            else "unknown"
        ),
        f"{prefix}_app": app,
        f"{prefix}_version": labels.get("version", "unknown"),
        f"{prefix}_cluster": "Kubernetes",
        f"{prefix}_canonical_service": labels.get("service.istio.io/canonical-name", app),
        f"{prefix}_canonical_revision": labels.get("version", "latest"),
    }


def _target_labels(end: Endpoint) -> dict[str, str]:
    """Labels Prometheus adds from the scraped pod (Istio's sample config, honor_labels)."""
    pod = end.pod or {}
    labels = {
        "instance": f"{end.ip}:15020",
        "job": "kubernetes-pods",
        "namespace": str(end.namespace),
        "pod": end.name,
        "node": str((pod.get("spec") or {}).get("nodeName", "")),
    }
    for key, value in end.labels.items():
        labels[key.replace(".", "_").replace("/", "_").replace("-", "_")] = value
    return labels


def _samples(
    flow: Flow, state: FlowState, source: Endpoint, dest: Endpoint
) -> list[tuple[str, dict[str, str], float]]:
    if not state.reporters:
        return []
    if flow.dest_pod:
        service = f"{dest.labels.get('app', dest.name)}.{dest.namespace}.svc.cluster.local"
        dest_names = {
            "destination_service": service,
            "destination_service_name": dest.labels.get("app", dest.name),
            "destination_service_namespace": str(dest.namespace),
        }
    else:
        dest_names = {
            "destination_service": flow.dest_host or str(flow.dest_ip),
            "destination_service_name": "PassthroughCluster",
            "destination_service_namespace": "unknown",
        }
    samples = []
    for reporter in state.reporters:
        reporting = source if reporter == "source" else dest
        labels = {
            "reporter": reporter,
            **_workload_labels("source", source),
            **_workload_labels("destination", dest),
            **dest_names,
            "response_flags": state.response_flags,
            "connection_security_policy": (
                "unknown" if reporter == "source" else state.connection_security_policy
            ),
            **_target_labels(reporting),
        }
        if flow.protocol in ("http", "grpc"):
            request_labels = {
                **labels,
                "request_protocol": flow.protocol,
                "response_code": state.response_code or "200",
                "grpc_response_status": "0" if flow.protocol == "grpc" else "",
            }
            samples.append(("istio_requests_total", request_labels, state.requests_per_second))
        else:
            tcp = {**labels, "request_protocol": "tcp"}
            samples.append(("istio_tcp_connections_opened_total", tcp, state.requests_per_second))
            samples.append(("istio_tcp_sent_bytes_total", tcp, state.sent_bytes_per_second))
            samples.append(("istio_tcp_received_bytes_total", tcp, state.received_bytes_per_second))
    return samples
