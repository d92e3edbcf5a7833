"""warroom's own detections recorded as alerts, like a Falco one: the traffic and mesh sources'.

`record_alert(record, ...)` writes one alert through the ingest path (audit
chain, dedupe) and returns the `AlertBatch` the incident detector and the
console take, so a P0 found by warroom proposes an incident as Falco's do.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from actions.falco.alert import FalcoAlert
from actions.falco.classify import Classification
from actions.falco.ingest import BatchPreparer, BatchWriter
from actions.sources.batches import AlertBatch, RecordedAlert
from store import Record


class FixedClassifier:
    """Classifies every alert it is given the same way (warroom's own detections)."""

    def __init__(self, classification: Classification) -> None:
        self.classification = classification

    def classify(self, _alert: FalcoAlert) -> Classification:
        return self.classification


def alert_output(rule: str, details: dict[str, Any]) -> str:
    """The alert's output line: the rule, then `key=value` (JSON for what is not text)."""
    text = " ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value, sort_keys=True)}"
        for key, value in details.items()
    )
    return f"{rule} | {text}"


def record_alert(
    record: Record,
    *,
    at: float,
    rule: str,
    classification: Classification,
    source: str,
    origin: str,
    tags: tuple[str, ...],
    details: dict[str, Any],
    fields: dict[str, Any] | None = None,
    incident_id: str | None = None,
) -> AlertBatch:
    """Record one warroom alert at unix time `at`.

    Its output is the rule then `key=value` for each of `details` (JSON for non-text);
    its output_fields are `fields` (default: the details).
    """
    time_ns = int(at * 1_000_000_000)
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    alert = FalcoAlert(
        time=f"{stamp}.{nanos:09d}Z", time_ns=time_ns, rule=rule, priority="Critical",
        source=source, hostname=None, tags=tags, output=alert_output(rule, details),
        output_fields=dict(fields if fields is not None else details), form="json")
    classifier = FixedClassifier(classification)
    prepared = BatchPreparer(classifier,  # type: ignore[arg-type]
                             incident_id=incident_id, origin=origin
                             ).prepare([(1, alert)], record.now())
    writer = BatchWriter(record, classifier, incident_id=incident_id)  # type: ignore[arg-type]
    writer.write(prepared)
    return AlertBatch([RecordedAlert(origin, alert, classification,
                                     writer.report.accepted == 1)],
                      [], record.clock(), time.time_ns(), writer.report.duplicates, lines=1)
