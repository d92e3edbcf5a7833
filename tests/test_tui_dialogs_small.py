"""Every dialog's buttons are on screen and uncovered, at 80x24 and 160x48, with toasts up:
a dialog taller than the terminal scrolls between its docked title and buttons, and toasts
over a dialog sit in its top rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, RadioSet
from textual.widgets._toast import Toast

from actions.config import AlertingSettings, Settings, SlackSettings
from actions.drill.player import PlayerStatus
from actions.drill.scenario import load_builtin
from actions.drill.score import score_drill
from actions.runbook import ActionRequest
from actions.sources.detection import IncidentDetector
from store import Record
from tests.plugins.tui import AppFactory, until
from tests.test_tui_proposals import dns_tunnel_batch
from tui.dialogs.action_form import CLUSTER_ACTIONS, ActionForm
from tui.dialogs.confirm_action import ConfirmAction, ConfirmRequest, PermissionLine
from tui.dialogs.escalate import EscalateForm
from tui.dialogs.forms import AskScreen, OpenIncidentForm
from tui.dialogs.proposal import ProposalScreen
from tui.dialogs.score import ScoreScreen
from tui.widgets.drill_strip import describe

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
LONG_PREVIEW = "\n".join(f"  line {n}: a long manifest the commander reads" for n in range(40))
TOASTS = 4


def confirm(blocked: str | None = None) -> ConfirmAction:
    return ConfirmAction(ConfirmRequest(
        title="block-ip 203.0.113.9", context="drill-context", namespace="voicehive",
        preview=LONG_PREVIEW, dry_run="NetworkPolicy/block: accepted", dry_run_ok=True,
        permissions=tuple(PermissionLine(f"patch networkpolicies #{n}", True) for n in range(5)),
        notes=("other policies may still allow it",) * 3,
        problems=(blocked,) if blocked else (),
    ))


def proposal(record: Record) -> ProposalScreen:
    handed: list[Any] = []
    IncidentDetector(record, handed.append)(dns_tunnel_batch("DNS tunneling"))
    return ProposalScreen(handed[0])


def score(record: Record) -> ScoreScreen:
    incident = record.incidents.open("Drill: DNS exfiltration", severity="P1", drill=True)
    scenario = load_builtin("dns-exfiltration")
    result = score_drill(scenario, record, incident.id,
                         clock_started_at=datetime(2026, 3, 14, 8, 59, 0, tzinfo=UTC))
    status = PlayerStatus(position=1200.0, length=1200.0, speed=10.0, paused=False,
                          finished=True, remaining=0, next_at=None, next_inject=None)
    return ScoreScreen(result, status=describe(scenario.name, status))


DIALOGS: dict[str, Callable[[Record], Screen[Any]]] = {
    "ask": lambda _r: AskScreen("Move NSI-1 to Containment?", "from Detection & Analysis"),
    "open-incident": lambda _r: OpenIncidentForm("Shell in orchestrator", "P1"),
    "escalate": lambda _r: EscalateForm("NSI-1", Settings().escalation,
                                        AlertingSettings(slack=SlackSettings()), drill=True),
    "block-ip": lambda _r: ActionForm(
        CLUSTER_ACTIONS["block-ip"],
        ActionRequest("block-ip", "203.0.113.9", emergency_egress=True, service="orchestrator",
                      protected_cidrs=("10.0.0.0/8", "172.16.0.0/12")),
        "context drill-context, namespace voicehive"),
    "confirm": lambda _r: confirm(),
    "confirm-blocked": lambda _r: confirm(blocked="the target is a cluster address"),
    "proposal": proposal,
    "score": score,
}
# What must stay uncovered: whatever the commander acts on.
CONTROLS = (Button, Input, RadioSet)


def uncovered(screen: Screen[Any], widget: Widget) -> bool:
    """Whether `widget` is drawn whole inside the screen, with nothing on top of any of it."""
    region = widget.region
    if not region or not screen.region.contains_region(region):
        return False
    for y in range(region.y, region.bottom):
        for x in (region.x, region.right - 1):
            found, _ = screen.get_widget_at(x, y)
            if found is not widget and widget not in found.ancestors:
                return False
    return True


async def covered_controls(pilot: Any, screen: Screen[Any], score: bool) -> list[str]:
    """Push `screen`, wait for it and its toasts; the controls not drawn whole and uncovered."""
    app = pilot.app
    app.push_screen(screen)
    await until(pilot, lambda: screen.is_mounted and screen.size.area > 0, repr(screen))
    await until(pilot, lambda: len(screen.query(Toast)) == TOASTS, f"toasts on {screen!r}")
    await pilot.pause(0.05)
    controls: list[Widget] = [w for w in screen.query("*") if isinstance(w, CONTROLS) and w.display]
    if score:
        controls += list(screen.query(DataTable))  # the score's lines
    assert controls, screen
    hidden = [f"{w!r} at {w.region}" for w in controls if not uncovered(screen, w)]
    app.pop_screen()
    await until(pilot, lambda: not screen.is_attached, f"{screen!r} closed")
    return hidden


@SIZES
async def test_every_dialogs_controls_are_on_screen_and_no_toast_covers_them(
    size: tuple[int, int], make_app: AppFactory, record: Record,
) -> None:
    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await app.workers.wait_for_complete()
        for n in range(TOASTS):
            app.notify(f"toast {n}: a notice long enough to wrap over two or three lines of "
                       "a toast at any width", title="Incident proposed", severity="warning",
                       timeout=120)
        hidden: dict[str, list[str]] = {}
        for name, dialog_of in DIALOGS.items():
            hidden[name] = await covered_controls(pilot, dialog_of(record), name == "score")
    assert not any(hidden.values()), hidden


async def test_at_80x24_the_keys_reach_the_rbac_lines_under_a_long_preview(
    make_app: AppFactory,
) -> None:
    """PageDown scrolled only the preview: the dry run, the RBAC checks and the notes under
    it stayed below the fold, and the commander confirmed without reading them."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        dialog = confirm()
        app.push_screen(dialog)
        await until(pilot, lambda: dialog.is_mounted and dialog.size.area > 0, "the preview")
        last_note = list(dialog.query(".note"))[-1]
        assert not uncovered(dialog, last_note)  # below the fold at first
        for _ in range(12):
            await pilot.press("pagedown")
        await pilot.pause()
        assert uncovered(dialog, dialog.query_one("#confirm-rbac"))
        assert uncovered(dialog, last_note)
        for _ in range(12):
            await pilot.press("pageup")
        await pilot.pause()
        assert uncovered(dialog, dialog.query_one("#confirm-context"))
