"""The store functions the report screen adds: a saved report is recorded but issues nothing."""

from __future__ import annotations

import pytest

from store import Record
from store.report.deadlines import (
    DETAILED_REPORT,
    EXECUTIVE_SUMMARY,
    GDPR_NOTIFICATION,
    SAVED_KIND,
    due_for,
    last_saved,
    record_saved,
)
from tests.plugins.record import FrozenClock


def test_a_saved_report_is_chained_but_stops_no_clock(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1")
    record_saved(
        record,
        incident.id,
        EXECUTIVE_SUMMARY,
        file="/tmp/a.md",
        sha256="ab" * 32,
        size=120,
        actor="ic",
    )
    (entry,) = record.timeline.for_incident(incident.id, kinds=(SAVED_KIND,))
    assert entry.actor == "ic"
    assert "/tmp/a.md" in entry.summary
    due = {item.kind: item for item in due_for(record, incident, clock.now)}
    assert not due[EXECUTIVE_SUMMARY].done


def test_last_saved_is_the_newest_of_its_kind(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("x", severity="P0")
    assert last_saved(record, incident.id, EXECUTIVE_SUMMARY) is None
    record_saved(record, incident.id, EXECUTIVE_SUMMARY, file="one.md", sha256="1", size=1)
    clock.advance(minutes=1)
    record_saved(record, incident.id, EXECUTIVE_SUMMARY, file="two.md", sha256="2", size=2)
    record_saved(record, incident.id, DETAILED_REPORT, file="full.md", sha256="3", size=3)
    assert last_saved(record, incident.id, EXECUTIVE_SUMMARY) == {
        "item": EXECUTIVE_SUMMARY,
        "file": "two.md",
        "sha256": "2",
        "bytes": 2,
    }
    assert last_saved(record, incident.id, DETAILED_REPORT)["file"] == "full.md"  # type: ignore[index]


def test_only_reports_are_saved_and_only_for_known_incidents(record: Record) -> None:
    incident = record.incidents.open("x", severity="P0")
    with pytest.raises(ValueError, match="saved report"):
        record_saved(record, incident.id, GDPR_NOTIFICATION, file="g.md", sha256="1", size=1)
    from store import UnknownIncident

    with pytest.raises(UnknownIncident):
        record_saved(record, "NSI-1999-01-01-001", DETAILED_REPORT, file="g.md", sha256="1", size=1)
