"""Snapshots of the drill score, the incident proposal and the escalation form (80x24, 160x48).

Deterministic by construction: the frozen clock, a score computed from the
record against a built-in answer key with a fixed clock start, a proposal from
the real detector over fixed alerts (with hostile text, shown literally).
Update after a deliberate change with
`pytest tests/test_tui_snapshots_drill.py --snapshot-update`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot

from actions.config import AlertingSettings, Settings, SlackSettings
from actions.drill.player import PlayerStatus
from actions.drill.scenario import load_builtin
from actions.drill.score import score_drill
from actions.sources.detection import IncidentDetector
from store import Record
from tests.plugins.tui import HOSTILE, AppFactory, settle_for_snapshot
from tests.test_tui_proposals import dns_tunnel_batch
from tui.dialogs.escalate import EscalateForm
from tui.dialogs.proposal import ProposalScreen
from tui.dialogs.score import ScoreScreen
from tui.widgets.drill_strip import describe

LARGE = (160, 48)
SMALL = (80, 24)
SIZES = pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])



@pytest.fixture
def incident(record: Record, clock: Any) -> str:
    opened = record.incidents.open("Drill: DNS exfiltration", severity="P1", drill=True,
                                   detected_at=datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC))
    clock.advance(minutes=3, seconds=10)
    record.incidents.acknowledge(opened.id, actor="ic")
    record.decisions.add(opened.id, "active-attack", rationale="exfil to a rare domain",
                         actor="ic")
    clock.advance(minutes=4)
    return opened.id


def _push(modal_of: Any) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        pilot.app.push_screen(modal_of(pilot.app))
        await settle_for_snapshot(pilot, workers=False)

    return run_before


@SIZES
def test_score(snap_compare: Any, make_app: AppFactory, record: Record, incident: str,
               size: tuple[int, int]) -> None:
    scenario = load_builtin("dns-exfiltration")
    score = score_drill(scenario, record, incident,
                        clock_started_at=datetime(2026, 3, 14, 8, 59, 0, tzinfo=UTC))
    status = PlayerStatus(position=1200.0, length=1200.0, speed=10.0, paused=False,
                          finished=True, remaining=0, next_at=None, next_inject=None)
    where = describe(scenario.name, status)
    assert snap_compare(make_app(incident_id=incident), terminal_size=size,
                        run_before=_push(lambda _app: ScoreScreen(score, status=where)))


@SIZES
def test_proposal(snap_compare: Any, make_app: AppFactory, record: Record,
                  size: tuple[int, int]) -> None:
    handed: list[Any] = []
    IncidentDetector(record, handed.append)(dns_tunnel_batch("DNS tunneling " + HOSTILE[0]
                                                             + " " + HOSTILE[3]))
    (proposal,) = handed
    assert snap_compare(make_app(), terminal_size=size,
                        run_before=_push(lambda _app: ProposalScreen(proposal)))


@SIZES
def test_escalate_form(snap_compare: Any, make_app: AppFactory, incident: str,
                       size: tuple[int, int]) -> None:
    alerting = AlertingSettings(slack=SlackSettings())
    escalation = Settings().escalation
    assert snap_compare(make_app(incident_id=incident), terminal_size=size,
                        run_before=_push(lambda _app: EscalateForm(incident, escalation,
                                                                   alerting, drill=True)))


def test_escalate_form_without_a_matrix(snap_compare: Any, make_app: AppFactory,
                                        incident: str) -> None:
    assert snap_compare(make_app(incident_id=incident), terminal_size=SMALL,
                        run_before=_push(lambda _app: EscalateForm(incident, (),
                                                                   AlertingSettings())))
