"""CoreDNS query logs followed live, DNS tunneling detections recorded as alerts.

Follows `kubectl logs -n kube-system -l k8s-app=kube-dns` (every pod, resumed
like the Falco follower), feeds the queries to DnsTunnelDetector, and records
each detection as an alert in the record like a Falco one (rule "DNS
tunneling or exfiltration suspected", source `warroom-dns`, classified by
the same classifier: the runbook's P0 DNS category), with the queries that
triggered it stored as evidence.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from actions.falco.alert import FalcoAlert
from actions.falco.classify import Classifier
from actions.falco.ingest import BatchPreparer, BatchWriter
from actions.sources.batches import AlertBatch, RecordedAlert
from actions.sources.coredns_log import parse_query
from actions.sources.dns_detector import DnsDetection, DnsDetectorSettings, DnsTunnelDetector
from actions.sources.health import CONNECTED, STOPPED, HealthReporter
from actions.sources.podlogs import PodLogs
from actions.sources.recorder import session_incident
from store import Record
from store.incidents import SessionScope

RULE = "DNS tunneling or exfiltration suspected"
TAGS = ("T1048", "T1071.004", "dns", "exfiltration", "mitre_exfiltration", "warroom")
NO_QUERIES = ("; no query lines yet (CoreDNS logs queries only when its Corefile has the "
              "`log` plugin)")


def detection_alert(detection: DnsDetection, pod: str) -> FalcoAlert:
    """The detection as an alert shaped like Falco's JSON form."""
    time_text = detection.log_time or _iso_ns(detection.time_ns)
    output = (f"{RULE} | domain={detection.domain} client={detection.client} "
              f"signals={','.join(detection.signals)} queries_in_window={detection.queries}")
    return FalcoAlert(time=time_text, time_ns=detection.time_ns, rule=RULE, priority="Critical",
                      source="warroom-dns", hostname=pod, tags=TAGS, output=output,
                      output_fields=detection.to_dict(), form="json")


def _iso_ns(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


class CoreDnsSource:
    """`await CoreDnsSource(api, record, classifier).run(sink)`: detections as AlertBatch."""

    SOURCE = "dns"

    def __init__(self, api: Any, record: Record, classifier: Classifier, *,
                 namespace: str = "kube-system", selector: str = "k8s-app=kube-dns",
                 container: str | None = "coredns", incident_id: str | None = None,
                 settings: DnsDetectorSettings | None = None,
                 scope: SessionScope | None = None, **follow_options: Any) -> None:
        self.record = record
        self.classifier = classifier
        self.namespace = namespace
        self.incident_id = incident_id
        self.scope = scope or SessionScope()
        """Which open incidents are this session's: its evidence goes to the one there is."""
        self.detector = DnsTunnelDetector(settings)
        self.logs = PodLogs(api, namespace, [selector], what="CoreDNS pods",
                            container=container, **follow_options)
        self.detections: list[DnsDetection] = []

    async def run(self, sink: Callable[[object], None]) -> None:
        health = HealthReporter(self.SOURCE, sink)
        last: list[tuple[str, str]] = []

        def on_state(state: str, detail: str) -> None:
            last[:] = [(state, detail)]
            seen_any = self.detector.queries + self.detector.ignored > 0
            health.report(state, detail + ("" if seen_any or state != CONNECTED
                                           else NO_QUERIES))

        async def on_lines(pod: str, first_line_no: int, lines: list[bytes]) -> None:
            had_none = self.detector.queries + self.detector.ignored == 0
            found: list[DnsDetection] = []
            for line in lines:
                query = parse_query(line)
                if query is not None:
                    found += self.detector.observe(query, now_ns=time.time_ns())
            if had_none and last and self.detector.queries + self.detector.ignored:
                on_state(*last[0])  # the "no query lines" note goes away
            if found:
                self.detections += found
                sink(await asyncio.to_thread(self._record, pod, found))

        try:
            await self.logs.run(on_lines, on_state)
        finally:
            health.report(STOPPED, "stopped")

    def _record(self, pod: str, detections: list[DnsDetection]) -> AlertBatch:
        return record_detections(self.record, self.classifier, detections, hostname=pod,
                                 origin=f"coredns:{self.namespace}/{pod}",
                                 incident_id=self.incident_id, scope=self.scope)



def record_detections(record: Record, classifier: Classifier, detections: list[DnsDetection], *,
                      hostname: str, origin: str, incident_id: str | None,
                      scope: SessionScope | None = None) -> AlertBatch:
    """Record detections as alerts, and their queries as evidence (fresh ones only).

    The evidence goes to `incident_id`, else to the one open incident `scope` admits.
    """
    alerts = [detection_alert(d, hostname) for d in detections]
    preparer = BatchPreparer(classifier, incident_id=incident_id, origin=origin)
    prepared = preparer.prepare(list(enumerate(alerts, 1)), record.now())
    writer = BatchWriter(record, classifier, incident_id=incident_id)
    added = set(writer.write(prepared).accepted_keys)
    incident = session_incident(record, incident_id, scope or SessionScope())
    recorded = []
    for alert, detection in zip(alerts, detections, strict=True):
        fresh = alert.dedupe_key in added
        if fresh:
            added.discard(alert.dedupe_key)  # a second copy in the batch is not fresh
            evidence = {"detection": detection.to_dict(), "alert_dedupe_key": alert.dedupe_key,
                        "seen_by": origin}
            record.evidence.add(
                incident, f"dns-detection-{detection.domain}-{alert.time}.json",
                json.dumps(evidence, indent=2, ensure_ascii=True).encode(),
                source=origin, media_type="application/json")
        recorded.append(RecordedAlert(hostname, alert, classifier.classify(alert), fresh))
    return AlertBatch(recorded, [], record.clock(), time.time_ns(), writer.report.duplicates,
                      lines=len(alerts))
