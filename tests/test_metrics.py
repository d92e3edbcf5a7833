"""Metrics from constructed incidents with known times: exact medians, p90s, false positives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store import Record
from store.metrics import compute, median, p90, render_text
from tests.plugins.record import FrozenClock

T0 = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)


def make_incident(
    record: Record,
    clock: FrozenClock,
    *,
    detected: datetime,
    ack_after: float | None = None,
    contain_after: float | None = None,
    recover_after: float | None = None,
    first_alert_before: float | None = None,
    drill: bool = False,
    false_positive: bool = False,
    severity: str = "P1",
    category: str | None = "exfiltration",
) -> str:
    """An incident detected at `detected`; the other times in minutes after detection."""
    clock.now = detected
    fields: dict[str, Any] = {"category": category} if category else {}
    incident = record.incidents.open("constructed", severity=severity, drill=drill, **fields)
    changes: dict[str, Any] = {}
    for name, minutes in (
        ("acknowledged_at", ack_after),
        ("contained_at", contain_after),
        ("recovered_at", recover_after),
    ):
        if minutes is not None:
            changes[name] = detected + timedelta(minutes=minutes)
    if false_positive:
        changes["false_positive"] = True
    if changes:
        record.incidents.update(incident.id, **changes)
    if first_alert_before is not None:
        at = detected - timedelta(minutes=first_alert_before)
        record.alerts.add_batch(
            [
                {
                    "incident_id": incident.id,
                    "dedupe_key": f"{incident.id}-{n}",
                    "time": at.isoformat(),
                    "time_ns": int(at.timestamp()) * 1_000_000_000 + n * 60_000_000_000,
                    # Received as they happened: the incident was opened after them.
                    "received_at": (at + timedelta(minutes=n)).isoformat(),
                    "rule": "r",
                    "priority": "Warning",
                    "output": "o",
                    "output_fields": json.dumps({}),
                }
                for n in range(3)
            ]
        )
    return incident.id


def test_percentiles_are_defined_as_documented() -> None:
    assert median([1.0, 3.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    # Nearest rank: ceil(0.9 * 10) = 9th smallest of 1..10.
    assert p90([float(n) for n in range(10, 0, -1)]) == 9.0
    assert p90([4.0]) == 4.0
    assert p90([1.0, 2.0, 3.0, 4.0, 5.0]) == 5.0


def test_mttd_mttc_mttr_median_p90_and_false_positive_rate(
    record: Record, clock: FrozenClock
) -> None:
    # Acknowledged after 2, 4, 6, 8 minutes; contained after 10, 20, 30; recovered after 60, 180.
    make_incident(record, clock, detected=T0, ack_after=2, contain_after=10, recover_after=60)
    make_incident(
        record,
        clock,
        detected=T0 + timedelta(days=1),
        ack_after=4,
        contain_after=20,
        recover_after=180,
    )
    make_incident(record, clock, detected=T0 + timedelta(days=2), ack_after=6, contain_after=30)
    make_incident(record, clock, detected=T0 + timedelta(days=3), ack_after=8)
    # A false positive: counted for MTTD and the FP rate, not for containment or recovery.
    make_incident(
        record,
        clock,
        detected=T0 + timedelta(days=4),
        ack_after=10,
        contain_after=1,
        recover_after=1,
        false_positive=True,
    )
    # Never acknowledged: no sample, still an incident.
    make_incident(record, clock, detected=T0 + timedelta(days=5))

    real = compute(record).groups["real"]
    assert real.incidents == 6
    mttd, mttc, mttr = real.measures["mttd"], real.measures["mttc"], real.measures["mttr"]
    assert sorted(mttd.samples) == [120.0, 240.0, 360.0, 480.0, 600.0]
    assert (mttd.median, mttd.p90, mttd.mean) == (360.0, 600.0, 360.0)
    assert mttd.met is False  # 6 min median, target < 5 min
    assert sorted(mttc.samples) == [600.0, 1200.0, 1800.0]
    assert (mttc.median, mttc.p90) == (1200.0, 1800.0)
    assert mttc.met is False  # 20 min, target < 15 min
    assert (mttr.median, mttr.p90) == (7200.0, 10800.0)  # mean of 1 h and 3 h; p90 = 3 h
    assert mttr.met is False  # exactly 2 h is not under 2 h
    assert real.false_positives == 1
    assert real.false_positive_rate == pytest.approx(1 / 6)
    assert real.to_dict()["false_positive_rate"]["met"] is False


def test_detection_is_measured_from_the_first_alert(record: Record, clock: FrozenClock) -> None:
    make_incident(
        record,
        clock,
        detected=T0,
        ack_after=1,
        contain_after=5,
        recover_after=30,
        first_alert_before=3,
    )
    real = compute(record).groups["real"]
    assert real.measures["mttd"].samples == (240.0,)
    assert real.measures["mttc"].samples == (480.0,)
    assert real.measures["mttr"].samples == (1980.0,)
    assert real.measures["mttd"].met is True


def test_drills_and_real_incidents_are_kept_apart(record: Record, clock: FrozenClock) -> None:
    make_incident(record, clock, detected=T0, ack_after=1)
    make_incident(record, clock, detected=T0, ack_after=30, drill=True)
    make_incident(record, clock, detected=T0, ack_after=40, drill=True, false_positive=True)
    metrics = compute(record)
    assert metrics.groups["real"].measures["mttd"].samples == (60.0,)
    assert metrics.groups["real"].false_positive_rate == 0.0
    drill = metrics.groups["drill"]
    assert drill.incidents == 2
    assert drill.measures["mttd"].median == 2100.0
    assert drill.false_positive_rate == 0.5


def test_a_decision_of_false_positive_counts_without_the_flag(
    record: Record, clock: FrozenClock
) -> None:
    first = make_incident(record, clock, detected=T0, ack_after=1)
    make_incident(record, clock, detected=T0, ack_after=1)
    record.decisions.add(first, "false-positive", rationale="scanner of our own")
    assert compute(record).groups["real"].false_positives == 1


def test_since_keeps_incidents_detected_from_that_moment(
    record: Record, clock: FrozenClock
) -> None:
    make_incident(record, clock, detected=T0, ack_after=1)
    make_incident(record, clock, detected=T0 + timedelta(days=10), ack_after=3)
    since = compute(record, since=T0 + timedelta(days=10))
    assert since.groups["real"].incidents == 1
    assert since.groups["real"].measures["mttd"].samples == (180.0,)
    with pytest.raises(ValueError, match="timezone-aware"):
        compute(record, since=datetime(2026, 1, 1))  # noqa: DTZ001 - the mistake under test


def test_trend_counts_incidents_per_month_severity_and_category(
    record: Record, clock: FrozenClock
) -> None:
    jan, feb, apr = (datetime(2026, m, 10, tzinfo=UTC) for m in (1, 2, 4))
    make_incident(record, clock, detected=jan, severity="P0", category="exfiltration")
    make_incident(record, clock, detected=jan, severity="P2", category="policy-drift")
    make_incident(record, clock, detected=feb, severity="P2", category="policy-drift")
    make_incident(record, clock, detected=apr, severity="P3", category=None)
    make_incident(record, clock, detected=apr, severity="P1", drill=True)
    real = compute(record).groups["real"]
    assert [row.to_dict() for row in real.months] == [
        {
            "period": "2026-01",
            "total": 2,
            "by_severity": {"P0": 1, "P1": 0, "P2": 1, "P3": 0},
            "by_category": {"exfiltration": 1, "policy-drift": 1},
        },
        {
            "period": "2026-02",
            "total": 1,
            "by_severity": {"P0": 0, "P1": 0, "P2": 1, "P3": 0},
            "by_category": {"policy-drift": 1},
        },
        {
            "period": "2026-04",
            "total": 1,
            "by_severity": {"P0": 0, "P1": 0, "P2": 0, "P3": 1},
            "by_category": {"uncategorised": 1},
        },
    ]
    assert [(row.period, row.total) for row in real.quarters] == [("2026-Q1", 3), ("2026-Q2", 1)]
    text = render_text(compute(record))
    assert "| 2026-01 | 1 | 0 | 1 | 0 | 2 | exfiltration 1, policy-drift 1 |" in text
    assert "| **2026-Q1** | 1 | 0 | 2 | 0 | 3 | exfiltration 1, policy-drift 2 |" in text
    assert text.index("| **2026-Q1**") < text.index("| 2026-04 |") < text.index("| **2026-Q2**")


def test_no_incidents_gives_no_data_not_an_error(record: Record) -> None:
    document = compute(record).to_dict()
    assert document["groups"]["real"]["incidents"] == 0
    assert document["groups"]["real"]["mttd"]["median_seconds"] is None
    assert document["groups"]["real"]["mttd"]["met"] is None
    assert document["groups"]["real"]["false_positive_rate"]["rate"] is None
    assert "no data" in render_text(compute(record))


def test_hostile_category_cannot_break_the_trend_table(record: Record, clock: FrozenClock) -> None:
    make_incident(record, clock, detected=T0, category="a | b\n# c \x1b[2J")
    text = render_text(compute(record))
    assert "\x1b" not in text
    assert "a \\| b ↵ # c ␛\\[2J 1 |" in text


def test_measures_are_grouped_by_the_incidents_runbook_class(
    record: Record, clock: FrozenClock
) -> None:
    make_incident(record, clock, detected=T0, ack_after=2, category="dns-exfiltration")
    make_incident(
        record, clock, detected=T0 + timedelta(days=1), ack_after=8, category="dns-exfiltration"
    )
    make_incident(
        record,
        clock,
        detected=T0 + timedelta(days=2),
        ack_after=1,
        false_positive=True,
        category="monitoring-alert",
    )
    make_incident(record, clock, detected=T0 + timedelta(days=3), category=None)
    real = compute(record).groups["real"]
    assert list(real.by_class) == ["dns-exfiltration", "monitoring-alert", "uncategorised"]
    dns = real.by_class["dns-exfiltration"]
    assert (dns.incidents, dns.measures["mttd"].samples) == (2, (120.0, 480.0))
    assert dns.measures["mttd"].median == 300.0
    assert dns.measures["mttd"].met is False  # exactly 5 min is not under 5 min
    fp = real.by_class["monitoring-alert"]
    assert (fp.false_positives, fp.false_positive_rate) == (1, 1.0)
    document = compute(record).to_dict()["groups"]["real"]["by_class"]
    assert document["dns-exfiltration"]["mttd"]["median_seconds"] == 300.0
    assert document["uncategorised"]["incidents"] == 1
    text = render_text(compute(record))
    assert "| dns-exfiltration | 2 | 5m 00s (2) MISSED | n/a | n/a | 0/2 |" in text
    assert "| monitoring-alert | 1 | 1m 00s (1) | n/a | n/a | 1/1 |" in text


def test_metrics_use_the_one_definition_of_the_response_times(
    record: Record, clock: FrozenClock
) -> None:
    """The same incident gives the same MTTD to metrics as to `store.response_times`."""
    from store.response_times import incident_response_times

    incident_id = make_incident(
        record, clock, detected=T0, ack_after=4, contain_after=9, first_alert_before=2
    )
    times = incident_response_times(record, incident_id)
    real = compute(record).groups["real"]
    assert real.measures["mttd"].samples == (times["mttd"].seconds(),) == (360.0,)
    assert real.measures["mttc"].samples == (times["mttc"].seconds(),) == (660.0,)
