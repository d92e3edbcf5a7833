"""Parsing, classifying and hashing a batch of Falco log lines: pure, safe in a worker process.

The Falco follower prepares batches here (in a process pool when it has
workers, else in a thread) and only chains and commits them itself, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
