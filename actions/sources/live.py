"""Every live source of one cluster, wired together: what the console and `warroom watch` run.

`LiveSources(cluster, record, settings, classifier).run(sink)` runs them all
until cancelled. Each item a source produces is recorded (alerts by their
source; health changes, Warning events and drift on the timeline), handed
to `sink`, and shown to the incident detector, whose proposals go to `sink`
too; `accept`/`dismiss` them through `.detector`. A source that fails with a
bug reports it as its health ("stopped: failed ...") and the others go on.

`scope` (`store.incidents.SessionScope`) says which open incidents are this
session's: the detector proposes only while none is open, and the timeline
entries and evidence the sources record go to the one there is (`incident_id`,
when given, wins), never to another session's incident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from actions.falco.classify import Classification, Classifier
from actions.kube.cluster import Cluster
from actions.policy.drift import CONTAINED
from actions.runbook.own_changes import (
    mesh_denied_workloads,
    own_containment,
    quarantined_workloads,
)
from actions.sources.batches import AlertBatch
from actions.sources.detection import IncidentDetector
from actions.sources.dns_follower import CoreDnsSource
from actions.sources.falco_follower import FalcoFollower, FalcoFollowerSettings
from actions.sources.health import STOPPED, SourceHealth
from actions.sources.hubble import HubbleSource
from actions.sources.mesh import MeshMonitor
from actions.sources.policies import DriftReport, PolicyWatcher
from actions.sources.rates import AlertRates
from actions.sources.recorder import TimelineRecorder
from actions.sources.traffic import PrometheusClient, TrafficMonitor
from actions.sources.warning_events import WarningEvents
from actions.sources.warroom_alerts import alert_output, record_alert
from store import Record
from store.incidents import SessionScope

Sink = Callable[[object], None]
DRIFT_RULE = "Network policy configuration drift"
DRIFT_CLASSIFICATION = Classification("P2", "policy-drift", "warroom policies: drift from the "
                                      "desired-state file")
RunSource = Callable[[Sink], Coroutine[Any, Any, None]]


class LiveSources:
    """The Falco follower, events, policies and drift, DNS, mesh, traffic and Hubble."""

    def __init__(self, cluster: Cluster, record: Record, settings: Any, classifier: Classifier,
                 *, incident_id: str | None = None, hubble_file: Path | None = None,
                 kubeconfig: str | None = None, actor: str = "warroom",
                 scope: SessionScope | None = None) -> None:
        api, namespace = cluster.client, cluster.namespace
        scope = scope or SessionScope()
        self.record = record
        self.incident_id = incident_id
        self._recording: set[asyncio.Task[None]] = set()
        self.recorder = TimelineRecorder(record, incident_id=incident_id, scope=scope)
        self.detector = IncidentDetector(record, self._to_sink, wording=classifier.wording,
                                         actor=actor, context=cluster.context,
                                         namespace=namespace, scope=scope)
        self.falco = FalcoFollower(
            api, record, classifier,
            FalcoFollowerSettings(namespace=settings.falco.namespace,
                                  selector=settings.falco.selector,
                                  fallback_selector=settings.falco.fallback_selector),
            incident_id=incident_id)
        self.events = WarningEvents(api, namespace,
                                    already_seen=self.recorder.recorded_event_keys())
        self.policies = PolicyWatcher(api, namespace, settings.policies.desired_state_file,
                                      relist_seconds=settings.policies.relist_seconds,
                                      own=lambda: own_containment(record, namespace))
        self.dns = CoreDnsSource(api, record, classifier, namespace=settings.coredns.namespace,
                                 selector=settings.coredns.selector,
                                 container=settings.coredns.container, incident_id=incident_id,
                                 scope=scope)
        self.mesh = MeshMonitor(cluster, namespace, kubeconfig=kubeconfig,
                                interval_seconds=settings.mesh.interval_seconds,
                                record=record, incident_id=incident_id)
        self.traffic = TrafficMonitor(
            PrometheusClient(url=settings.prometheus.url, cluster=cluster,
                             namespace=settings.prometheus.namespace,
                             service=settings.prometheus.service, port=settings.prometheus.port),
            record, incident_id=incident_id,
            quarantined=lambda: quarantined_workloads(record),
            mesh_denied=lambda: mesh_denied_workloads(record),
            interval_seconds=settings.prometheus.interval_seconds)
        # --hubble-file wins over the configuration file's [hubble] file.
        self.hubble = HubbleSource(record, classifier, file=hubble_file or settings.hubble.file,
                                   incident_id=incident_id, scope=scope)
        self.rates = AlertRates()
        """Alerts a second per severity from every source (Falco, DNS, traffic, Hubble)."""
        self._sink: Sink = lambda _item: None

    @property
    def scope(self) -> SessionScope:
        """Which open incidents are this session's (see the module docstring)."""
        return self.detector.scope

    @scope.setter
    def scope(self, scope: SessionScope) -> None:
        for holder in (self.detector, self.recorder, self.dns, self.hubble):
            holder.scope = scope

    @property
    def sources(self) -> list[tuple[str, RunSource]]:
        return [("falco", self.falco.run), ("events", self.events.run),
                ("policies", self.policies.run), ("dns", self.dns.run),
                ("mesh", self.mesh.run), ("traffic", self.traffic.run),
                ("hubble", self.hubble.run)]

    def _to_sink(self, item: object) -> None:
        self._sink(item)

    def _handle(self, item: object) -> None:
        if isinstance(item, AlertBatch):
            for recorded in item.alerts:
                if recorded.fresh:
                    self.rates.add(recorded.classification.severity,
                                   recorded.alert.time_ns or item.committed_ns)
        self.recorder(item)
        self._sink(item)
        if self.incident_id is None:  # attached to an incident already: nothing to propose
            self.detector(item)
        if isinstance(item, DriftReport) and any(f.kind != CONTAINED for f in item.new):
            task = asyncio.get_running_loop().create_task(self._record_drift(item))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)

    async def _record_drift(self, report: DriftReport) -> None:
        """New drift is the runbook's P2: an alert in the record, which proposes an incident.

        Once per drift: the same findings already alerted (a restarted watch) add nothing.
        """
        findings = ", ".join(f"{f.name} ({f.kind})" for f in report.new if f.kind != CONTAINED)
        details = {"namespace": report.namespace, "policies": findings,
                   "desired_state": report.desired_file}

        def record() -> AlertBatch | None:
            seen = self.record.query("SELECT 1 FROM alerts WHERE rule = ? AND output = ? LIMIT 1",
                                     (DRIFT_RULE, alert_output(DRIFT_RULE, details)))
            if seen:
                return None
            return record_alert(
                self.record, at=time.time(), rule=DRIFT_RULE,
                classification=DRIFT_CLASSIFICATION, source="warroom-policies",
                origin="policies", tags=("network-policy", "drift", "warroom"),
                details=details, incident_id=self.incident_id)

        batch = await asyncio.to_thread(record)
        if batch is not None:
            self._handle(batch)

    async def run(self, sink: Sink) -> None:
        """Runs every source until cancelled; then each commits what it holds."""
        self._sink = sink
        tasks = [asyncio.create_task(self._guarded(name, run), name=f"source-{name}")
                 for name, run in self.sources]
        try:
            # wait(), not gather(): gather would cancel them itself on cancellation, and
            # cancelling again below would cut short the commit each does when stopping.
            await asyncio.wait(tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(self.detector.close)  # the last batches' links too

    async def _guarded(self, name: str, run: RunSource) -> None:
        try:
            await run(self._handle)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - one broken source must not stop the rest
            self._handle(SourceHealth(name, STOPPED, f"failed: {type(error).__name__}: {error}"))
