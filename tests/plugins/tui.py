"""Console fixtures: a war-room app over a temporary record, a frozen clock, hostile alerts.

`make_app(mode=..., **services)` builds a `WarRoomApp` whose header clock is the
frozen `clock` fixture, on the `record` fixture's temporary WARROOM_DB; no
kubeconfig is read unless a test passes a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from actions.falco.alert import FalcoAlert
from actions.falco.parse import parse_line
from store import Record
from store.replay import to_ns
from tests.plugins.waiting import eventually
from tui.app import WarRoomApp
from tui.services import Services
from tui.widgets.alert_pane import AlertPane

# Attacker-controlled text that must be shown literally: Rich markup that would
# crash or restyle, an OSC 52 clipboard write, a C1 CSI that clears the screen.
HOSTILE = ("[/oops]", "[red]x", "\x1b]52;c;aGVsbG8=\x07", "\x9b2J")

AppFactory = Callable[..., WarRoomApp]
# When the recorded incident's alerts start.
T0 = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)


def alert_line(index: int, *, rule: str = "Terminal shell in container", priority: str = "Notice",
               pod: str = "orchestrator-6f8d9c7b5d-k2x9p", text: str = "a shell was spawned",
               second: int | None = None) -> bytes:
    """One Falco JSON alert line, as Falco writes it."""
    at = second if second is not None else index
    minute, sec = divmod(at, 60)
    stamp = f"2026-03-14T09:{minute % 60:02d}:{sec:02d}.{index % 1_000_000_000:09d}Z"
    return json.dumps({
        "time": stamp, "rule": rule, "priority": priority, "source": "syscall",
        "hostname": "node-1", "tags": ["container"],
        "output": f"09:{minute % 60:02d}:{sec:02d}.000000000: {priority} {text} (pod={pod})",
        "output_fields": {"k8s.pod.name": pod, "k8s.ns.name": "voicehive", "proc.name": "sh"},
    }).encode()


def parsed(line: bytes) -> FalcoAlert:
    alert = parse_line(line)
    assert isinstance(alert, FalcoAlert), alert
    return alert


def hostile_alerts() -> list[FalcoAlert]:
    """One alert per hostile string, in the rule, the pod name and the output."""
    return [
        parsed(alert_line(i, rule=f"Rule {bad}", priority="Critical", pod=f"pod-{bad}",
                          text=f"payload {bad} end"))
        for i, bad in enumerate(HOSTILE)
    ]


def app_factory(record: Record, clock: Any) -> AppFactory:
    """A builder of consoles over `record` whose header reads the frozen `clock`."""

    def build(mode: str = "drill", **services: Any) -> WarRoomApp:
        services.setdefault("context", "drill-context")
        services.setdefault("actor", "ic@example.com")
        return WarRoomApp(Services(record, mode=mode, **services), clock=clock)

    return build


@pytest.fixture
def make_app(record: Record, clock: Any) -> AppFactory:
    return app_factory(record, clock)


def recorded_alert(n: int, incident_id: str | None, at: datetime, text: str = "") -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "dedupe_key": f"replay-{n}",
        "time": at.isoformat(),
        "time_ns": to_ns(at),
        "rule": f"Outbound DNS {n}",
        "priority": "Critical",
        "output": f"query {n} {text}".strip(),
        "output_fields": json.dumps({"k8s.pod.name": f"payment-{n}"}),
        "severity": "P1",
    }


@pytest.fixture
def recorded(record: Record, clock: Any) -> str:
    """An incident with a note a minute for ten minutes and an alert every 30 s for 20."""
    incident = record.incidents.open("Exfiltration from payment", severity="P2")
    for minute in range(1, 11):
        clock.advance(minutes=1)
        record.timeline.add(incident.id, "note", f"minute {minute}", actor="ic")
        if minute == 3:
            record.incidents.acknowledge(incident.id, actor="ic")
        if minute == 6:
            record.incidents.update(incident.id, severity="P0", actor="ic")
    hostile = " ".join(HOSTILE)
    record.alerts.add_batch(
        [recorded_alert(n, incident.id, T0 + timedelta(seconds=30 * n), hostile) for n in range(40)]
    )
    clock.advance(minutes=30)
    return incident.id


async def until(
    pilot: Any, condition: Callable[[], object], what: str, *, within: float = 30.0
) -> None:
    """Let the console run until `condition()` holds; fail naming `what` after `within` s."""
    await eventually(condition, what, within=within, pause=pilot.pause)


async def run_from_palette(pilot: Pilot[Any], words: str) -> None:
    """Find a command by typing `words` into the palette (ctrl+p) and run it with enter, once
    the palette's first match shows every one of the words (its search runs as you type)."""
    from textual.command import CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*words)
    matches = app.screen.query_one(CommandList)

    def found() -> bool:
        if not matches.option_count:
            return False
        first = str(matches.get_option_at_index(0).prompt).lower()
        return all(word in first for word in words.lower().split())

    await until(pilot, found, f"a command matching {words!r} in the palette")
    await pilot.press("enter")


async def settle_for_snapshot(pilot: Pilot[Any], *, workers: bool = True) -> None:
    """Bring the console to a state a snapshot can compare: drained, counted, not blinking."""
    if workers:  # not while a form is open: its worker waits for the form
        await pilot.app.workers.wait_for_complete()
    # The pane drains at 10 Hz and counts at 1 Hz: run both now rather than hope a
    # slow run has reached them (a loaded CI run once caught the counters at zero).
    for pane in pilot.app.screen.query(AlertPane):
        pane.alert_list.drain()
        pane.refresh_counters()
    await pilot.pause(0.25)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    # The footer recomposes after a refresh when the keys that apply change (an
    # incident loaded): let that settle, or a slow run shows them still dimmed.
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()
