"""MTTD, MTTC and MTTR defined once (`store.response_times`): the header clocks agree with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store import Record
from store.response_times import clock_start, incident_response_times, response_times
from tui.views.clocks import LATE, MET, NOT_APPLICABLE, clock_states, since_detection

T0 = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)


def link_alert(
    record: Record, incident_id: str, at: datetime, received: datetime | None = None
) -> None:
    """An alert whose own time is `at`, received by warroom at `received` (default: `at`)."""
    record.alerts.add_batch(
        [
            {
                "incident_id": incident_id,
                "dedupe_key": f"{incident_id}-{at.isoformat()}",
                "time": at.isoformat(),
                "time_ns": int(at.timestamp()) * 1_000_000_000,
                "received_at": (received or at).isoformat(),
                "rule": "Launch Suspicious Network Tool in Container",
                "priority": "Notice",
                "output": "dig",
                "output_fields": "{}",
            }
        ]
    )


def test_the_clocks_start_at_the_first_sign(record: Record, clock: Any) -> None:
    clock.now = T0 + timedelta(minutes=3)
    incident = record.incidents.open("opened by hand, 3 min after the alert", severity="P1")
    link_alert(record, incident.id, T0)
    clock.advance(minutes=1)
    acked = record.incidents.acknowledge(incident.id)
    times = incident_response_times(record, incident.id)
    assert times["mttd"].start == T0 == clock_start(acked, T0)
    assert times["mttd"].seconds() == 240.0
    assert times["mttd"].met() is True
    assert times["mttc"].end is None
    assert times["mttc"].met() is None
    assert times["mttc"].seconds(T0 + timedelta(minutes=20)) == 1200.0
    # The header, given the same first alert, shows the same time.
    mttd = clock_states(acked, clock.now, first_alert=T0)[0]
    assert (mttd.elapsed, mttd.state) == (timedelta(minutes=4), MET)
    assert since_detection(acked, clock.now, first_alert=T0) == timedelta(minutes=4)


def test_a_false_positive_has_no_containment_or_recovery_time(record: Record, clock: Any) -> None:
    incident = record.incidents.open("leader election", severity="P3")
    clock.advance(minutes=6)
    record.incidents.acknowledge(incident.id)
    record.decisions.add(incident.id, "false-positive", rationale="client-go leader election")
    times = incident_response_times(record, incident.id)
    assert times["mttd"].met() is False  # 6 min
    assert not times["mttc"].applies
    assert times["mttc"].seconds(clock.now) is None
    flagged = record.incidents.update(incident.id, false_positive=True)
    states = {s.key: s for s in clock_states(flagged, clock.now + timedelta(hours=5))}
    assert states["mttd"].state == LATE
    assert states["mttc"].state == states["mttr"].state == NOT_APPLICABLE
    assert states["mttc"].text() == "MTTC -/15m"


def test_a_closed_incidents_clocks_stop_at_its_closing(record: Record, clock: Any) -> None:
    incident = record.incidents.open("closed unacknowledged", severity="P2")
    clock.advance(minutes=2)
    closed = record.incidents.update(incident.id, status="closed", closed_at=clock.now)
    mttd = clock_states(closed, clock.now + timedelta(hours=1))[0]
    assert mttd.elapsed == timedelta(minutes=2)


def test_an_end_before_the_start_counts_as_zero() -> None:
    from store import Incident

    skewed = Incident(
        "NSI-2026-03-14-001", "skew", "P1", "open", "detection", opened_at=T0,
        detected_at=T0, acknowledged_at=T0 - timedelta(seconds=30),
    )  # fmt: skip
    assert response_times(skewed)["mttd"].seconds() == 0.0


def test_the_report_the_score_and_the_metrics_give_one_mttd(record: Record, clock: Any) -> None:
    """The report's response times are the ones the score and `warroom metrics` give."""
    from actions.drill.scenario import load_builtin
    from actions.drill.score import score_drill
    from store.metrics import compute
    from store.report.render import render_executive, render_report

    first_sign = clock.now
    clock.advance(minutes=2)  # opened by hand two minutes after the first alert
    incident = record.incidents.open("DNS tunnel from orchestrator", severity="P0", drill=True)
    link_alert(record, incident.id, first_sign)
    clock.advance(minutes=4, seconds=20)
    record.incidents.acknowledge(incident.id, actor="alice")
    clock.advance(minutes=3)
    record.incidents.advance(incident.id, "eradication")  # contained: MTTC stops

    score = score_drill(
        load_builtin("dns-exfiltration"), record, incident.id, clock_started_at=first_sign
    )
    measures = compute(record).groups["drill"].measures
    assert score.mttd.seconds == measures["mttd"].median == 6 * 60 + 20
    assert score.mttc.seconds == measures["mttc"].median == 9 * 60 + 20
    for report in (render_report(record, incident.id), render_executive(record, incident.id)):
        assert (
            "- Response times from the first sign (2026-03-14 09:00:00 UTC): "
            "MTTD 6m 20s (target < 5m 00s: MISSED); MTTC 9m 20s (target < 15m 00s: met); "
            "MTTR not reached (9m 20s so far, target < 2h 00m 00s)"
        ) in report
        assert "acknowledged 2026-03-14 09:06:20 UTC, +00:06:20 after the first sign" in report


def test_an_alerts_own_time_never_moves_the_clocks(
    record: Record, record_path: Path, clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tester's case: alerts whose Falco time says 15:00, received at 15:59 into an incident
    opened at 15:59 and acknowledged 50 s later. Header, report, score and metrics: 50 s."""
    from actions.drill.scenario import load_builtin
    from actions.drill.score import score_drill
    from store.alert_summary import first_received_time
    from store.metrics import compute
    from tui.cli.main import main

    clock.now = datetime(2026, 3, 14, 15, 59, 0, tzinfo=UTC)
    incident = record.incidents.open("DNS tunnel", severity="P0", drill=True)
    forged = datetime(2026, 3, 14, 15, 0, 0, tzinfo=UTC)  # the line's own (attacker's) time
    link_alert(record, incident.id, forged, received=clock.now)
    clock.advance(seconds=50)
    acked = record.incidents.acknowledge(incident.id)

    received = first_received_time(record, incident.id)
    assert received == clock.now - timedelta(seconds=50)
    header = clock_states(acked, clock.now + timedelta(minutes=1), received)[0]
    assert header.text() == "MTTD 0:50/5m ✓"
    score = score_drill(load_builtin("dns-exfiltration"), record, incident.id,
                        clock_started_at=None)  # fmt: skip
    assert score.mttd.seconds == 50
    assert compute(record).groups["drill"].measures["mttd"].median == 50
    record.close()
    assert main(["--db", str(record_path), "report", incident.id]) == 0
    report = capsys.readouterr().out
    assert "MTTD 0m 50s (target < 5m 00s: met)" in report
    assert "1h 00m" not in report
