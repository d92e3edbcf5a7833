"""The console survives a commander's fast fingers: every dialog opened and closed at once,
again and again, with an incident open and a Falco flood on screen."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.message import Message

from actions.falco.parse import parse_line
from actions.kube.cluster import Cluster
from actions.runbook import RunbookActions
from store import Record
from tests.plugins.tui import AppFactory, until
from tests.plugins.waiting import eventually
from tui.app import WarRoomApp
from tui.screens.war_room import WarRoomScreen

FLOOD_RATE = 5_000  # alerts a second, as the live follower hands them over
BATCHES_PER_SECOND = 100
REPEATS = 50
# Each key opens a screen or dialog of the war room (or says why it cannot, in a toast),
# in two halves that `-n 2` runs side by side (50 openings of each take a minute or two).
DIALOG_KEYS = {
    "incident": ("k", "w", "question_mark", "n", "v", "p", "d", "e", "o", "q"),
    "cluster": ("exclamation_mark", "i", "b", "x", "m", "t", "c", "R", "S", "ctrl+p"),
}
GAPS = (0.0, 0.0, 0.005, 0.02, 0.05)  # seconds between the key and escape


@pytest.fixture
def actions_record(record_path: Path, clock: Any, record: Record) -> Iterator[Record]:
    with Record.open(record_path, clock=clock) as opened:
        yield opened


def flood_pool(count: int) -> list[Any]:
    alerts = []
    for i in range(count):
        line = json.dumps({
            "time": f"2026-03-14T09:00:{i % 60:02d}.{i:09d}Z", "rule": f"Rule {i % 40}",
            "priority": ("Critical", "Warning", "Notice")[i % 3], "source": "syscall",
            "hostname": "node-1", "tags": ["container"],
            "output": f"09:00:00.000000000: Notice connection {i} (pod=orchestrator-{i % 17})",
            "output_fields": {"k8s.pod.name": f"orchestrator-{i % 17}", "fd.sip": "203.0.113.9"},
        }).encode()
        alerts.append(parse_line(line))
    return alerts


def send_key(app: WarRoomApp, key: str) -> None:
    """A key as the terminal driver hands it over: no waiting for the app to be idle."""
    char = {"question_mark": "?", "exclamation_mark": "!"}.get(key, key if len(key) == 1 else None)
    event = events.Key(key, char)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def back_to_the_war_room(pilot: Any, war_room: WarRoomScreen) -> None:
    """Escape whatever a late dialog left open, as the commander would."""
    for _ in range(20):
        if pilot.app.screen is war_room:
            return
        await pilot.press("escape")
        await pilot.pause(0.05)
    assert pilot.app.screen is war_room, pilot.app.screen_stack


@pytest.mark.slow
@pytest.mark.parametrize("keys", list(DIALOG_KEYS))
async def test_every_dialog_opened_and_closed_fast_under_a_flood_never_kills_the_console(
    keys: str, make_app: AppFactory, record: Record, actions_record: Record, cluster: Cluster
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    actions = RunbookActions(actions_record, cluster, actor="ic@example.com")
    app = make_app(actions=actions, incident_id=incident.id)
    pool = flood_pool(2_000)
    per_batch = FLOOD_RATE // BATCHES_PER_SECOND
    stop = asyncio.Event()
    pushed = 0
    flood_seconds = 0.0

    async def flood() -> None:
        """FLOOD_RATE alerts a second, however late the loop wakes this task up."""
        nonlocal pushed, flood_seconds
        started = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - started) * FLOOD_RATE) - pushed
            while due > 0:
                batch = pool[pushed % len(pool):][:min(due, per_batch)]
                app.push_alerts(batch)
                pushed += len(batch)
                due -= len(batch)
            await asyncio.sleep(1 / BATCHES_PER_SECOND)
        flood_seconds = time.monotonic() - started

    delivered = 0  # keys the app has taken from its queue

    def count_keys(message: object) -> None:
        nonlocal delivered
        if isinstance(message, events.Key) and not message.is_forwarded:
            delivered += 1

    sent = 0
    async with app.run_test(size=(160, 48), message_hook=count_keys) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.incident is not None, "the incident on screen")
        flooding = asyncio.create_task(flood())
        try:
            for turn in range(REPEATS):
                for number, key in enumerate(DIALOG_KEYS[keys]):
                    gap = GAPS[(turn + number) % len(GAPS)]
                    send_key(app, key)
                    await asyncio.sleep(gap)
                    send_key(app, "escape")
                    sent += 2
                    await asyncio.sleep(0)
                    assert app.is_running, f"the console stopped after {key} at turn {turn}"
                def all_taken(due: int = sent) -> bool:
                    return delivered >= due

                await until(pilot, all_taken, "every key taken", within=120)
                await back_to_the_war_room(pilot, screen)
        finally:
            stop.set()
            await flooding
        assert app.return_code is None, app.crash
        flooded = pushed / flood_seconds
        assert flooded >= FLOOD_RATE * 0.9, f"the flood ran at {flooded:.0f} alerts/s"
    assert record.incidents.get_required(incident.id).is_open


async def test_a_closed_dialogs_late_callback_is_dropped(
    make_app: AppFactory, record: Record
) -> None:
    """A dialog schedules a redraw after the next refresh (as the checklist does after a
    resize), then closes at once: the redraw is handed to the war room and must not run
    on the closed dialog's widgets."""
    from tui.dialogs.forms import NoteForm

    record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app()
    ran: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await app.workers.wait_for_complete()
        form = NoteForm()
        app.push_screen(form)
        await until(pilot, lambda: form.is_mounted, "the form")

        def redraw() -> None:
            ran.append(form.query_one("#note").id or "")  # NoMatches once it is gone

        form.dismiss(None)
        await until(pilot, lambda: not form.is_attached, "the form gone")
        # Its InvokeLater reached the screen below as it closed; the repaint comes later.
        screen._invoke_later(redraw, form)
        screen.refresh()
        # Scheduled after it: once this has run, the redraw has had its turn.
        passed = asyncio.Event()
        screen.call_after_refresh(passed.set)
        await asyncio.wait_for(passed.wait(), 30)
        assert app.is_running
        assert app.screen is screen
    assert ran == []



class Marker(Message):
    """Handed to the console after the keys: dispatched once they have been."""


async def test_keys_typed_while_the_console_closes_are_dropped(
    make_app: AppFactory, record: Record
) -> None:
    """Keys still on their way when the console's screens are gone: a clean exit."""
    app = make_app(mode="live")
    dispatched: list[Message] = []
    async with app.run_test(size=(80, 24), message_hook=dispatched.append):
        await app.workers.wait_for_complete()
        await app._close_all()  # the screens go first as the console closes
        for key in ("k", "w", "escape", "q"):
            send_key(app, key)
        # Handed over the same way after the keys: once it is dispatched, so were they.
        marker = Marker()
        assert app._driver is not None
        app._driver.send_message(marker)
        await eventually(lambda: any(m is marker for m in dispatched), "the marker")
        assert app.crash is None  # not stopped on an error
