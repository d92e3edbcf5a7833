"""The action layer writes the record off the event loop, with its guarantees intact.

Another process holding the record's write lock (the sources' writer, a second
console) must not freeze the loop the console draws from: the intent still
lands before the cluster is touched and the outcome after.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from actions.drill.server import DrillServerThread
from actions.runbook import ActionRequest, RunbookActions
from store import Record
from tests.plugins.waiting import eventually

NS = "voicehive"
HOLD_SECONDS = 30.0  # the longest the loop may take for ten turns on a loaded machine


def hold_write_lock(path: Path, held: threading.Event, release: threading.Event) -> None:
    """Another writer: an open write transaction on the record file until `release`."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(10)
        held.clear()  # no longer held from here on
        other.execute("COMMIT")
    finally:
        other.close()


async def test_a_busy_record_never_blocks_the_event_loop(
    runbook: RunbookActions, record: Record, record_path: Path, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("exfiltration from orchestrator", severity="P0")
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    assert preview.ok, preview.problems
    held, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=hold_write_lock, args=(record_path, held, release))
    writer.start()
    assert held.wait(5)
    ticks = 0

    async def tick() -> None:  # counts the loop's turns while the other writer holds the lock
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += held.is_set()

    ticker = asyncio.create_task(tick())
    execute = asyncio.create_task(runbook.execute(preview))
    try:
        # The loop keeps running while the intent waits for the other writer.
        await eventually(lambda: ticks >= 10, "ten turns of the event loop", within=HOLD_SECONDS)
        assert not execute.done()
        policies = drill_server.state.list("networking.k8s.io/v1", "NetworkPolicy", NS)
        assert not any(p["metadata"]["name"].startswith("emergency-isolation") for p in policies)
    finally:
        release.set()
        await asyncio.to_thread(writer.join)
    outcome = await asyncio.wait_for(execute, 20)
    ticker.cancel()
    assert outcome.status == "succeeded", outcome.message
    entries = record.actions.for_incident(incident.id)
    assert [(e.entry, e.status) for e in entries] == [
        ("intent", "pending"),
        ("outcome", "succeeded"),
    ]
    assert record.incidents.get_required(incident.id).status == "contained"


async def test_a_cancelled_execute_still_records_its_outcome(
    runbook: RunbookActions, record: Record, drill_server: DrillServerThread
) -> None:
    incident = record.incidents.open("exfiltration from orchestrator", severity="P0")
    preview = await runbook.preview(ActionRequest("isolate", "orchestrator"))
    # The create hangs at the server: the execute is cancelled between intent and outcome.
    drill_server.state.inject_fault("POST", r"/networkpolicies", 0, delay=3.0)
    try:
        execute = asyncio.create_task(runbook.execute(preview))
        # The intent is written before the create is sent.
        await eventually(lambda: record.actions.for_incident(incident.id), "the intent")
        await asyncio.sleep(0.2)
        execute.cancel()
        try:
            await execute
        except asyncio.CancelledError:
            pass
    finally:
        drill_server.state.clear_faults()
    entries = record.actions.for_incident(incident.id)
    assert [(e.entry, e.status) for e in entries] == [("intent", "pending"), ("outcome", "unknown")]
    assert "interrupted" in (entries[1].message or "")
