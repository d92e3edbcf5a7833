"""The console's runtime: every thread, event loop and record connection a console runs.

One object creates them, names them and closes them, so a reader finds them in one
place and a console that exits leaves nothing running (docs/architecture.md draws
them). Nothing here imports Textual: the console holds a `ConsoleRuntime`, the
headless commands could too.

    with ConsoleRuntime.open(path, readonly=False, connections=("sources", "actions")) as rt:
        await rt.in_record(rt.record.incidents.get, "INC-1")   # on "warroom-record"
        rt.start_drainer(settings, on_report)                    # "warroom-drainer"
    # closed: the drainer stopped, the record threads joined, the connections closed

What it owns:
- connections to the record file, by name: "console" (`record`: the screen's reads and
  writes), "sources" (the live sources write from their own threads), "actions" (the
  cluster actions), "drainer" (opened on the drainer's thread). Each thread writes
  through its own connection: SQLite serialises writers, and no two threads ever
  interleave transactions on one connection.
- threads: "warroom-record" (every console record call, in order), "warroom-actions-record"
  (the action layer's), "warroom-drainer" (the outbox drain, with an event loop of its
  own, so an SMTP or webhook call never stalls the console's loop).
- handles it stops when the console closes: a drill playing on its own thread and loop
  (`adopt`), and the cluster client connected inside the console's loop (`own_cluster`).

A new record's tables (`open(create_later=True)`, what the console does): creating them
imports sqlite-utils and took a tenth of the CPU of `warroom drill`'s first frame, so
the record thread's first call creates them, once `start_schema()` is called (the console:
after its first frame). Every call on the record thread comes after it, in order; the
other connections are handed to their users once `record_ready()` returns (the console's
setup), the drainer's waits on its own thread: nothing is read or written before the
tables exist.

What it does not own: the console's event loop (Textual's, in `App.run`) and its default
executor (`asyncio.to_thread`), and the threads a live source starts inside its own
`run()` (the Falco follower's parsers, the alert linker), which it stops when cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from actions.config import Settings
    from actions.notify import DrainReport
    from store import Record

R = TypeVar("R")
RECORD_THREAD = "warroom-record"
ACTIONS_THREAD = "warroom-actions-record"
DRAINER_THREAD = "warroom-drainer"
STOP_TIMEOUT = 10.0  # the longest close() waits for a thread to finish its current step


class Stoppable(Protocol):
    """Something running on a thread of its own that the console stops when it closes."""

    def stop(self) -> None: ...


class Closable(Protocol):
    """A client that lives in the console's event loop (its session belongs to that loop)."""

    async def close(self) -> None: ...


class LoopThread:
    """A named thread running `main(stop)` in an event loop of its own until `stop()`.

    For work that awaits the network but must never share the console's loop.
    """

    def __init__(self, name: str, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self.name = name
        self._main = main
        self._stop_requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def call_soon(self, function: Callable[[], object]) -> None:
        """Run `function()` on this thread's loop (nothing once the loop has closed)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing left to tell
                loop.call_soon_threadsafe(function)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask `main` to return (its stop event), then wait for the thread to end."""
        self._stop_requested.set()
        stop = self._stop
        if stop is not None:
            self.call_soon(stop.set)
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._in_loop())

    async def _in_loop(self) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():  # stopped before the loop existed to be told
            return
        await self._main(self._stop)


class ConsoleRuntime:
    """The threads, event loops and record connections of one console (see the module doc)."""

    def __init__(self, record: Record, *, own_record: bool = False) -> None:
        self.record = record
        """The console's own connection ("console"): the screen's reads and writes."""
        self._connections: dict[str, Record] = {"console": record}
        self._owned: list[str] = ["console"] if own_record else []
        self._record_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=RECORD_THREAD)
        self._actions_thread: ThreadPoolExecutor | None = None
        self._drainer: LoopThread | None = None
        self._drain_wake: asyncio.Event | None = None
        self._adopted: list[Stoppable] = []
        self._cluster: Closable | None = None
        self._stopped = False
        # A new record's tables: created by the record thread's first call once allowed.
        self._schema_allowed = threading.Event()
        self._schema_settled = threading.Event()  # created, failed, or given up at the close
        self._schema_settled.set()  # none to create, unless `open` finds a new record
        self._schema_job: Future[None] | None = None

    @classmethod
    def open(
        cls, path: str | Path, *, readonly: bool = False, connections: tuple[str, ...] = (),
        create_later: bool = False,
    ) -> ConsoleRuntime:
        """Open the console's connection (read-only for review) and the named others.

        `create_later`: a new record's tables are created on the record thread once
        `start_schema()` is called (see the module doc); until then every record call waits.
        """
        from store import Record

        record = Record.open(path, readonly=readonly, create_later=create_later)
        runtime = cls(record, own_record=True)
        try:
            for name in connections:
                runtime.open_connection(name)
        except BaseException:
            runtime.close()
            raise
        if record.schema_pending:
            runtime._schema_settled.clear()
            runtime._schema_job = runtime._record_thread.submit(runtime._create_schema)
        return runtime

    def __enter__(self) -> ConsoleRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- record connections -------------------------------------------------------------------

    def open_connection(self, name: str) -> Record:
        """A connection of its own for one thread (closed by `close()`, or `close_connection`)."""
        from store import Record

        if name in self._connections:
            raise ValueError(f"a connection named {name!r} is open already")
        # While the tables are still to be created, so are this connection's: it waits.
        record = Record.open(self.record.path, clock=self.record.clock,
                             create_later=self.record.schema_pending)
        self._connections[name] = record
        self._owned.append(name)
        return record

    def connection(self, name: str) -> Record | None:
        """The open connection called `name` (None when there is none)."""
        return self._connections.get(name)

    def close_connection(self, name: str) -> None:
        record = self._connections.pop(name, None)
        if record is not None and name in self._owned:
            self._owned.remove(name)
            record.close()

    @contextlib.contextmanager
    def _connection_for_thread(self, name: str) -> Iterator[Record]:
        record = self.open_connection(name)
        try:
            yield record
        finally:
            self.close_connection(name)

    # --- a new record's tables ------------------------------------------------------------------

    def start_schema(self) -> None:
        """Let the record thread create a new record's tables now (the console: after its
        first frame). Nothing when they exist already."""
        self._schema_allowed.set()

    async def record_ready(self) -> None:
        """Wait until the record's tables exist; raises what creating them raised."""
        await self.in_record(lambda: None)

    def _create_schema(self) -> None:
        """The record thread's first call for a new record: its tables, once allowed."""
        try:
            self._schema_allowed.wait()
            if self._stopped:  # closed before its first frame: the file stays new, as it was
                return
            self.record.create_schema()
            for record in list(self._connections.values()):
                record.schema_pending = False  # the file's tables are theirs too
        finally:
            self._schema_settled.set()

    def _tables_exist(self) -> bool:
        """On a thread of the runtime's own: wait until a new record's tables are created;
        whether they were (not when creating them failed or the console closed first)."""
        self._schema_settled.wait()
        job = self._schema_job
        return not self._stopped and (job is None or job.exception() is None)

    def _raise_schema_failure(self) -> None:
        """Raise what creating the tables raised (nothing runs on a record without them)."""
        job = self._schema_job
        if job is not None and job.done() and not job.cancelled():
            job.result()

    def _after_schema(self, call: Callable[[], R]) -> R:
        self._raise_schema_failure()
        return call()

    # --- the record threads ---------------------------------------------------------------------

    async def in_record(self, call: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run a record read or write on "warroom-record": in order, off the event loop."""
        loop = asyncio.get_running_loop()
        bound = functools.partial(call, *args, **kwargs)
        if self._schema_job is not None:  # a new record: the calls after its tables' creation
            bound = functools.partial(self._after_schema, bound)
        return await loop.run_in_executor(self._record_thread, bound)

    def actions_thread(self) -> ThreadPoolExecutor:
        """The action layer's record thread ("warroom-actions-record"), made on first use."""
        if self._actions_thread is None:
            self._actions_thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=ACTIONS_THREAD
            )
        return self._actions_thread

    # --- the outbox drainer ---------------------------------------------------------------------

    def start_drainer(
        self,
        settings: Settings,
        on_report: Callable[[DrainReport], None],
        *,
        interval: float,
    ) -> None:
        """Drain the outbox every `interval` seconds on "warroom-drainer" until close.

        `on_report` is called from the drainer's thread with what was delivered or failed.
        """
        from actions.notify import run_drainer

        if self._drainer is not None or self._stopped:
            return

        async def main(stop: asyncio.Event) -> None:
            wake = asyncio.Event()
            self._drain_wake = wake
            if not self._tables_exist():  # a record call says why, if they could not be made
                return
            with self._connection_for_thread("drainer") as record:
                await run_drainer(
                    record, settings, stop, interval=interval, on_report=on_report, wake=wake
                )

        self._drainer = LoopThread(DRAINER_THREAD, main)
        self._drainer.start()

    def drain_now(self) -> bool:
        """Wake the drainer for a round now (what an escalation queued is sent at once).

        False when no drainer runs; a drainer still starting drains on its first round.
        """
        if self._drainer is None:
            return False
        wake = self._drain_wake
        if wake is not None:
            self._drainer.call_soon(wake.set)
        return True

    # --- what else stops with the console -------------------------------------------------------

    def adopt(self, handle: Stoppable) -> None:
        """Stop `handle` (a drill on its own thread) when the console's threads stop."""
        self._adopted.append(handle)

    def own_cluster(self, cluster: Closable) -> None:
        """Close this cluster client (connected in the console's loop) in `close_cluster`."""
        self._cluster = cluster

    async def close_cluster(self) -> None:
        """Close the owned cluster client, in the loop it was connected in."""
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            await cluster.close()

    # --- the end --------------------------------------------------------------------------------

    def threads(self) -> list[str]:
        """The names of the threads this runtime runs now (for tests and the architecture note)."""
        if self._stopped:
            return []
        names = [RECORD_THREAD]
        if self._actions_thread is not None:
            names.append(ACTIONS_THREAD)
        if self._drainer is not None and self._drainer.alive:
            names.append(DRAINER_THREAD)
        return names

    @property
    def stopped(self) -> bool:
        """Whether `stop_threads()` has run (a stopped runtime starts nothing again)."""
        return self._stopped

    def connections(self) -> list[str]:
        """The names of the open connections."""
        return sorted(self._connections)

    def stop_threads(self) -> None:
        """Stop every thread: the drainer, the record threads (queued calls are dropped, the
        one under way ends first), the adopted handles. Safe to call again."""
        self._stopped = True
        self._schema_allowed.set()  # a creation still waiting gives up (see _create_schema)
        drainer, self._drainer = self._drainer, None
        if drainer is not None:
            drainer.stop()
        self._record_thread.shutdown(wait=True, cancel_futures=True)
        if self._actions_thread is not None:
            self._actions_thread.shutdown(wait=True, cancel_futures=True)
        adopted, self._adopted = self._adopted, []
        for handle in reversed(adopted):
            handle.stop()

    def close(self) -> None:
        """Stop the threads, then close the connections this runtime opened."""
        self.stop_threads()
        for name in reversed(list(self._owned)):
            self.close_connection(name)
