"""Where the Falco follower parses its lines: a thread, or a process once the pods get busy.

Parsing, classifying and hashing is most of what a line costs. A quiet
cluster's few lines are prepared in a thread of this process; a large batch
(a storm of alerts) goes to worker processes, so the event loop and the
commits keep a core of their own. Shipping a line to a worker and back costs
CPU too, which is why small batches stay in the thread.

Workers are spawned, never forked (the console has threads, and a fork would
copy their locks held), only when first needed, and used once they answer:
until then, and after a worker has died, batches are prepared in the thread,
so no batch waits on a starting process and none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing import resource_tracker

from actions.falco.classify import Classifier
from actions.falco.prepare import PreparedLines, prepare_lines, start_worker

LOG = logging.getLogger(__name__)

PodLines = tuple[str, str, list[tuple[int, bytes]]]
"""(pod, origin, its `(line number, raw line)` pairs) of one batch."""

WARM_UP_SHARE = 5
"""A batch of `min_lines / WARM_UP_SHARE` lines starts the workers, before they are used."""
WAIT_SECONDS = 0.01
"""How often a busy batch looks whether the thread or the workers became free."""
RESTART_AFTER_SECONDS = 30.0
"""After a worker process has died or would not start, batches stay in the thread this long."""


def default_workers() -> int:
    """One parse process where there is a second core for it, else none."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def _answer() -> bool:
    return True


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (once per process) with a real stderr.

    The tracker is handed the file descriptor of `sys.stderr`; inside the console,
    Textual's print capture stands there with fileno() -1, and starting the tracker
    (hence the pool) fails with "bad value(s) in fds_to_keep".
    """
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable or sys.__stderr__ is None:
        resource_tracker.ensure_running()
        return
    with contextlib.redirect_stderr(sys.__stderr__):
        resource_tracker.ensure_running()


class LinePreparer:
    """`await preparer.prepare(by_pod, received_at)`: each pod's lines parsed, in order."""

    def __init__(self, classifier: Classifier, incident_id: str | None, *, workers: int,
                 min_lines: int) -> None:
        self.classifier = classifier
        self.incident_id = incident_id
        self.workers = workers
        self.min_lines = min_lines
        """A batch of fewer lines is prepared in the thread."""
        self.in_processes = 0
        """Batches prepared by worker processes (the rest by the thread)."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="falco-prepare")
        self._thread_taken = asyncio.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False
        self._failed = False
        self._not_before = 0.0

    @property
    def workers_ready(self) -> bool:
        """Whether worker processes are up and answering (they start with the first busy batch)."""
        return self._ready and not self._failed

    async def prepare(self, by_pod: list[PodLines], received_at: str) -> list[PreparedLines]:
        lines = sum(len(pod_lines) for _, _, pod_lines in by_pod)
        if self.workers > 0 and lines >= self.min_lines // WARM_UP_SHARE:
            # Busier than a quiet cluster: start the workers now, so that they are up
            # (a second or two under load) by the time batches are large.
            self._pool_ready()
        busy = self.workers > 0 and lines >= self.min_lines
        while True:
            if busy and self._pool_ready():
                prepared = await self._in_processes(by_pod, received_at)
                if prepared is not None:
                    self.in_processes += 1
                    return prepared
                # A worker died (OOM-killed, killed by hand): this batch goes to the thread.
                LOG.warning("a Falco parse process died; parsing in the follower meanwhile")
                self._drop_pool()
            if not busy or not self._thread_taken.locked():
                async with self._thread_taken:
                    return await asyncio.get_running_loop().run_in_executor(
                        self._thread, self._prepare_here, by_pod, received_at)
            # A busy batch goes to whichever is free first, the thread or the starting
            # workers: queued behind the thread, it would stay there once they are up.
            await asyncio.sleep(WAIT_SECONDS)

    async def _in_processes(self, by_pod: list[PodLines],
                            received_at: str) -> list[PreparedLines] | None:
        """The pods' lines prepared by the workers; None if the pool broke."""
        pool = self._pool
        assert pool is not None
        loop = asyncio.get_running_loop()
        jobs: list[asyncio.Future[PreparedLines]] = []
        try:
            for pod, origin, pod_lines in by_pod:
                jobs.append(loop.run_in_executor(pool, partial(
                    prepare_lines, pod, origin, self.incident_id, pod_lines, received_at)))
        except BrokenProcessPool:
            await asyncio.gather(*jobs, return_exceptions=True)
            return None
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        prepared = [outcome for outcome in outcomes if isinstance(outcome, PreparedLines)]
        if len(prepared) == len(outcomes):
            return prepared
        for outcome in outcomes:
            if not isinstance(outcome, (PreparedLines, BrokenProcessPool)):
                raise outcome  # not the pool: a bug, as it would be in the thread
        return None

    def _prepare_here(self, by_pod: list[PodLines], received_at: str) -> list[PreparedLines]:
        return [prepare_lines(pod, origin, self.incident_id, pod_lines, received_at,
                              self.classifier) for pod, origin, pod_lines in by_pod]

    def _pool_ready(self) -> bool:
        """True once the workers answer; starts them the first time (not before a restart delay)."""
        if self._failed:
            self._failed = False
            self._drop_pool()
        if self._pool is None and time.monotonic() >= self._not_before:
            try:
                _start_resource_tracker()
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_worker, initargs=(self.classifier,))
                self._pool.submit(_answer).add_done_callback(self._on_answer)
            except (OSError, ValueError, RuntimeError) as error:
                # No process to be had (limits, no /dev/shm): the thread parses everything.
                LOG.warning("cannot start a Falco parse process (%s); parsing in the follower",
                            error)
                self._drop_pool()
        return self._ready

    def _on_answer(self, answered: Future[bool]) -> None:
        # Runs in the pool's manager thread: only flags are set here.
        if answered.cancelled() or answered.exception() is not None:
            LOG.warning("the Falco parse process did not start; parsing in the follower")
            self._failed = True  # the event loop's side drops the pool
        else:
            self._ready = True

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        self._ready = False
        self._not_before = time.monotonic() + RESTART_AFTER_SECONDS
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the workers and the thread (what they were doing is not waited for)."""
        self._drop_pool()
        self._thread.shutdown(wait=False, cancel_futures=True)
