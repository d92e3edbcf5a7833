"""Following every Falco pod's log at once, into the record, in batches.

Like `kubectl logs -f --timestamps` on every pod matching the selector (not
kubectl's 10 lines and 5 pods): the whole log of each pod, new pods picked up,
gone ones dropped, a broken stream resumed from `sinceTime` with the lines
already read dropped (see cursor.py), so nothing is lost or repeated. Lines
are parsed, classified and committed by `actions.falco.ingest.BatchWriter` on a
short timer or when a batch is full; the record's dedupe key makes a re-read
line (after a restart of warroom) a no-op.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from actions.falco.classify import Classifier
from actions.falco.ingest import BatchWriter, IngestFailed, PreparedBatch
from actions.falco.prepare import PreparedLines
from actions.sources.batches import AlertBatch, RecordedAlert, RejectedInfo
from actions.sources.health import (
    RETRYING,
    STOPPED,
    HealthReporter,
)
from actions.sources.line_preparer import LinePreparer, default_workers
from actions.sources.podlogs import PodLogs
from actions.sources.rates import AlertRates
from store import Record

Sink = Callable[[object], None]
# A batch the record could not take is tried again after this long, doubling up to the max.
WRITE_RETRY_FIRST, WRITE_RETRY_MAX = 1.0, 30.0
COMMIT_MAX_LINES = 10_000
"""Batches that waited are committed together up to about this many lines: the console's own
writes (a decision, an action) wait for the commit under way, a fraction of a second."""


@dataclass(frozen=True, slots=True)
class FalcoFollowerSettings:
    """Where the Falco pods are, and how the follower batches, backs off and bounds memory."""

    namespace: str = "falco-system"
    selector: str = "app=falco"
    fallback_selector: str | None = "app.kubernetes.io/name=falco"
    """Tried when `selector` matches no pod (the Helm chart's label)."""
    container: str | None = "falco"
    flush_seconds: float = 0.1
    """A batch is committed this long after its first line at the latest (the lag a line
    waits before it is parsed: with the parsing and the commit, under half a second) ..."""
    flush_lines: int = 2_000
    """... or as soon as it holds this many lines."""
    max_pending: int = 50_000
    """Lines read but not committed; beyond, reading waits (backpressure)."""
    backoff_first: float = 0.5
    backoff_max: float = 30.0
    gone_grace_seconds: float = 5.0
    relist_seconds: int = 60
    workers: int = field(default_factory=default_workers)
    """Processes that parse a busy batch (0: always a thread of this process); see
    line_preparer.py."""
    parallel_min_lines: int = 500
    """A batch of fewer lines is parsed in a thread of this process (shipping it costs more)."""
    stream_max_seconds: float = 600.0

    @property
    def selectors(self) -> list[str]:
        return [self.selector, *([self.fallback_selector] if self.fallback_selector else [])]


DEFAULT_SETTINGS = FalcoFollowerSettings()


class FalcoFollower:
    """`await FalcoFollower(api, record, classifier, settings).run(sink)` until cancelled.

    Once cancelled, it commits what it holds. `sink` receives `AlertBatch` after
    every commit and `SourceHealth` on every change of what the follower can see.
    `rates` holds the per-second series.
    """

    SOURCE = "falco"

    def __init__(
        self,
        api: Any,
        record: Record,
        classifier: Classifier,
        settings: FalcoFollowerSettings = DEFAULT_SETTINGS,
        *,
        incident_id: str | None = None,
    ) -> None:
        self.api = api
        self.record = record
        self.classifier = classifier
        self.settings = settings
        self.incident_id = incident_id
        self.rates = AlertRates()
        self.logs = PodLogs(
            api, settings.namespace, settings.selectors, what="Falco pods",
            container=settings.container, backoff_first=settings.backoff_first,
            backoff_max=settings.backoff_max, gone_grace_seconds=settings.gone_grace_seconds,
            relist_seconds=settings.relist_seconds, stream_max_seconds=settings.stream_max_seconds,
        )
        self._sink: Sink = lambda _item: None
        self._health: HealthReporter | None = None
        self._pending: dict[str, list[tuple[int, bytes]]] = {}
        self._pending_lines = 0
        self._full = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._inflight: asyncio.Future[AlertBatch] | None = None
        self._prepared: deque[asyncio.Future[list[PreparedLines]]] = deque()
        """Batches being prepared, oldest first: each leaves once prepared and written."""
        self._queued = asyncio.Event()
        self._queued_lines = 0
        self._preparer: LinePreparer | None = None
        self._write_thread: ThreadPoolExecutor | None = None

    @property
    def matched_selector(self) -> str | None:
        """Which selector found the Falco pods (the configured one or the fallback)."""
        return self.logs.matched_selector

    @property
    def pods(self) -> list[str]:
        return self.logs.pods

    @property
    def preparer(self) -> LinePreparer | None:
        """Where lines are parsed (a thread, or worker processes when busy); None until run."""
        return self._preparer

    @property
    def committing(self) -> bool:
        """Whether a commit to the record is under way."""
        return self._inflight is not None

    @property
    def lines_waiting(self) -> int:
        """Lines read and prepared, waiting for the commit under way (then committed as one)."""
        return sum(
            group.prepared.read
            for batch in self._prepared
            if batch.done() and not batch.cancelled() and batch.exception() is None
            for group in batch.result()
        )

    @property
    def reconnects(self) -> int:
        return self.logs.reconnects

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._health = HealthReporter(self.SOURCE, sink)
        self._preparer = LinePreparer(self.classifier, self.incident_id,
                                      workers=self.settings.workers,
                                      min_lines=self.settings.parallel_min_lines)
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="falco-write")
        following = asyncio.create_task(
            self.logs.run(self._enqueue, self._health.report), name="falco-logs")
        flusher = asyncio.create_task(self._flush_loop(), name="falco-flush")
        writer = asyncio.create_task(self._write_loop(), name="falco-write")
        try:
            # wait(), not gather(): gather would cancel the children itself when this task
            # is cancelled, and cancelling them again below would cut their cleanup short.
            done, _ = await asyncio.wait([following, flusher, writer],
                                         return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a bug in one of them: raise it
        finally:
            tasks = [following, flusher, writer]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._drain()
            self._preparer.shutdown()
            # A second cancel (the event loop closing) can cut _drain short: the commit
            # under way must still end before whoever owns the record closes it.
            self._write_thread.shutdown(wait=True)
            self._health.report(STOPPED, "stopped; every line read was recorded")

    async def _enqueue(self, pod: str, first_line_no: int, lines: list[bytes]) -> None:
        self._pending.setdefault(pod, []).extend(zip(itertools.count(first_line_no), lines))
        self._pending_lines += len(lines)
        if self._pending_lines >= self.settings.flush_lines:
            self._full.set()
        if self._pending_lines + self._queued_lines >= self.settings.max_pending:
            # Backpressure: stop reading until the record has caught up.
            self._room.clear()
            self._full.set()
            await self._room.wait()

    # ----- committing: prepare (parallel) then write (in order) ------------------------------

    async def _flush_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._full.wait(), self.settings.flush_seconds)
            except TimeoutError:
                pass
            self._full.clear()
            self._queue_pending()

    def _queue_pending(self) -> None:
        if not self._pending:
            return
        by_pod, self._pending = self._pending, {}
        self._queued_lines += self._pending_lines
        self._pending_lines = 0
        self._prepared.append(asyncio.ensure_future(self._prepare(by_pod)))
        self._queued.set()

    async def _prepare(self, by_pod: dict[str, list[tuple[int, bytes]]]) -> list[PreparedLines]:
        assert self._preparer is not None
        namespace = self.settings.namespace
        return await self._preparer.prepare(
            [(pod, f"falco:{namespace}/{pod}", lines) for pod, lines in by_pod.items()],
            self.record.now())

    async def _write_loop(self) -> None:
        while True:
            await self._queued.wait()
            await self._write_one(await self._next_groups())

    async def _next_groups(self) -> list[PreparedLines]:
        """The oldest batch's groups, and those of every batch behind it already prepared.

        One commit for all of them: a writer that fell behind (a busy machine, a
        slow disk, a record grown large) catches up with fewer, larger commits, each
        paying its fsync and its index pages once, instead of drifting further. The
        oldest stays queued until prepared (shielded): a stop meanwhile leaves it to
        _drain, not cancelled.
        """
        await asyncio.shield(self._prepared[0])
        groups: list[PreparedLines] = []
        lines = 0
        while self._prepared and self._prepared[0].done() and lines < COMMIT_MAX_LINES:
            batch = self._prepared.popleft().result()
            groups += batch
            lines += sum(group.prepared.read for group in batch)
        if not self._prepared:
            self._queued.clear()
        return groups

    async def _write_one(self, groups: list[PreparedLines], *, retry: bool = True) -> None:
        loop = asyncio.get_running_loop()
        delay = WRITE_RETRY_FIRST
        while True:
            self._inflight = asyncio.ensure_future(
                loop.run_in_executor(self._write_thread, self._write, groups))
            try:
                # Shielded: a commit under way when the follower is cancelled still
                # completes and is still reported (by _drain).
                batch = await asyncio.shield(self._inflight)
            except IngestFailed as failure:
                if not retry:
                    raise
                # The record cannot take the batch (disk full, I/O error): nothing of it
                # was committed. Say so and try the same lines again, reading no more
                # meanwhile (backpressure), so none is lost.
                self._inflight = None
                assert self._health is not None
                self._health.report(RETRYING, f"cannot write the record: {failure.cause}; "
                                              f"retrying in {delay:.0f} s, nothing lost")
                await asyncio.sleep(delay)
                delay = min(delay * 2, WRITE_RETRY_MAX)
                continue
            self._inflight = None
            self._deliver(batch)
            return

    async def _drain(self) -> None:
        """On stop: finish the commit under way, then commit everything read.

        A record that cannot take them now is said, not retried: the lines are
        still in the pods' logs, read again (and recorded once) on the next start.
        """
        try:
            if self._inflight is not None:
                batch = await self._inflight
                self._inflight = None
                self._deliver(batch)
            self._queue_pending()
            while self._prepared:
                await self._write_one(await self._next_groups(), retry=False)
        except IngestFailed as failure:
            assert self._health is not None
            self._health.report(RETRYING, f"cannot write the record: {failure.cause}; the "
                                          "lines not recorded are read again on the next start")

    def _deliver(self, batch: AlertBatch) -> None:
        self._queued_lines = max(0, self._queued_lines - batch.lines)
        if self._queued_lines + self._pending_lines < self.settings.max_pending:
            self._room.set()
        for item in batch.alerts:
            if item.fresh:
                self.rates.add(item.classification.severity,
                               item.alert.time_ns or batch.committed_ns)
        self._sink(batch)

    def _write(self, groups: list[PreparedLines]) -> AlertBatch:
        """Chain and commit one batch, all pods in one transaction (runs in a thread)."""
        merged = PreparedBatch()
        for group in groups:
            merged.values.extend(group.prepared.values)
            merged.hashes.extend(group.prepared.hashes)
            merged.rejected.extend(group.prepared.rejected)
            merged.read += group.prepared.read
            merged.blank += group.prepared.blank
            merged.by_severity.update(group.prepared.by_severity)
        writer = BatchWriter(self.record, self.classifier, incident_id=self.incident_id)
        fresh_keys = set(writer.write(merged).accepted_keys)
        committed_ns = time.time_ns()
        alerts: list[RecordedAlert] = []
        rejected: list[RejectedInfo] = []
        by_severity: dict[str, int] = {}
        for group in groups:
            for alert, classification, key in zip(group.alerts, group.classifications(),
                                                  group.dedupe_keys(), strict=True):
                fresh = key in fresh_keys
                fresh_keys.discard(key)  # a second copy in the batch is not fresh
                if fresh:
                    by_severity[classification.severity] = (
                        by_severity.get(classification.severity, 0) + 1)
                alerts.append(RecordedAlert(group.pod, alert, classification, fresh))
            for reason, row in zip(group.rejected_reasons, group.prepared.rejected, strict=True):
                rejected.append(RejectedInfo(group.pod, reason, int(row["raw_size"])))
        return AlertBatch(alerts, rejected, self.record.clock(), committed_ns,
                          writer.report.duplicates, by_severity, lines=merged.read)
