"""store.alert_summary: exact counts from the rollup plus the alerts recorded after it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from store import Record, verify_chain
from store.alert_summary import refresh_rollup, rollup_mark, summarise_alerts

BASE_NS = int(datetime(2026, 3, 14, 9, 0, tzinfo=UTC).timestamp()) * 1_000_000_000


def alerts(
    incident_id: str | None,
    start: int,
    count: int,
    *,
    fields: Callable[[int], object] | None = None,
    time_ns: bool = True,
) -> list[dict[str, Any]]:
    rows = []
    for n in range(start, start + count):
        output_fields = (
            fields(n) if fields else {"k8s.pod.name": f"pod-{n % 3}", "k8s.ns.name": "voicehive"}
        )
        rows.append(
            {
                "incident_id": incident_id,
                "dedupe_key": f"{incident_id}-{n}",
                "time": f"2026-03-14T09:00:{n % 60:02d}Z",
                "time_ns": BASE_NS + n * 1_000_000_000 if time_ns else None,
                "rule": f"rule-{n % 2}",
                "priority": "Critical" if n % 4 else "Warning",
                "output": f"alert {n}",
                "output_fields": output_fields
                if isinstance(output_fields, str)
                else json.dumps(output_fields),
            }
        )
    return rows


def summary_tuple(record: Record, incident_id: str) -> tuple[object, ...]:
    s = summarise_alerts(record, incident_id, rows=3)
    return (s.total, s.first, s.last, s.by_rule, s.rules, s.pods, s.pod_count, s.listed)


def test_summary_counts_by_rule_priority_and_pod(record: Record) -> None:
    incident = record.incidents.open("x").id
    other = record.incidents.open("y").id
    record.alerts.add_batch(alerts(incident, 0, 12) + alerts(other, 100, 5) + alerts(None, 200, 4))
    summary = summarise_alerts(record, incident, rows=2)
    assert summary.total == 12
    assert summary.first == datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)
    assert summary.last == datetime(2026, 3, 14, 9, 0, 11, tzinfo=UTC)
    # n % 2 picks the rule, n % 4 == 0 is Warning: rule-0 has 3 Warning and 3 Critical.
    assert summary.by_rule == [
        ("rule-1", "Critical", 6),
        ("rule-0", "Critical", 3),
        ("rule-0", "Warning", 3),
    ]
    assert summary.rules == 3
    assert summary.pods == [
        ("voicehive", "pod-0", 4),
        ("voicehive", "pod-1", 4),
        ("voicehive", "pod-2", 4),
    ]
    assert summary.pod_count == 3
    assert [row[4] for row in summary.listed] == ["alert 0", "alert 1"]


def test_rollup_plus_newer_alerts_is_exact(record: Record) -> None:
    incident = record.incidents.open("x").id
    record.alerts.add_batch(alerts(incident, 0, 30))
    # Recording a batch folds it into the rollup in the same write.
    assert rollup_mark(record) > 0
    assert refresh_rollup(record) == 0
    assert summary_tuple(record, incident)[0] == 30
    # Alerts past the rollup (as a record from an older warroom holds) are counted
    # live, then folded in by the next refresh.
    with record.write() as txn:
        txn.append("alerts", alerts(incident, 30, 9))
    with_delta = summary_tuple(record, incident)
    assert with_delta[0] == 39
    assert refresh_rollup(record) == 9
    assert refresh_rollup(record) == 0
    assert summary_tuple(record, incident) == with_delta
    fresh_rows = record.query("SELECT count(*) FROM alert_rollup")[0][0]
    # One row per combination that occurs, merged across refreshes: odd n is rule-1 and
    # Critical (3 pods); even n is rule-0, Warning or Critical (2 x 3 pods).
    assert fresh_rows == 9
    # Derived data: the audit chain does not change and still verifies.
    assert verify_chain(record.conn).ok


def test_rollup_is_readable_from_a_readonly_record(record: Record, record_path: Path) -> None:
    incident = record.incidents.open("x").id
    record.alerts.add_batch(alerts(incident, 0, 10))
    with record.write() as txn:  # newer than the rollup
        txn.append("alerts", alerts(incident, 10, 2))
    with Record.open(record_path, readonly=True) as readonly:
        assert summarise_alerts(readonly, incident).total == 12


@pytest.mark.parametrize(
    "fields",
    [
        "{not json",
        {"k8s.pod.name": None, "k8s.ns.name": None},
        {"k8s.pod.name": "<NA>"},
        {"k8s_pod_name": "text-form-pod", "k8s_ns_name": "voicehive"},
        {"k8s_pod_name": "old-text-pod", "k8s_ns": "legacy"},
    ],
)
def test_odd_output_fields_do_not_break_the_summary(record: Record, fields: object) -> None:
    incident = record.incidents.open("x").id
    record.alerts.add_batch(alerts(incident, 0, 2, fields=lambda n: fields))
    for refresh in (False, True):
        if refresh:
            refresh_rollup(record)
        summary = summarise_alerts(record, incident)
        assert summary.total == 2
        if isinstance(fields, dict) and fields.get("k8s_pod_name"):
            ns = fields.get("k8s_ns_name") or fields.get("k8s_ns")
            assert summary.pods == [(ns, fields["k8s_pod_name"], 2)]
        else:
            assert summary.pods == []
            assert summary.pod_count == 0


def test_alerts_without_a_parsed_time_show_their_written_time(record: Record) -> None:
    incident = record.incidents.open("x").id
    record.alerts.add_batch(alerts(incident, 5, 3, time_ns=False))
    summary = summarise_alerts(record, incident)
    assert summary.first is None
    assert (summary.first_text, summary.last_text) == (
        "2026-03-14T09:00:05Z",
        "2026-03-14T09:00:07Z",
    )


def test_rollup_can_be_refreshed_in_the_write_that_records_the_alerts(record: Record) -> None:
    from store.alert_summary import refresh_rollup_in

    incident = record.incidents.open("x").id
    with record.write() as txn:
        txn.append("alerts", alerts(incident, 0, 7))
        assert refresh_rollup_in(txn.conn) == 7
    assert rollup_mark(record) == record.head()[0]
    assert summarise_alerts(record, incident).total == 7
    assert verify_chain(record.conn).ok


def test_the_reports_alerts_section_lists_each_rule_with_first_and_last_seen_and_pods(
    record: Record,
) -> None:
    from store.report.render import render_report

    incident = record.incidents.open("Tunnel").id
    # rule-1 fires on the odd ones (all Critical): one alert on each of four pods.
    pods = ["web-c", "orchestrator-a", "web-c", "db-b", "x", "api-d", "y", "web-c"]
    record.alerts.add_batch(
        alerts(
            incident,
            0,
            len(pods),
            fields=lambda n: {"k8s.pod.name": pods[n], "k8s.ns.name": "voicehive"},
        )
    )
    (first, second) = summarise_alerts(record, incident).rule_summaries[:2]
    assert (first.rule, first.priority, first.count) == ("rule-1", "Critical", 4)
    assert first.first == datetime(2026, 3, 14, 9, 0, 1, tzinfo=UTC)
    assert first.last == datetime(2026, 3, 14, 9, 0, 7, tzinfo=UTC)
    assert (first.pods, first.pod_count) == (
        ("voicehive/api-d", "voicehive/db-b", "voicehive/orchestrator-a"),
        4,
    )
    record.incidents.close(incident, resolution="the tunnel domain is sinkholed")
    report = render_report(record, incident)
    assert (
        "| rule-1 | Critical | 4 | 2026-03-14 09:00:01 UTC | 2026-03-14 09:00:07 UTC "
        "| voicehive/api-d, voicehive/db-b, voicehive/orchestrator-a and 1 more |"
    ) in report
    assert "Resolution: the tunnel domain is sinkholed" in report
    assert (second.rule, second.priority, second.pods) == (
        "rule-0",
        "Critical",
        ("voicehive/web-c", "voicehive/y"),
    )


@pytest.mark.parametrize("rolled_up", [False, True], ids=["live", "rollup"])
def test_a_nul_in_a_pod_name_is_shown_whole_in_every_report_cell(
    record: Record, rolled_up: bool
) -> None:
    """SQLite's json_extract ended "a\\x00b" at the NUL: the Pods and Pod columns said "a"."""
    from store.report.render import render_report
    from store.safe_text import describe

    incident = record.incidents.open("NUL").id
    names = ["a\x00b", "a\x00c", "plain"]
    record.alerts.add_batch(alerts(
        incident, 0, 3, fields=lambda n: {"k8s.pod.name": names[n], "k8s.ns.name": "n\x00s"}))
    if rolled_up:
        refresh_rollup(record)
    summary = summarise_alerts(record, incident)
    assert sorted(pod for _ns, pod, _n in summary.pods) == sorted(names)  # two pods, not one "a"
    assert {ns for ns, _pod, _n in summary.pods} == {"n\x00s"}
    assert sorted(str(row[3]) for row in summary.listed) == sorted(names)
    report = render_report(record, incident)
    nul = describe("\x00")
    assert f"a{nul}b" in report  # as the Output column shows a NUL
    assert f"a{nul}c" in report
    assert f"n{nul}s/a{nul}b" in report
    assert "\x00" not in report
