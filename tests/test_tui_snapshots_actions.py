"""Snapshots of the cluster-action form with its options, at 80x24 and 160x48.

Update after a deliberate change with
`pytest tests/test_tui_snapshots_actions.py --snapshot-update`, then read the svg.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from actions.runbook import ActionRequest
from store import Record
from tests.plugins.tui import AppFactory, app_factory, settle_for_snapshot
from tui.dialogs.action_form import CLUSTER_ACTIONS, ActionForm

LARGE = (160, 48)
SMALL = (80, 24)
WHERE = "context drill-cluster, namespace voicehive"


@pytest.fixture
def make_app(record: Record, clock: Any) -> AppFactory:
    record.incidents.open("Egress to a rare address", severity="P1", drill=True)
    return app_factory(record, clock)


def _open_form(request: ActionRequest) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        pilot.app.push_screen(ActionForm(CLUSTER_ACTIONS[request.action], request, WHERE))
        await settle_for_snapshot(pilot, workers=False)  # a form is open: no worker wait

    return run_before


BLOCK_IP = ActionRequest(
    "block-ip",
    "203.0.113.9",
    emergency_egress=True,
    service="orchestrator",
    protected_cidrs=("10.0.0.0/8", "172.16.0.0/12"),
)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_block_ip_form_with_its_options(
    snap_compare: Any, make_app: AppFactory, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_open_form(BLOCK_IP))


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_capture_form_with_its_options(
    snap_compare: Any, make_app: AppFactory, size: tuple[int, int]
) -> None:
    request = ActionRequest("capture", service="orchestrator", domain="evil.example")
    assert snap_compare(make_app(), terminal_size=size, run_before=_open_form(request))
