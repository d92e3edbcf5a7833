"""Falco output into the record: read, parse, classify, hash, commit, in batches.

Used by `warroom ingest` for files and stdin, and by the live Falco follower.
Memory stays flat: only a few batches of lines are held at a time. Parsing,
classifying and hashing are CPU-bound and independent per line, so a large
input spreads them over worker processes; the chain links and the commits stay
in this process, in input order.
"""

from __future__ import annotations

import gc
import marshal
import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from actions.falco.alert import FalcoAlert, RejectedLine
from actions.falco.classify import Classification, Classifier
from actions.falco.fast_json import dumps_compact
from actions.falco.lines import iter_line_blocks, split_block
from actions.falco.orphans import exit_with_parent
from actions.falco.parse import parse_line
from store import Record
from store.alerts import ALERT_COLUMNS, DEDUPE_INDEX, BatchResult, rejected_row
from store.chain import scalar_row_hasher
from store.errors import RecordError
from store.record import WriteTransaction, bind_nulls_directly, stage_rows
from store.wording import counted

BATCH_LINES = (
    5_000  # one commit (and fsync) per batch: larger is faster, smaller loses less on a crash
)
# Blocks in the largest transaction (see BatchWriter.write_blocks): about 64 MiB of input.
COMMIT_BLOCKS_MAX = 16
# Blocks handed to workers but not yet written; bounds memory whatever the input size.
# Four, not two: the workers keep preparing while a commit waits for the disk (with two,
# the writing waited 10 us per alert for them, with four 4; peak RSS 175 -> 218 MiB).
IN_FLIGHT_PER_WORKER = 4
# Distinct tag lists remembered as JSON (rule files have few; a hostile stream, many).
_TAGS_CACHE_LIMIT = 4096
# Workers' niceness above the writing process (see _start_worker).
WORKER_NICENESS = 10
# Below this, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


SEVERITY_INDEX = ALERT_COLUMNS.index("severity")
# The columns `BatchPreparer.prepare` gives every row of a batch the same value.
SHARED_IN_A_BLOCK = ("incident_id", "origin", "received_at")


@dataclass
class IngestReport:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_duplicates: int = 0
    blank: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    incidents: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_duplicates": self.rejected_duplicates,
            "blank": self.blank,
            "by_severity": dict(sorted(self.by_severity.items())),
            "incidents": sorted(self.incidents),
        }


class IngestFailed(RecordError):
    """The record could not take a batch (disk full, I/O error); `report` counts what it holds.

    Every batch before the failing one is committed: lines 1..`report.read` are recorded.
    """

    def __init__(self, report: IngestReport, cause: Exception) -> None:
        super().__init__(
            f"{cause}; the record holds lines 1-{report.read} of the input "
            f"({counted(report.accepted, 'alert')}, {counted(report.rejected, 'rejected line')}), "
            "nothing of the lines after"
        )
        self.report = report
        self.cause = cause


@dataclass
class PreparedBatch:
    """Lines turned into record rows and content hashes, ready to be chained and committed."""

    values: list[tuple[Any, ...]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0
    blank: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    staged: bytes | None = None
    """The rows as a `store.record.stage_rows` database instead of `values` (then empty)."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Thousands of rows cross from a worker process at a time: marshal writes a block
        # of them in 3.0 us a row where pickle took 4.6, and reads it in 1.8 (2.1).
        fields = (self.values, self.hashes, self.rejected, self.read, self.blank)
        try:
            packed = marshal.dumps((*fields, dict(self.by_severity), self.staged))
        except ValueError:  # a type marshal does not write (none the preparer makes)
            return (PreparedBatch, (*fields, self.by_severity, self.staged))
        return (_unmarshalled, (packed,))

    def number_lines_after(self, lines_before: int) -> None:
        """Number the rejected lines as lines of the whole input, not of this batch alone.

        A worker prepares a block without knowing how many lines came before it.
        """
        if lines_before:
            for row in self.rejected:
                row["line_no"] += lines_before


def _unmarshalled(packed: bytes) -> PreparedBatch:
    """`PreparedBatch.__reduce__`'s other half (bytes from this program's own worker)."""
    values, hashes, rejected, read, blank, by_severity, staged = marshal.loads(packed)
    return PreparedBatch(values, hashes, rejected, read, blank, Counter(by_severity), staged)


def alert_values(
    alert: FalcoAlert,
    classification: Classification,
    *,
    incident_id: str | None,
    origin: str,
    received_at: str,
) -> tuple[Any, ...]:
    """The record's row for one alert, in `ALERT_COLUMNS` order (the hot path: no dict)."""
    return _values(
        alert, classification, incident_id, origin, received_at, dumps_compact(list(alert.tags))
    )


def _values(
    alert: FalcoAlert,
    classification: Classification,
    incident_id: str | None,
    origin: str,
    received_at: str,
    tags_json: str,
) -> tuple[Any, ...]:
    # Positional, and the tags' JSON given: this runs once per alert, a million times
    # for a large file, and a keyword argument or a repeated encoding costs here.
    return (
        incident_id,
        alert.dedupe_key,
        alert.time,
        alert.time_ns,
        alert.rule,
        alert.priority,
        alert.source,
        alert.hostname,
        tags_json,
        alert.output,
        dumps_compact(alert.output_fields),
        classification.severity,
        classification.category,
        classification.matched_by,
        origin,
        received_at,
        dumps_compact(list(alert.warnings)) if alert.warnings else None,
    )


def alert_row(
    alert: FalcoAlert,
    classification: Classification,
    *,
    incident_id: str | None,
    origin: str,
    received_at: str,
) -> dict[str, Any]:
    """The record's row for one alert (see store.schema.CHAINED_TABLES["alerts"])."""
    values = alert_values(
        alert, classification, incident_id=incident_id, origin=origin, received_at=received_at
    )
    return dict(zip(ALERT_COLUMNS, values, strict=True))


class BatchPreparer:
    """Turns parsed lines into a PreparedBatch (pure: no record, safe in a worker process)."""

    def __init__(self, classifier: Classifier, *, incident_id: str | None, origin: str) -> None:
        self.classifier = classifier
        self.incident_id = incident_id
        self.origin = origin
        self._tags_json: dict[tuple[str, ...], str] = {}
        # Every value of a row `_values` builds is a str, an int or None.
        self._hash_row = scalar_row_hasher("alerts", ALERT_COLUMNS)

    def prepare(
        self,
        parsed_lines: Iterable[tuple[int, FalcoAlert | RejectedLine | None]],
        received_at: str,
    ) -> PreparedBatch:
        batch = PreparedBatch()
        values, hashes, severities = batch.values, batch.hashes, []
        classify, incident_id, origin = self.classifier.classify, self.incident_id, self.origin
        tags_json, hash_row = self._tags_json, self._hash_row
        for line_no, parsed in parsed_lines:
            batch.read += 1
            if isinstance(parsed, FalcoAlert):
                classification = classify(parsed)
                tags = tags_json.get(parsed.tags)
                if tags is None:
                    tags = self._remember_tags(parsed.tags)
                row = _values(parsed, classification, incident_id, origin, received_at, tags)
                values.append(row)
                hashes.append(hash_row(row))
                severities.append(classification.severity)
            elif parsed is None:
                batch.blank += 1
            else:
                batch.rejected.append(
                    rejected_row(
                        parsed.raw,
                        parsed.reason,
                        received_at=received_at,
                        origin=origin,
                        line_no=line_no,
                        raw_size=getattr(parsed.raw, "real_length", None),
                    )
                )
        batch.by_severity.update(severities)
        return batch

    def prepare_block(
        self, block: bytes, received_at: str, reference_date: date | None
    ) -> PreparedBatch:
        """Parse and prepare one block of `iter_line_blocks`; its lines are numbered from 1."""
        lines = split_block(block)
        parsed = [parse_line(raw, reference_date=reference_date) for raw in lines]
        return self.prepare(zip(range(1, len(lines) + 1), parsed, strict=True), received_at)

    def _remember_tags(self, tags: tuple[str, ...]) -> str:
        if len(self._tags_json) >= _TAGS_CACHE_LIMIT:
            self._tags_json.clear()
        encoded = self._tags_json[tags] = dumps_compact(list(tags))
        return encoded


def _recorded_severities(values: list[tuple[Any, ...]], recorded: frozenset[str]) -> Counter[str]:
    """The severities of the rows this batch recorded (not those the record already had):
    a repeated ingest said "0 alerts recorded (P0 7, P1 1)"."""
    counts: Counter[str] = Counter()
    left = set(recorded)
    for row in values:
        key = row[DEDUPE_INDEX]
        if key in left:  # a key repeated in the batch is recorded once, the first time
            left.discard(key)
            counts[row[SEVERITY_INDEX]] += 1
    return counts


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
        self.preparer = BatchPreparer(classifier, incident_id=incident_id, origin=origin)
        self.incident_id = incident_id
        self.report = IngestReport()
        self._pending: list[tuple[int, FalcoAlert | RejectedLine | None]] = []

    def add(self, parsed: FalcoAlert | RejectedLine | None, *, line_no: int) -> None:
        self._pending.append((line_no, parsed))

    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.write(self.preparer.prepare(pending, self.record.now()))

    def write(self, batch: PreparedBatch) -> BatchResult:
        """Chain and commit one prepared batch; the report counts what the record kept.

        Raises IngestFailed when the record cannot take it (nothing of it is kept).
        """
        if batch.values or batch.rejected:
            try:
                result = self.record.alerts.add_prepared(batch.values, batch.hashes, batch.rejected)
            except RecordError as error:
                raise IngestFailed(self.report, error) from error
        else:
            result = BatchResult(0, 0, 0)
        _count(self.report, batch, result, self.incident_id)
        return result

    def write_blocks(self, batches: Iterable[PreparedBatch]) -> None:
        """Chain and commit batches prepared from blocks of the input (each numbered from
        its line 1), several to a transaction: the first holds one block, each next one
        twice as many, up to `COMMIT_BLOCKS_MAX`.

        Each commit syncs the file and writes again every index page its blocks touched:
        a large input commits rarely (6 % less CPU for the writing at 200,000 alerts, and
        fewer waits for the disk), while a small one, or a crash or a full disk early in a
        large one, still finds its first block committed soon. The report counts only
        what was committed: IngestFailed carries it when the record cannot take a
        transaction (nothing of that one is kept).
        """
        batches, together = iter(batches), 1
        with self.record.staging_attached():
            while together:
                together = self._commit_together(batches, together)

    def _commit_together(self, batches: Iterator[PreparedBatch], together: int) -> int:
        """Write up to `together` batches in one transaction; how many the next may hold,
        0 when `batches` is exhausted."""
        uncommitted = IngestReport()
        finished = True
        try:
            with self.record.write() as txn:
                for taken, batch in enumerate(batches, 1):
                    batch.number_lines_after(self.report.read + uncommitted.read)
                    _count(uncommitted, batch, self._add(txn, batch), self.incident_id)
                    if taken == together:
                        finished = False
                        break
        except RecordError as error:
            raise IngestFailed(self.report, error) from error
        _add_counts(self.report, uncommitted)
        return 0 if finished else min(together * 2, COMMIT_BLOCKS_MAX)

    def _add(self, txn: WriteTransaction, batch: PreparedBatch) -> BatchResult:
        alerts = self.record.alerts
        if batch.staged is not None:
            # The keys serve only `_count` sorting out a batch with duplicates.
            result, values = alerts.add_staged_in(
                txn, batch.staged, batch.hashes, batch.rejected, with_accepted_keys=False
            )
            if values is not None:
                batch.values = values  # to count what was recorded of them
            return result
        if batch.values or batch.rejected:
            return alerts.add_prepared_in(txn, batch.values, batch.hashes, batch.rejected)
        return BatchResult(0, 0, 0)


def _count(
    report: IngestReport, batch: PreparedBatch, result: BatchResult, incident_id: str | None
) -> None:
    """Count into `report` what the record kept of `batch`."""
    report.read += batch.read
    report.blank += batch.blank
    report.by_severity.update(
        batch.by_severity if not result.duplicates  # all of it recorded: counted already
        else _recorded_severities(batch.values, result.accepted_keys)
    )
    report.accepted += result.accepted
    report.duplicates += result.duplicates
    report.rejected += result.rejected
    report.rejected_duplicates += result.rejected_duplicates
    if result.accepted and incident_id:
        report.incidents.add(incident_id)


def _add_counts(report: IngestReport, more: IngestReport) -> None:
    report.read += more.read
    report.accepted += more.accepted
    report.duplicates += more.duplicates
    report.rejected += more.rejected
    report.rejected_duplicates += more.rejected_duplicates
    report.blank += more.blank
    report.by_severity.update(more.by_severity)
    report.incidents |= more.incidents


def ingest_lines(
    writer: BatchWriter,
    lines: Iterable[bytes],
    *,
    reference_date: date | None = None,
    batch_lines: int = BATCH_LINES,
) -> IngestReport:
    """Parse and record lines in this process."""
    for line_no, raw in enumerate(lines, 1):
        writer.add(parse_line(raw, reference_date=reference_date), line_no=line_no)
        if writer.pending() >= batch_lines:
            writer.flush()
    writer.flush()
    return writer.report


def ingest_blocks(
    writer: BatchWriter, blocks: Iterable[bytes], *, reference_date: date | None = None
) -> IngestReport:
    """Prepare and record blocks of `iter_line_blocks` in this process (`write_blocks`)."""
    preparer, now = writer.preparer, writer.record.now
    writer.write_blocks(preparer.prepare_block(block, now(), reference_date) for block in blocks)
    return writer.report


# Worker-process state, set once per worker by `_start_worker`.
_worker: tuple[BatchPreparer, date | None] | None = None


def _start_worker(
    classification_file: Path | None,
    incident_id: str | None,
    origin: str,
    reference_date: date | None,
) -> None:
    global _worker
    exit_with_parent()
    # The writing in the parent cannot be spread and sets the pace: when the workers
    # and it want more CPU than there are cores, it goes first, and the workers
    # take what it leaves.
    os.nice(WORKER_NICENESS)
    bind_nulls_directly()
    preparer = BatchPreparer(
        Classifier.load(classification_file), incident_id=incident_id, origin=origin
    )
    _worker = (preparer, reference_date)


def _prepare_block(block: bytes, received_at: str) -> PreparedBatch:
    assert _worker is not None, "worker not initialised"
    preparer, reference_date = _worker
    with _collector_paused():
        batch = preparer.prepare_block(block, received_at, reference_date)
        # The writing process, which sets the pace, then copies the rows in SQLite
        # (6 us an alert less for it) instead of binding each value from Python.
        batch.staged = (
            stage_rows("alerts", batch.values, shared=SHARED_IN_A_BLOCK) if batch.values else None
        )
        if batch.staged is not None:
            batch.values = []
        return batch


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cycle collection while blocks are prepared and written: each line allocates a
    few containers, none in a cycle, all kept until its batch is written, and the
    collections they set off cost 7 % of the preparation (and 4 % of the writing)
    without finding anything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def ingest_parallel(
    writer: BatchWriter,
    stream: BinaryIO,
    *,
    workers: int,
    classification_file: Path | None = None,
    reference_date: date | None = None,
) -> IngestReport:
    """Split, parse, classify and hash blocks of lines in worker processes; chain and commit
    each block here, in input order, several blocks to a transaction (`write_blocks`).

    This process only reads blocks and writes rows, so that the writing (the part
    that cannot be spread) is never kept waiting by the rest.
    """
    init_args = (classification_file, writer.incident_id, writer.preparer.origin, reference_date)
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=init_args) as pool:
        writer.write_blocks(_prepared_in_order(pool, stream, writer.record, workers))
    return writer.report


def _prepared_in_order(
    pool: ProcessPoolExecutor, stream: BinaryIO, record: Record, workers: int
) -> Iterator[PreparedBatch]:
    """The stream's blocks prepared by the pool, in input order, a few ahead of the caller."""
    in_flight: deque[Future[PreparedBatch]] = deque()
    for block in iter_line_blocks(stream):
        in_flight.append(pool.submit(_prepare_block, block, record.now()))
        if len(in_flight) >= workers * IN_FLIGHT_PER_WORKER:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


def ingest_stream(
    record: Record,
    stream: BinaryIO,
    *,
    classification_file: Path | None = None,
    incident_id: str | None = None,
    origin: str = "falco",
    reference_date: date | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Record everything in `stream`. `workers=None` decides by the input's size."""
    classifier = Classifier.load(classification_file)
    writer = BatchWriter(record, classifier, incident_id=incident_id, origin=origin)
    if workers is None:
        workers = _workers_for(stream)
    with _collector_paused():
        if workers <= 1:
            return ingest_blocks(writer, iter_line_blocks(stream), reference_date=reference_date)
        return ingest_parallel(
            writer,
            stream,
            workers=workers,
            classification_file=classification_file,
            reference_date=reference_date,
        )


def _workers_for(stream: BinaryIO) -> int:
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        size = 0
    is_pipe = size == 0  # stdin from a pipe: unknown length, may be large
    if (size < PARALLEL_MIN_BYTES and not is_pipe) or (os.cpu_count() or 1) < 2:
        return 1
    return os.cpu_count() or 1
