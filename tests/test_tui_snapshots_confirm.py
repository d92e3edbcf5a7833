"""Snapshots of a refused preview: the reason first, only back-to-form and cancel (80x24, 160x48).

Update after a deliberate change with
`pytest tests/test_tui_snapshots_confirm.py --snapshot-update`, then read the svg.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from store import Record
from tests.plugins.tui import AppFactory, settle_for_snapshot
from tui.dialogs.confirm_action import ConfirmAction, ConfirmRequest, PermissionLine

REFUSED = ConfirmRequest(
    title="block-ip 10.42.2.31",
    context="drill-context",
    namespace="voicehive",
    preview="(no change to the cluster)",
    dry_run="not run",
    dry_run_ok=True,
    permissions=(PermissionLine("patch networkpolicies in voicehive", True),),
    problems=(
        "refusing to block 10.42.2.31/32: 10.42.2.31/32 holds the cluster's own pod/service "
        "addresses 10.42.2.31. If you are sure, force it (--force, or the form's Force box)",
    ),
)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_refused_preview(
    snap_compare: Any, make_app: AppFactory, record: Record, size: tuple[int, int]
) -> None:
    incident = record.incidents.open("Beacon", severity="P1", drill=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        pilot.app.push_screen(ConfirmAction(REFUSED))
        await settle_for_snapshot(pilot, workers=False)

    assert snap_compare(make_app(incident_id=incident.id), terminal_size=size,
                        run_before=run_before)  # fmt: skip
