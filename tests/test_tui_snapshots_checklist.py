"""Snapshots of the checklist modal at 80x24 and 160x48 (pytest-textual-snapshot).

Deterministic by construction: the frozen clock stamps every tick, the
verdicts shown are given (no cluster is asked), the record is a temporary
file. Update after a deliberate change with
`pytest tests/test_tui_snapshots_checklist.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot

from actions.checklists import Verdict
from store import Record
from tests.plugins.tui import HOSTILE, AppFactory
from tui.dialogs.checklist import ChecklistScreen

LARGE = (160, 48)
SMALL = (80, 24)
CHECKED_AT = datetime(2026, 3, 14, 9, 41, 5, tzinfo=UTC)
CHECKS = {
    "services-healthy": Verdict(
        "not-verified",
        "1 of 9 pods not Ready: api-7d9f-x2 (CrashLoopBackOff); deployments not checked: the "
        "cluster serves no apps/v1 Deployments",
        CHECKED_AT,
    ),
    "mtls-enforced": Verdict(
        "verified",
        "Istio mTLS STRICT for voicehive (PeerAuthentication voicehive/default); no PERMISSIVE "
        "or DISABLE exception; 9 of 9 pods have the istio-proxy sidecar",
        CHECKED_AT,
    ),
    "alerting-working": Verdict(
        "unknown",
        "no alert channel is configured (PagerDuty, Slack, email, SIEM): nothing shows whether "
        "alerting works",
        CHECKED_AT,
    ),
}



@pytest.fixture
def incident(record: Record, clock: Any) -> str:
    opened = record.incidents.open("Shell in orchestrator [red]x", severity="P1", drill=True)
    clock.advance(minutes=41)
    record.incidents.update(opened.id, phase="recovery")
    note = f"checked 2026-03-14 09:41:05 UTC: verified: {HOSTILE[0]}"
    record.checklist.tick(opened.id, "recovery", "mTLS is enforced across all service "
                          "communications", actor="alice@example.com", verified="verified",
                          note=note)  # fmt: skip
    record.checklist.tick(opened.id, "detection", "Review Falco alerts", actor="bob@example.com")
    return opened.id


async def _settle(pilot: Pilot[Any]) -> None:
    # Not app.workers.wait_for_complete(): the key's worker waits for the modal to close.
    for _ in range(200):
        busy = [w for w in pilot.app.workers
                if (w.group or "").startswith("checklist") and not w.is_finished]  # fmt: skip
        if not busy:
            break
        await pilot.pause(0.05)
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()


def _open(
    record: Record, incident_id: str, **kwargs: Any
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        opened = record.incidents.get(incident_id)
        assert opened is not None
        pilot.app.push_screen(ChecklistScreen(opened, dict(CHECKS), **kwargs))
        await _settle(pilot)

    return run_before


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_checklist(snap_compare: Any, make_app: AppFactory, record: Record, incident: str,
                   size: tuple[int, int]) -> None:  # fmt: skip
    assert snap_compare(make_app(incident_id=incident), terminal_size=size,
                        run_before=_open(record, incident))  # fmt: skip


def test_checklist_review_mode(snap_compare: Any, make_app: AppFactory, record: Record,
                               incident: str) -> None:  # fmt: skip
    assert snap_compare(make_app(mode="review", incident_id=incident), terminal_size=SMALL,
                        run_before=_open(record, incident, phase="detection"))  # fmt: skip
