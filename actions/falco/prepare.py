"""Parsing, classifying and hashing a batch of Falco log lines: pure, safe in a worker process.

The Falco follower prepares batches here (in a process pool when it has
workers, else in a thread) and only chains and commits them itself, in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

from actions.falco.alert import FalcoAlert, RejectedLine
from actions.falco.classify import Classification, Classifier
from actions.falco.ingest import BatchPreparer, PreparedBatch
from actions.falco.orphans import exit_with_parent
from actions.falco.parse import parse_line
from store.alerts import ALERT_COLUMNS

_DEDUPE_KEY = ALERT_COLUMNS.index("dedupe_key")
_SEVERITY = ALERT_COLUMNS.index("severity")
_CATEGORY = ALERT_COLUMNS.index("category")
_MATCHED_BY = ALERT_COLUMNS.index("matched_by")
# What a FalcoAlert is rebuilt from: its row's columns, in the constructor's order ...
_ALERT_COLUMNS = itemgetter(*(ALERT_COLUMNS.index(name) for name in (
    "time", "time_ns", "rule", "priority", "source", "hostname", "tags", "output", "warnings")))
# ... and what the row does not hold (output_fields travels as itself: no JSON round trip).
_NOT_IN_ROW = attrgetter("output_fields", "form", "log_time", "log_prefix", "raw")


@dataclass
class PreparedLines:
    """One pod's lines of one batch: the record's rows, and the alerts they came from."""

    pod: str
    prepared: PreparedBatch
    alerts: list[FalcoAlert] = field(default_factory=list)
    """In the order of `prepared.values`."""
    rejected_reasons: list[str] = field(default_factory=list)

    def classifications(self) -> list[Classification]:
        """One Classification object per distinct outcome, shared (alerts repeat a lot)."""
        shared: dict[tuple[str, str, str], Classification] = {}
        out = []
        for row in self.prepared.values:
            key = (row[_SEVERITY], row[_CATEGORY], row[_MATCHED_BY])
            found = shared.get(key)
            if found is None:
                found = shared[key] = Classification(*key)
            out.append(found)
        return out

    def dedupe_keys(self) -> list[str]:
        """The alerts' dedupe keys as the rows carry them (hashing them again costs)."""
        return [row[_DEDUPE_KEY] for row in self.prepared.values]

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # From a worker process, the alerts travel as what their rows lack and are
        # rebuilt beside the rows: pickling them whole cost the worker 6.7 us an alert
        # and the follower's side 4.6 to unpickle, now 2.8 and 3.6 (bench/falco_follow.py
        # lines, tests/test_falco_prepare.py checks the alerts come back equal).
        return (_rebuilt, (self.pod, self.prepared, list(map(_NOT_IN_ROW, self.alerts)),
                           self.rejected_reasons))


def _rebuilt(pod: str, prepared: PreparedBatch,
             not_in_row: list[tuple[dict[str, object], str, str | None, str | None, bytes | None]],
             rejected_reasons: list[str]) -> PreparedLines:
    """`PreparedLines.__reduce__`'s other half: the alerts rebuilt from their rows."""
    tags_of: dict[str, tuple[str, ...]] = {}
    alerts = []
    for row, (output_fields, form, log_time, log_prefix, raw) in zip(
        prepared.values, not_in_row, strict=True
    ):
        time, time_ns, rule, priority, source, hostname, tags_json, output, warnings = (
            _ALERT_COLUMNS(row))
        tags = tags_of.get(tags_json)
        if tags is None:
            tags = tags_of[tags_json] = tuple(json.loads(tags_json))
        alerts.append(FalcoAlert(
            time, time_ns, rule, priority, source, hostname, tags, output, output_fields, form,
            tuple(json.loads(warnings)) if warnings else (), log_time, log_prefix, raw))
    return PreparedLines(pod, prepared, alerts, rejected_reasons)


_classifier: Classifier | None = None


def start_worker(classifier: Classifier) -> None:
    """Process-pool initializer: the classifier is sent once, not with every batch."""
    global _classifier
    exit_with_parent()
    _classifier = classifier


def prepare_lines(pod: str, origin: str, incident_id: str | None,
                  lines: list[tuple[int, bytes]], received_at: str,
                  classifier: Classifier | None = None) -> PreparedLines:
    """Parse, classify and hash `(line number, raw line)` pairs of one pod's log."""
    chosen = classifier or _classifier
    if chosen is None:
        raise RuntimeError("prepare_lines needs a classifier (start_worker not run)")
    parsed: list[tuple[int, FalcoAlert | RejectedLine | None]] = [
        (line_no, parse_line(raw)) for line_no, raw in lines
    ]
    preparer = BatchPreparer(chosen, incident_id=incident_id, origin=origin)
    result = PreparedLines(pod, preparer.prepare(parsed, received_at))
    for _, item in parsed:
        if isinstance(item, FalcoAlert):
            result.alerts.append(item)
        elif isinstance(item, RejectedLine):
            result.rejected_reasons.append(item.reason)
    return result
