"""Falco output into the record: read, parse, classify, hash, commit, in batches.

Used by `warroom ingest` for files and stdin, and by the live Falco follower.
Memory stays flat: only one batch of lines is held at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from actions.falco.alert import FalcoAlert, RejectedLine
from actions.falco.classify import Classification, Classifier
from actions.falco.parse import iter_lines, parse_line
from store import Record
from store.alerts import ALERT_COLUMNS, rejected_row
from store.chain import content_hash

BATCH_LINES = 2_000


@dataclass
class IngestReport:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    blank: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    incidents: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "blank": self.blank,
            "by_severity": dict(sorted(self.by_severity.items())),
            "incidents": sorted(self.incidents),
        }


def alert_row(
    alert: FalcoAlert,
    classification: Classification,
    *,
    incident_id: str | None,
    origin: str,
    received_at: str,
) -> dict[str, Any]:
    """The record's row for one alert (see store.schema.CHAINED_TABLES["alerts"])."""
    return {
        "incident_id": incident_id,
        "dedupe_key": alert.dedupe_key,
        "time": alert.time,
        "time_ns": alert.time_ns,
        "rule": alert.rule,
        "priority": alert.priority,
        "source": alert.source,
        "hostname": alert.hostname,
        "tags": json.dumps(list(alert.tags), ensure_ascii=False),
        "output": alert.output,
        "output_fields": json.dumps(alert.output_fields, ensure_ascii=False, default=str),
        "severity": classification.severity,
        "category": classification.category,
        "matched_by": classification.matched_by,
        "origin": origin,
        "received_at": received_at,
        "warnings": json.dumps(list(alert.warnings), ensure_ascii=False) if alert.warnings else None,
    }


class BatchWriter:
    """Collects parsed lines and commits them to the record a batch at a time."""

    def __init__(
        self,
        record: Record,
        classifier: Classifier,
        *,
        incident_id: str | None = None,
        origin: str = "falco",
    ) -> None:
        self.record = record
        self.classifier = classifier
        self.incident_id = incident_id
        self.origin = origin
        self.report = IngestReport()
        self._values: list[tuple[Any, ...]] = []
        self._hashes: list[str] = []
        self._rejected: list[dict[str, Any]] = []

    def add(self, parsed: FalcoAlert | RejectedLine | None, *, line_no: int) -> None:
        self.report.read += 1
        if parsed is None:
            self.report.blank += 1
            return
        received_at = self.record.now()
        if isinstance(parsed, RejectedLine):
            self._rejected.append(
                rejected_row(
                    parsed.raw, parsed.reason, received_at=received_at, origin=self.origin,
                    line_no=line_no, raw_size=getattr(parsed, "raw_size", None),
                )
            )
            return
        classification = self.classifier.classify(parsed)
        row = alert_row(
            parsed, classification, incident_id=self.incident_id, origin=self.origin,
            received_at=received_at,
        )
        self.report.by_severity[classification.severity] += 1
        self._values.append(tuple(row[column] for column in ALERT_COLUMNS))
        self._hashes.append(content_hash("alerts", row))

    def pending(self) -> int:
        return len(self._values) + len(self._rejected)

    def flush(self) -> None:
        if not self.pending():
            return
        result = self.record.alerts.add_prepared(self._values, self._hashes, self._rejected)
        self.report.accepted += result.accepted
        self.report.duplicates += result.duplicates
        self.report.rejected += result.rejected
        if result.accepted and self.incident_id:
            self.report.incidents.add(self.incident_id)
        self._values, self._hashes, self._rejected = [], [], []


def ingest_lines(
    writer: BatchWriter,
    lines: Iterable[bytes],
    *,
    reference_date: date | None = None,
    batch_lines: int = BATCH_LINES,
) -> IngestReport:
    for line_no, raw in enumerate(lines, 1):
        writer.add(parse_line(raw, reference_date=reference_date), line_no=line_no)
        if writer.pending() >= batch_lines:
            writer.flush()
    writer.flush()
    return writer.report


def ingest_stream(
    record: Record,
    stream: BinaryIO,
    *,
    classifier: Classifier,
    incident_id: str | None = None,
    origin: str = "falco",
    reference_date: date | None = None,
) -> IngestReport:
    writer = BatchWriter(record, classifier, incident_id=incident_id, origin=origin)
    return ingest_lines(writer, iter_lines(stream), reference_date=reference_date)
