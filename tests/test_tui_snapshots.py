"""Snapshots of each screen and modal at 80x24 and a large size (pytest-textual-snapshot).

Deterministic by construction: the frozen clock drives the header, alerts carry
fixed times, the record is a temporary file and inputs do not blink.
Update after a deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from store import Record
from tests.plugins.tui import AppFactory, alert_line, hostile_alerts, parsed, settle_for_snapshot
from tui.dialogs.confirm_action import ConfirmAction, ConfirmRequest, PermissionLine
from tui.dialogs.decision import DecisionScreen

LARGE = (160, 48)
SMALL = (80, 24)



@pytest.fixture
def incident(record: Record, clock: Any) -> str:
    opened = record.incidents.open("Shell in orchestrator [red]x", severity="P1", drill=True)
    record.timeline.add(opened.id, "note", "curl to 203.0.113.9 seen", actor="ic")
    clock.advance(minutes=4, seconds=20)
    return opened.id


def _with_alerts(
    then: Callable[[Pilot[Any]], Awaitable[None]] | None = None,
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        alerts = [parsed(alert_line(i, priority=("Notice", "Critical", "Warning")[i % 3],
                                    pod=f"orchestrator-{i}")) for i in range(12)]
        pilot.app.push_alerts(alerts + hostile_alerts())  # type: ignore[attr-defined]
        await settle_for_snapshot(pilot)
        if then is not None:
            await then(pilot)
            await settle_for_snapshot(pilot, workers=False)

    return run_before


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_war_room(snap_compare: Any, make_app: AppFactory, incident: str,
                  size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_with_alerts())


def test_war_room_without_incident_or_cluster(snap_compare: Any, make_app: AppFactory) -> None:
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=settle_for_snapshot)


def test_review_mode_light_theme_zoomed_timeline(
    snap_compare: Any, make_app: AppFactory, incident: str
) -> None:
    async def zoom(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+t", "4", "z")

    assert snap_compare(make_app(mode="review"), terminal_size=LARGE,
                        run_before=_with_alerts(zoom))


def test_alert_detail(snap_compare: Any, make_app: AppFactory, incident: str) -> None:
    async def detail(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")

    assert snap_compare(make_app(), terminal_size=LARGE, run_before=_with_alerts(detail))


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_help(snap_compare: Any, make_app: AppFactory, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, press=["question_mark"],
                        run_before=settle_for_snapshot)


def test_decision_point(snap_compare: Any, make_app: AppFactory, incident: str) -> None:
    async def decide(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(DecisionScreen("Terminal shell in container"))

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=_with_alerts(decide))


def test_note_form(snap_compare: Any, make_app: AppFactory, incident: str) -> None:
    async def note(pilot: Pilot[Any]) -> None:
        await pilot.press("n", *"seen [bold]x")

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=_with_alerts(note))


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_confirm_action(snap_compare: Any, make_app: AppFactory, incident: str,
                        size: tuple[int, int]) -> None:
    request = ConfirmRequest(
        title="isolate orchestrator", context="drill-context", namespace="voicehive",
        preview=("# create NetworkPolicy voicehive/isolate-orchestrator: deny all traffic\n"
                 "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
                 "  name: isolate-orchestrator\n  labels: {emergency: 'true'}\nspec:\n"
                 "  podSelector: {matchLabels: {app: orchestrator}}\n"
                 "  policyTypes: [Ingress, Egress]\n"),
        dry_run="NetworkPolicy/isolate-orchestrator: accepted", dry_run_ok=True,
        permissions=(PermissionLine("create networkpolicies in voicehive", True),),
        notes=("the pod keeps running; only its traffic stops",),
    )

    async def confirm(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(ConfirmAction(request))

    assert snap_compare(make_app(), terminal_size=size, run_before=_with_alerts(confirm))
