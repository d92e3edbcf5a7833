"""`store.report`: the runbook's template filled from the record, hostile text kept as data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from store import Record, UnknownIncident
from store.report.deadlines import EXECUTIVE_SUMMARY, mark_done
from store.report.render import RUNBOOK_ACTION_ITEMS, render_executive, render_report
from store.report.sections import SECTIONS, sections, set_section
from tests.plugins.record import FrozenClock

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")

# The runbook's Phase 5 Incident Report Template, verbatim (runbook.md).
TEMPLATE = """\
# Network Security Incident Report

**Incident ID**: NSI-YYYY-MM-DD-XXX
**Date/Time**:
**Severity**:
**Duration**:
**Affected Services**:

## Summary

Brief description of the incident

## Timeline

- Detection:
- Containment:
- Resolution:

## Root Cause

Technical details of what caused the incident

## Impact Assessment

- Business impact
- Technical impact
- Security implications

## Response Actions

- What worked well
- What could be improved

## Preventive Measures

- Configuration changes
- Process improvements
- Monitoring enhancements
"""
EXTRA_HEADINGS = [
    "## Action Items",
    "## Alerts",
    "## Evidence",
    "## Reporting Deadlines",
    "## Audit Chain",
    "## Appendix: Full Timeline",
]
HOSTILE = (
    "# heading\n| pipe | [link](javascript:x) ![img](x) <script>x</script> `tick` "
    "\x1b[31m [/oops] **b** _e_ > q\n- item\n1. one"
)


def template_skeleton() -> list[str]:
    """Headings exactly; field and bullet lines up to their label."""
    skeleton = []
    for line in TEMPLATE.splitlines():
        if line.startswith("#"):
            skeleton.append(line)
        elif line.startswith("**"):
            skeleton.append(line[: line.index("**:") + 3])
        elif line.startswith("- "):
            skeleton.append(line.rstrip(":"))
    return skeleton


def headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#")]


def falco_alert(
    incident_id: str, n: int, at: datetime, *, pod: str, rule: str = "Outbound DNS"
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "dedupe_key": f"{incident_id}-{n}",
        "time": at.isoformat().replace("+00:00", "Z"),
        "time_ns": int(at.timestamp()) * 1_000_000_000 + n,
        "received_at": at.isoformat(),  # received as it happened: before the incident opened
        "rule": rule,
        "priority": "Critical",
        "output": f"dns query from {pod}",
        "output_fields": json.dumps({"k8s.pod.name": pod, "k8s.ns.name": "voicehive"}),
        "severity": "P0",
        "category": "exfiltration",
    }


@pytest.fixture
def story(record: Record, clock: FrozenClock) -> str:
    """A contained, recovered P0 with alerts, actions, a decision, a note, evidence and sections."""
    start = clock.now
    incident = record.incidents.open(
        "DNS tunnelling from payment", severity="P0", category="exfiltration"
    )
    record.alerts.add_batch(
        [
            falco_alert(incident.id, n, start - timedelta(minutes=2), pod="payment-7d9f-abcde")
            for n in range(3)
        ]
        + [
            falco_alert(
                incident.id, 9, start - timedelta(minutes=1), pod="api-gateway-1", rule="Shell"
            )
        ]
    )
    clock.advance(minutes=3)
    record.incidents.acknowledge(incident.id, actor="alice")
    clock.advance(minutes=5)
    isolate = record.actions.intent(incident.id, "isolate", "payment", actor="alice")
    clock.advance(seconds=10)
    record.actions.outcome(isolate, "succeeded", "NetworkPolicy isolate-payment applied")
    block = record.actions.intent(incident.id, "block-ip", "203.0.113.9", actor="alice")
    record.actions.outcome(block, "failed", "403 Forbidden")
    record.actions.intent(incident.id, "rotate-sa", "payment-sa", actor="bob")
    record.incidents.update(incident.id, contained_at=clock.now, status="contained")
    record.decisions.add(
        incident.id, "active-attack", rationale="TXT queries to a fresh domain", actor="alice"
    )
    record.timeline.add(incident.id, "note", "image pulled from an unknown registry", actor="bob")
    record.evidence.add(incident.id, "payment-pod.log", b"log line\n", source="kubectl logs")
    set_section(record, incident.id, "root_cause", "A compromised base image.", "alice")
    set_section(record, incident.id, "impact_business", "Payments paused 20 minutes.", "alice")
    set_section(record, incident.id, "prevent_monitoring", "Alert on TXT query volume.", "alice")
    set_section(record, incident.id, "action_items", "Pin base images\nAdd egress policy", "alice")
    record.checklist.tick(incident.id, "lessons-learned", RUNBOOK_ACTION_ITEMS[1], actor="alice")
    clock.advance(minutes=50)
    record.incidents.update(
        incident.id, recovered_at=clock.now, status="recovered", phase="recovery"
    )
    return incident.id


def test_headings_and_fields_follow_the_runbook_template_in_order(
    record: Record, story: str
) -> None:
    report = render_report(record, story)
    lines = report.splitlines()
    position = -1
    for expected in template_skeleton():
        matches = [i for i, line in enumerate(lines) if i > position and line.startswith(expected)]
        assert matches, f"{expected!r} missing or out of order"
        position = matches[0]
    template_headings = [line for line in template_skeleton() if line.startswith("#")]
    assert headings(report) == template_headings + EXTRA_HEADINGS


def test_header_block_is_filled_from_the_record(record: Record, story: str) -> None:
    report = render_report(record, story)
    assert report.splitlines()[:8] == [
        "# Network Security Incident Report",
        "",
        f"**Incident ID**: {story}  ",
        "**Date/Time**: 2026-03-14 09:00:00 UTC  ",
        "**Severity**: P0 (Critical)  ",
        # First alert 08:58:00 to recovery 09:58:10.
        "**Duration**: 1h 00m 10s  ",
        "**Affected Services**: payment (isolate); payment-sa (rotate-sa); "
        "pods in alerts: voicehive/payment-7d9f-abcde (3 alerts), "
        "voicehive/api-gateway-1 (1 alert)",
        "",
    ]


def test_key_times_count_from_the_first_sign_and_the_appendix_from_detection(
    record: Record, story: str
) -> None:
    report = render_report(record, story)
    # The first alert (08:58) came before detection (09:00): the clocks start at it.
    assert (
        "- Detection: 2026-03-14 09:00:00 UTC (first alert 2026-03-14 08:58:00 UTC; "
        "acknowledged 2026-03-14 09:03:00 UTC, +00:05:00 after the first sign)"
    ) in report
    assert "- Containment: 2026-03-14 09:08:10 UTC, +00:10:10 after the first sign" in report
    assert "- Resolution: 2026-03-14 09:58:10 UTC, +01:00:10 after the first sign" in report
    assert (
        "- Response times from the first sign (2026-03-14 08:58:00 UTC): "
        "MTTD 5m 00s (target < 5m 00s: MISSED); MTTC 10m 10s (target < 15m 00s: met); "
        "MTTR 1h 00m 10s (target < 2h 00m 00s: met)"
    ) in report
    appendix = report.split("## Appendix: Full Timeline")[1]
    assert "| +00:00:00 | 2026-03-14 09:00:00 UTC |" in appendix
    assert "| +00:58:10 | 2026-03-14 09:58:10 UTC |" in appendix
    assert appendix.count("\n| ") - 1 == record.timeline.count(story)


def test_sections_decisions_notes_actions_and_evidence_land_where_the_template_says(
    record: Record, story: str
) -> None:
    report = render_report(record, story)
    root = report.split("## Root Cause")[1].split("## Impact Assessment")[0]
    assert "A compromised base image." in root
    assert "active-attack by alice: TXT queries to a fresh domain" in root
    assert "(bob): image pulled from an unknown registry" in root
    impact = report.split("## Impact Assessment")[1].split("## Response Actions")[0]
    assert "- Business impact: Payments paused 20 minutes." in impact
    response = report.split("## Response Actions")[1].split("## Preventive Measures")[0]
    worked, improve = response.split("- What could be improved")
    assert "isolate payment by alice: succeeded" in worked
    assert "NetworkPolicy isolate-payment applied" in worked
    assert "block-ip 203.0.113.9 by alice: failed" in improve
    assert "403 Forbidden" in improve
    assert "rotate-sa payment-sa by bob: outcome unknown" in improve
    assert "- Monitoring enhancements: Alert on TXT query volume." in report
    items = report.split("## Action Items")[1].split("## Alerts")[0]
    assert f"- [ ] {RUNBOOK_ACTION_ITEMS[0]}" in items
    assert f"- [x] {RUNBOOK_ACTION_ITEMS[1]}" in items
    assert "- [ ] Pin base images" in items
    assert "- [ ] Add egress policy" in items
    digest = record.evidence.for_incident(story)[0].sha256
    assert f"| payment-pod.log | `{digest}` | 9 |" in report


def test_audit_chain_head_is_quoted_with_the_command_to_verify(record: Record, story: str) -> None:
    entries, head_hash = record.head()
    report = render_report(record, story)
    assert f"chain entry {entries} (head hash `{head_hash}`)" in report
    assert f"`warroom --db {record.path} verify`" in report


def test_alerts_are_summarised_and_listed_at_most_n(record: Record, story: str) -> None:
    report = render_report(record, story, alert_rows=2)
    assert "4 alerts from 2026-03-14 08:58:00 UTC to 2026-03-14 08:59:00 UTC." in report
    assert "| Outbound DNS | Critical | 3 |" in report
    assert "| voicehive | payment-7d9f-abcde | 3 |" in report
    assert "First 2 of 4 alerts:" in report
    listed = report.split("First 2 of 4 alerts:")[1].split("## Evidence")[0]
    assert listed.count("dns query from") == 2


def test_hostile_text_everywhere_cannot_change_the_structure(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open(HOSTILE, severity="P1", category=HOSTILE)
    alert = falco_alert(incident.id, 1, clock.now, pod=HOSTILE, rule=HOSTILE)
    alert["output"] = HOSTILE
    alert["output_fields"] = json.dumps({"k8s.pod.name": HOSTILE, "k8s.ns.name": HOSTILE})
    record.alerts.add_batch([alert])
    action = record.actions.intent(incident.id, HOSTILE, HOSTILE, actor=HOSTILE)
    record.actions.outcome(action, "failed", HOSTILE)
    record.decisions.add(
        incident.id, "escalate", rationale=HOSTILE, rule_to_tune=HOSTILE, actor=HOSTILE
    )
    record.timeline.add(incident.id, "note", HOSTILE, actor=HOSTILE)
    record.evidence.add(incident.id, HOSTILE, b"x", source=HOSTILE)
    for section in SECTIONS:
        set_section(record, incident.id, section, HOSTILE, HOSTILE)

    for report, expected in (
        (render_report(record, incident.id), [*template_skeleton_headings(), *EXTRA_HEADINGS]),
        (render_executive(record, incident.id), None),
    ):
        assert "\x1b" not in report
        tokens = MD.parse(report)
        found = [t for t in tokens if t.type == "heading_open"]
        if expected is not None:
            assert [t.markup + " " + tokens[tokens.index(t) + 1].content for t in found] == expected
        for token in tokens:
            assert token.type not in (
                "html_block",
                "blockquote_open",
                "ordered_list_open",
                "code_block",
                "fence",
                "hr",
            )
            for child in token.children or []:
                assert child.type not in ("link_open", "image", "html_inline", "em_open", "s_open")
                if child.type == "code_inline":
                    assert len(child.content) == 64 or child.content.startswith("warroom --db")
                if child.type == "strong_open":
                    children = token.children or []
                    label = children[children.index(child) + 1].content
                    assert label in (
                        "Incident ID",
                        "Date/Time",
                        "Severity",
                        "Status",
                        "Duration",
                        "Affected Services",
                    )
        # The hostile text survives as readable data.
        visible = (
            "# heading ↵ | pipe | [link](javascript:x) ![img](x) <script>x</script> `tick` "
            "␛[31m [/oops]"
        )
        text = "".join(
            c.content
            for t in tokens
            if t.type == "inline"
            for c in t.children or []
            if c.type == "text"
        )
        assert visible in text


def template_skeleton_headings() -> list[str]:
    return [line for line in template_skeleton() if line.startswith("#")]


def test_executive_summary_variant(record: Record, story: str) -> None:
    summary = render_executive(record, story)
    assert headings(summary) == [
        "# Network Security Incident Executive Summary",
        "## Summary",
        "## Key Times",
        "## Impact Assessment",
        "## Response",
        "## Reporting Deadlines",
        "## Audit Chain",
    ]
    assert "**Status**: recovered, phase recovery" in summary
    assert "MTTD 5m 00s (target < 5m 00s: MISSED); MTTC 10m 10s" in summary
    assert "- 1 response action worked, 2 failed or have no known outcome" in summary
    assert "- executive summary overdue" not in summary
    assert "- executive summary due in 23h 1m (due 2026-03-15 09:00:00 UTC)" in summary
    mark_done(record, story, EXECUTIVE_SUMMARY, actor="alice")
    assert "- executive summary done 2026-03-14 09:58 UTC" in render_executive(record, story)


def test_an_open_incident_reports_its_duration_so_far(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("Port scan", severity="P3")
    clock.advance(minutes=90)
    report = render_report(record, incident.id)
    assert "**Duration**: ongoing (1h 30m 00s so far, status open)" in report
    assert "- Containment: not recorded" in report
    assert (
        "MTTD not reached (1h 30m 00s so far, target < 5m 00s); "
        "MTTC not reached (1h 30m 00s so far, target < 15m 00s)"
    ) in report
    clock.advance(minutes=30)
    record.incidents.close(incident.id, resolution="a scanner we run", false_positive=True)
    clock.advance(hours=5)
    closed = render_report(record, incident.id)
    assert "MTTD not reached (2h 00m 00s until closed, target < 5m 00s)" in closed
    assert "MTTC n/a (a false positive: nothing to contain or recover)" in closed
    assert "No alerts recorded for this incident." in report
    assert "Not yet determined: no root cause, decision or note recorded." in report


def test_unknown_incident_raises(record: Record) -> None:
    with pytest.raises(UnknownIncident):
        render_report(record, "NSI-2026-01-01-999")


def test_sections_are_kept_in_the_record_latest_wins(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("x")
    set_section(record, incident.id, "summary", "first draft", "alice")
    set_section(record, incident.id, "summary", "final", "bob")
    set_section(record, incident.id, "root_cause", "cause", "bob")
    set_section(record, incident.id, "root_cause", "  ", "bob")
    assert sections(record, incident.id) == {"summary": "final"}
    kinds = [e.kind for e in record.timeline.for_incident(incident.id)]
    assert kinds.count("report.section") == 4
    with pytest.raises(ValueError, match="unknown report section"):
        set_section(record, incident.id, "nope", "x", None)
    with pytest.raises(UnknownIncident):
        set_section(record, "NSI-2000-01-01-001", "summary", "x", None)


def test_the_report_does_not_write_to_the_record(
    record_path: Path, story: str, record: Record
) -> None:
    before = record.head()
    with Record.open(record_path, readonly=True) as readonly:
        render_report(readonly, story, now=datetime(2026, 3, 20, tzinfo=UTC))
    assert record.head() == before


def test_the_report_reads_one_snapshot_of_the_record(record: Record, story: str) -> None:
    from store.report.render import _snapshot

    with _snapshot(record) as snapshot:
        head = snapshot.head()
        record.timeline.add(story, "note", "written while the report was being produced")
        assert snapshot.head() == head
        assert snapshot.timeline.count(story) == record.timeline.count(story) - 1
    assert record.head()[0] == head[0] + 1



def test_a_blocked_address_is_not_an_affected_service(record: Record) -> None:
    """The address a block-ip stopped is the other side; Response Actions names it."""
    incident = record.incidents.open("beacon", severity="P1").id
    for action, target in (("block-ip", "203.0.113.66"), ("block-ip", "198.51.100.0/24"),
                           ("isolate", "tts-router")):  # fmt: skip
        record.actions.outcome(record.actions.intent(incident, action, target), "succeeded", "ok")
    report = render_report(record, incident)
    assert report.splitlines()[6] == "**Affected Services**: tts-router (isolate)"
    actions = report.split("## Response Actions")[1]
    assert "203.0.113.66" in actions
    assert "198.51.100.0/24" in actions

def test_long_lists_are_capped_in_sections_and_whole_in_the_appendix(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("noisy", severity="P2").id
    for n in range(60):
        record.timeline.add(incident, "note", f"note {n}")
        action = record.actions.intent(incident, "isolate", f"service-{n}")
        record.actions.outcome(action, "succeeded", "isolated")
    report = render_report(record, incident)
    root = report.split("## Root Cause")[1].split("## Impact Assessment")[0]
    assert root.count("- Note ") == 50
    assert "- and 10 more notes: see the full timeline" in root
    assert "and 50 more action targets" in report.splitlines()[6]
    appendix = report.split("## Appendix: Full Timeline")[1]
    assert "| note 59 |" in appendix
