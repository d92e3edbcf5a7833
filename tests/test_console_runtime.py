"""The console's runtime: every thread and record connection it runs is named and closed.

Real parts: a record file, a real Slack receiver on loopback for the drainer, a real
console (Pilot) for what it leaves behind when it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actions.config import load_settings
from actions.notify import DrainReport, notify_incident_event
from actions.runtime import (
    ACTIONS_THREAD,
    DRAINER_THREAD,
    RECORD_THREAD,
    ConsoleRuntime,
    LoopThread,
)
from store import Record, verify_chain
from tests.plugins.notify import ShapeReceiver
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.services import Services

OURS = (RECORD_THREAD, ACTIONS_THREAD, DRAINER_THREAD)


def running(prefixes: tuple[str, ...] = OURS) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(prefixes))


def closed(record: Record) -> bool:
    try:
        record.conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


async def test_every_thread_and_connection_is_named_then_closed(
    record_path: Path, slack_receiver: ShapeReceiver, notify_config: Callable[..., Path]
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    runtime = ConsoleRuntime.open(record_path, connections=("sources", "actions"))
    reports: list[DrainReport] = []
    with runtime:
        incident = await runtime.in_record(runtime.record.incidents.open, "x", severity="P1")
        where = await runtime.in_record(lambda: threading.current_thread().name)
        assert where.startswith(RECORD_THREAD)
        actions_where = await asyncio.get_running_loop().run_in_executor(
            runtime.actions_thread(), lambda: threading.current_thread().name
        )
        assert actions_where.startswith(ACTIONS_THREAD)
        runtime.start_drainer(settings, reports.append, interval=600)
        notify_incident_event(runtime.record, settings, incident, "opened")
        assert runtime.drain_now()  # not the next round, ten minutes away: now
        for _ in range(500):
            if reports:
                break
            await asyncio.sleep(0.01)
        assert [a.channel for a in reports[0].delivered] == ["slack"]
        assert runtime.connections() == ["actions", "console", "drainer", "sources"]
        assert runtime.threads() == [RECORD_THREAD, ACTIONS_THREAD, DRAINER_THREAD]
        connections = [runtime.connection(n) for n in ("console", "sources", "actions")]
    assert runtime.threads() == []
    assert running() == []
    assert all(c is not None and closed(c) for c in connections)
    assert runtime.connections() == []


def test_a_runtime_over_a_callers_record_leaves_it_open(record: Record) -> None:
    runtime = ConsoleRuntime(record)
    runtime.close()
    assert not closed(record)
    assert record.incidents.list() == []


def test_a_loop_thread_stopped_before_it_ran_returns_at_once() -> None:
    ran: list[bool] = []

    async def main(stop: asyncio.Event) -> None:
        ran.append(True)
        await stop.wait()

    worker = LoopThread("warroom-test-loop", main)
    worker.stop()  # never started: nothing to wait for
    worker.start()
    worker.stop(timeout=5)
    assert not worker.alive
    assert ran == []


def test_a_second_connection_of_one_name_is_refused(record_path: Path) -> None:
    with ConsoleRuntime.open(record_path, connections=("sources",)) as runtime:
        with pytest.raises(ValueError, match="sources"):
            runtime.open_connection("sources")


async def test_a_closed_console_leaves_no_thread_of_its_own_running(
    record: Record, clock: Any, slack_receiver: ShapeReceiver,
    notify_config: Callable[..., Path],
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    app = WarRoomApp(Services(record, mode="live"), settings, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: DRAINER_THREAD in running(), "the drainer's thread")
        assert app.runtime.connections() == ["console", "drainer"]
    assert running() == []
    assert app.runtime.connections() == ["console"]  # the test's record: the test closes it
    assert not closed(record)


def _tables(path: Path) -> list[str]:
    """The file's tables, read through a connection of the test's own."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [name for (name,) in rows]


async def test_a_new_records_tables_come_when_allowed_and_every_call_waits_for_them(
    record_path: Path,
) -> None:
    """The console makes a new record's tables after its first frame (sqlite-utils' import is
    off that path): a call queued before then runs after them, on every connection."""
    with ConsoleRuntime.open(record_path, connections=("sources",), create_later=True) as runtime:
        assert runtime.record.schema_pending
        assert _tables(record_path) == []  # nothing made before it is allowed
        opening = asyncio.ensure_future(
            runtime.in_record(runtime.record.incidents.open, "queued before", severity="P2")
        )
        runtime.start_schema()
        incident = await opening
        await runtime.record_ready()
        assert "incidents" in _tables(record_path)
        sources = runtime.connection("sources")
        assert sources is not None
        assert not sources.schema_pending
        assert [i.id for i in sources.incidents.list()] == [incident.id]
        # The file's journaling, switched with the tables, is every connection's (each sees
        # it from its next read on).
        assert sources.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Record.open(record_path) as reopened:  # an ordinary record, its chain whole
        assert verify_chain(reopened.conn).ok
        assert [i.title for i in reopened.incidents.list()] == ["queued before"]


def test_a_console_closed_before_its_first_frame_leaves_a_new_record_new(
    record_path: Path,
) -> None:
    runtime = ConsoleRuntime.open(record_path, connections=("sources",), create_later=True)
    runtime.close()  # never allowed: the waiting creation gives up, nothing hangs
    assert running() == []
    assert _tables(record_path) == []
    with Record.open(record_path) as record:  # opened again: made then, as any new file
        assert record.incidents.list() == []


def test_an_existing_record_opens_ready_with_nothing_deferred(record_path: Path) -> None:
    Record.open(record_path).close()
    with ConsoleRuntime.open(record_path, create_later=True) as runtime:
        assert not runtime.record.schema_pending
        assert runtime.record.incidents.list() == []  # usable at once, no start_schema needed
