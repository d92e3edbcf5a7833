"""The runbook's reporting clocks: executive summary 24 h, detailed report 1 week, GDPR 72 h."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from store import Record
from store.report.deadlines import (
    DETAILED_REPORT,
    EXECUTIVE_SUMMARY,
    GDPR_NOTIFICATION,
    Due,
    due_for,
    due_items,
    mark_done,
)
from tests.plugins.record import FrozenClock


def by_kind(items: Iterable[Due]) -> dict[str, Due]:
    return {item.kind: item for item in items}


@pytest.mark.parametrize(
    ("severity", "expects_summary"), [("P0", True), ("P1", True), ("P2", False), ("P3", False)]
)
def test_executive_summary_is_due_within_24h_for_p0_and_p1_only(
    record: Record, clock: FrozenClock, severity: str, expects_summary: bool
) -> None:
    incident = record.incidents.open("x", severity=severity)
    items = by_kind(due_items(incident, clock.now))
    assert (EXECUTIVE_SUMMARY in items) is expects_summary
    if expects_summary:
        due = items[EXECUTIVE_SUMMARY]
        assert due.due_at == clock.now + timedelta(hours=24)
        assert not due.done
        assert not due.overdue
        assert not due_items(incident, clock.now + timedelta(hours=24))[0].overdue
        late = by_kind(due_items(incident, clock.now + timedelta(hours=24, seconds=1)))
        assert late[EXECUTIVE_SUMMARY].overdue
        assert late[EXECUTIVE_SUMMARY].describe(clock.now + timedelta(hours=26)) == (
            "executive summary overdue by 2h 0m"
        )


def test_detailed_report_has_no_due_time_until_resolution(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("x", severity="P2")
    (detailed,) = due_items(incident, clock.now + timedelta(days=30))
    assert detailed.kind == DETAILED_REPORT
    assert detailed.due_at is None
    assert not detailed.overdue
    assert detailed.describe(clock.now) == "detailed report due 1 week after resolution"
    clock.advance(hours=3)
    incident = record.incidents.update(incident.id, recovered_at=clock.now, status="recovered")
    (detailed,) = due_items(incident, clock.now)
    assert detailed.due_at == clock.now + timedelta(weeks=1)
    (late,) = due_items(incident, clock.now + timedelta(weeks=1, minutes=1))
    assert late.overdue


def test_closure_counts_as_resolution_when_recovery_was_not_recorded(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("x", severity="P3")
    clock.advance(hours=1)
    incident = record.incidents.update(incident.id, closed_at=clock.now, status="closed")
    (detailed,) = due_items(incident, clock.now)
    assert detailed.due_at == clock.now + timedelta(weeks=1)


def test_gdpr_clock_runs_72h_from_detection_when_a_breach_is_flagged(
    record: Record, clock: FrozenClock
) -> None:
    detected = clock.now
    incident = record.incidents.open("x", severity="P2")
    assert GDPR_NOTIFICATION not in by_kind(due_items(incident, clock.now))
    clock.advance(hours=5)
    incident = record.incidents.update(incident.id, data_breach=True)
    gdpr = by_kind(due_items(incident, clock.now))[GDPR_NOTIFICATION]
    assert gdpr.due_at == detected + timedelta(hours=72)
    assert gdpr.describe(clock.now) == "GDPR breach notification due in 2d 19h"
    assert by_kind(due_items(incident, detected + timedelta(hours=73)))[GDPR_NOTIFICATION].overdue


def test_items_come_in_due_order(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("x", severity="P0", data_breach=True)
    kinds = [item.kind for item in due_items(incident, clock.now)]
    assert kinds == [EXECUTIVE_SUMMARY, GDPR_NOTIFICATION, DETAILED_REPORT]


def test_done_items_come_from_chained_report_issued_entries(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("x", severity="P1", data_breach=True)
    clock.advance(hours=30)
    mark_done(record, incident.id, EXECUTIVE_SUMMARY, actor="alice")
    clock.advance(hours=1)
    mark_done(record, incident.id, GDPR_NOTIFICATION, actor="dpo", note="sent to the authority")
    items = by_kind(due_for(record, incident, clock.now))
    summary = items[EXECUTIVE_SUMMARY]
    assert summary.done
    assert not summary.overdue
    assert summary.done_at == clock.now - timedelta(hours=1)
    assert items[GDPR_NOTIFICATION].done
    assert summary.to_dict() == {
        "kind": "executive-summary",
        "label": "executive summary",
        "due_at": "2026-03-15T09:00:00+00:00",
        "done": True,
        "done_at": "2026-03-15T15:00:00+00:00",
        "overdue": False,
    }
    with pytest.raises(ValueError, match="unknown reporting item"):
        mark_done(record, incident.id, "press-release")


def test_a_detailed_report_issued_before_resolution_does_not_count(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("x", severity="P3")
    mark_done(record, incident.id, DETAILED_REPORT)
    clock.advance(hours=2)
    incident = record.incidents.update(incident.id, recovered_at=clock.now)
    (detailed,) = due_for(record, incident, clock.now)
    assert not detailed.done
    clock.advance(days=2)
    mark_done(record, incident.id, DETAILED_REPORT)
    (detailed,) = due_for(record, incident, clock.now)
    assert detailed.done
