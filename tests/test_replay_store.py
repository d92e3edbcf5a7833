"""store.replay: a recorded incident's alerts in pages and its state as of a moment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store import Record
from store.replay import (
    LEAD_IN,
    alerts_between,
    alerts_until,
    from_ns,
    incident_as_of,
    scope,
    timeline_until,
    to_ns,
)
from tests.plugins.record import FrozenClock

T0 = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)


def alert(
    key: str, at: datetime, incident_id: str | None = None, rule: str = "Outbound DNS"
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "dedupe_key": key,
        "time": at.isoformat(),
        "time_ns": to_ns(at),
        "rule": rule,
        "priority": "Critical",
        "output": f"{key} at {at:%H:%M:%S}",
        "output_fields": json.dumps({"k8s.pod.name": f"pod-{key}"}),
        "severity": "P1",
    }


def test_nanoseconds_round_trip_exactly() -> None:
    moment = datetime(2026, 3, 14, 9, 42, 7, 123456, tzinfo=UTC)
    assert to_ns(moment) == int(moment.timestamp()) * 1_000_000_000 + 123_456_000
    assert from_ns(to_ns(moment)) == moment
    with pytest.raises(ValueError, match="timezone-aware"):
        to_ns(datetime(2026, 3, 14, 9, 42))  # noqa: DTZ001 - the naive time is the point


def test_linked_alerts_come_in_pages_newest_up_to_the_moment(record: Record) -> None:
    incident = record.incidents.open("Exfiltration", severity="P0")
    other = record.incidents.open("Port scan", severity="P3")
    record.alerts.add_batch(
        [alert(f"a{n}", T0 + timedelta(minutes=n), incident.id) for n in range(30)]
        + [alert(f"b{n}", T0 + timedelta(minutes=n), other.id) for n in range(30)]
        + [alert(f"u{n}", T0 + timedelta(minutes=n)) for n in range(30)]
    )
    view = scope(record, incident)
    assert view.linked
    assert view.last == T0 + timedelta(minutes=29)

    page = alerts_until(record, view, T0 + timedelta(minutes=12), limit=5)
    assert [a.dedupe_key for a in page] == ["a8", "a9", "a10", "a11", "a12"]  # oldest first
    assert all(a.incident_id == incident.id for a in page)
    everything = alerts_until(record, view, None, limit=100)
    assert [a.dedupe_key for a in everything] == [f"a{n}" for n in range(30)]

    added = alerts_between(
        record, view, T0 + timedelta(minutes=12), T0 + timedelta(minutes=15), limit=100
    )
    assert [a.dedupe_key for a in added] == ["a13", "a14", "a15"]
    capped = alerts_between(record, view, T0, T0 + timedelta(minutes=20), limit=2)
    assert [a.dedupe_key for a in capped] == ["a19", "a20"]  # the newest of the span


def test_without_linked_alerts_the_window_from_lead_in_to_closing_counts(
    record: Record, clock: FrozenClock
) -> None:
    clock.now = T0 + timedelta(minutes=10)
    incident = record.incidents.open("Shell in pod", severity="P1")
    clock.advance(minutes=20)
    incident = record.incidents.update(incident.id, status="closed", closed_at=clock.now)
    record.alerts.add_batch(
        [alert(f"u{n}", T0 + timedelta(minutes=n)) for n in range(40)]
        + [alert("linked-elsewhere", T0 + timedelta(minutes=12), "NSI-other")]
    )
    view = scope(record, incident)
    assert not view.linked
    assert view.first == incident.opened_at - LEAD_IN
    keys = [a.dedupe_key for a in alerts_until(record, view, None, limit=1000)]
    # From five minutes before detection to the closing, and nothing linked to another incident.
    assert keys == [f"u{n}" for n in range(5, 31)]
    assert view.last == T0 + timedelta(minutes=30)


def test_identical_times_keep_record_order_across_pages(record: Record) -> None:
    incident = record.incidents.open("Burst", severity="P1")
    record.alerts.add_batch([alert(f"s{n}", T0, incident.id) for n in range(6)])
    view = scope(record, incident)
    assert [a.dedupe_key for a in alerts_until(record, view, T0, limit=3)] == ["s3", "s4", "s5"]


def test_timeline_and_incident_as_of_a_moment(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("Lateral movement", severity="P2")
    clock.advance(minutes=3)
    record.incidents.acknowledge(incident.id, actor="ic")
    clock.advance(minutes=5)
    record.incidents.update(incident.id, severity="P0", phase="containment")
    record.timeline.add(incident.id, "note", "isolated payment", actor="ic")
    clock.advance(minutes=50)
    # Written late: the containment happened at T+10, recorded at T+58.
    record.incidents.update(
        incident.id, status="contained", contained_at=T0 + timedelta(minutes=10)
    )
    final = record.incidents.get_required(incident.id)
    entries = record.timeline.for_incident(incident.id)

    early = incident_as_of(final, entries, T0 + timedelta(minutes=2))
    assert (early.severity, early.phase, early.status) == ("P2", "detection", "open")
    assert early.acknowledged_at is None
    assert early.contained_at is None
    assert [e.kind for e in timeline_until(entries, T0 + timedelta(minutes=2))] == [
        "incident.opened"
    ]

    middle = incident_as_of(final, entries, T0 + timedelta(minutes=11))
    assert middle.acknowledged_at == T0 + timedelta(minutes=3)
    assert (middle.severity, middle.phase) == ("P0", "containment")
    assert middle.contained_at == T0 + timedelta(minutes=10)  # the moment it names has passed
    assert middle.status == "open"  # the status change was written only at T+58
    assert len(timeline_until(entries, T0 + timedelta(minutes=11))) == 4

    assert incident_as_of(final, entries, T0 + timedelta(hours=2)) == final
    before = incident_as_of(final, entries, T0 - timedelta(minutes=4))
    assert before.detected_at == final.detected_at
    assert before.severity == "P2"
