"""The markdown incident report: the runbook's Phase 5 template, filled from the record.

The template's headings and fields come first, in the runbook's order; what
the record adds (action items, the alert summary, evidence, reporting clocks,
the audit chain's head, the full timeline) follows as further sections.
Every value from the record passes through `store.report.markdown.escape`.

Alerts are summarised in SQL (counts by rule and priority, first and last,
top pods) and at most `alert_rows` of them are listed, so a record with a
million alerts reports in about the time of three indexed scans.

The key times and the response times (MTTD, MTTC, MTTR against the runbook's
targets) count from the incident's first sign, as `store.response_times`
defines them for the header clocks, the drill score and `warroom metrics`.
"""

from __future__ import annotations

import ipaddress
import shlex
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from store.alert_summary import (
    ALERT_ROWS,
    AlertSummary,
    RuleSummary,
    first_alert_time,
    first_received_time,
    summarise_alerts,
)
from store.models import ActionEntry, Incident, TimelineEntry
from store.record import Record
from store.report.deadlines import due_for
from store.report.markdown import code, escape
from store.report.sections import sections as load_sections
from store.response_times import MEASURES, ResponseTime, clock_start, response_times
from store.wording import counted, noun_of

REPORT_TITLE = "# Network Security Incident Report"
EXECUTIVE_TITLE = "# Network Security Incident Executive Summary"
SEVERITY_NAMES = {"P0": "Critical", "P1": "High", "P2": "Medium", "P3": "Low"}
# The runbook's Phase 5 "Action Items", offered as a checklist.
RUNBOOK_ACTION_ITEMS = (
    "Update network policies based on lessons learned",
    "Enhance monitoring and alerting rules",
    "Improve incident response procedures",
    "Conduct security training if needed",
)
WORKED = ("succeeded", "no-op")
MAX_VALUE_CHARS = 300
MAX_LISTED = 50  # notes quoted under Root Cause; all of them are in the appendix
MAX_TARGETS = 10  # action targets named on the Affected Services line
NOTE_KINDS = ("note",)


def _alert_span(alerts: AlertSummary) -> str:
    """ "from X to Y" for an incident's alerts, as parsed times or, failing that, as written."""
    first = _time(alerts.first) if alerts.first else escape(alerts.first_text)
    last = _time(alerts.last) if alerts.last else escape(alerts.last_text)
    return f"from {first} to {last}"


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "not recorded"
    # isoformat, not strftime: the appendix formats ten thousand of these.
    return moment.astimezone(UTC).isoformat(" ", "seconds")[:19] + " UTC"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{sign}{hours // 24}d {hours % 24}h {minutes}m"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"
    return f"{sign}{minutes}m {secs:02d}s"


def _offset(moment: datetime, origin: datetime) -> str:
    seconds = int((moment - origin).total_seconds())
    sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _at(moment: datetime | None, origin: datetime, since: str = "detection") -> str:
    if moment is None:
        return "not recorded"
    return f"{_time(moment)}, {_offset(moment, origin)} after {since}"


def _indent(text: str, prefix: str = "  ") -> str:
    """Indent continuation lines so multi-line text stays inside its list item."""
    return text.replace("\n", "\n" + prefix)


def _cell(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    return escape(value, limit=limit) or " "


@contextmanager
def _snapshot(record: Record) -> Iterator[Record]:
    """A private read-only view in one read transaction, so every figure in the
    report and the chain head it quotes come from the same moment, even while
    another process records alerts."""
    try:
        private = Record.open(record.path, clock=record.clock, readonly=True)
    except (sqlite3.Error, RuntimeError):
        private = None  # e.g. an in-memory record: its own connection will do
    if private is None:
        yield record
        return
    with private:
        private.conn.execute("BEGIN")
        try:
            yield private
        finally:
            private.conn.execute("COMMIT")


class _Facts:
    """Everything the report needs, read from the record once."""

    def __init__(self, record: Record, incident_id: str, now: datetime, alert_rows: int) -> None:
        self.record = record
        self.now = now
        self.incident: Incident = record.incidents.get_required(incident_id)
        self.sections = load_sections(record, incident_id)
        self.timeline: list[TimelineEntry] = record.timeline.for_incident(incident_id)
        self.actions = _pair_actions(record.actions.for_incident(incident_id))
        self.decisions = record.decisions.for_incident(incident_id)
        self.evidence = record.evidence.for_incident(incident_id)
        self.checklist = record.checklist.state(incident_id)
        self.alerts = summarise_alerts(record, incident_id, rows=alert_rows)
        self.first_alert = first_alert_time(record, incident_id)  # Falco's word, for the story
        self.first_received = first_received_time(record, incident_id)  # the clocks' start
        self.entries, self.head_hash = record.head()
        self.due = due_for(record, self.incident, now)

    @property
    def detection(self) -> datetime:
        return self.incident.detected_at or self.incident.opened_at

    @property
    def first_sign(self) -> datetime:
        """Where the incident's clocks start (`store.response_times.clock_start`)."""
        return clock_start(self.incident, self.first_received)

    @property
    def resolution(self) -> datetime | None:
        return self.incident.recovered_at or self.incident.closed_at

    def response_times(self) -> dict[str, ResponseTime]:
        last = self.decisions[-1].decision if self.decisions else None
        return response_times(self.incident, self.first_received, last_decision=last)

    def duration(self) -> str:
        start = self.first_sign
        if self.resolution is not None:
            return _span(self.resolution - start)
        return f"ongoing ({_span(self.now - start)} so far, status {escape(self.incident.status)})"

    def affected_services(self) -> str:
        """The services and accounts the actions touched, then the pods in alerts; a blocked
        address is the other side, not a service (Response Actions names it)."""
        targets: dict[str, list[str]] = {}
        for intent, _outcome in self.actions:
            if intent.target and not _is_address(intent.target):
                targets.setdefault(intent.target, [])
                if intent.action not in targets[intent.target]:
                    targets[intent.target].append(intent.action)
        parts = [
            f"{escape(target)} ({escape(', '.join(actions))})"
            for target, actions in list(targets.items())[:MAX_TARGETS]
        ]
        if len(targets) > MAX_TARGETS:
            parts.append(f"and {len(targets) - MAX_TARGETS} more action targets")
        pods = [
            f"{escape(f'{ns}/{pod}' if ns else pod)} ({counted(count, 'alert', grouped=True)})"
            for ns, pod, count in self.alerts.pods[:5]
        ]
        if pods:
            more = self.alerts.pod_count - len(pods)
            parts.append(
                "pods in alerts: " + ", ".join(pods) + (f", and {more} more" if more > 0 else "")
            )
        if self.incident.namespace and not parts:
            parts.append(f"namespace {escape(self.incident.namespace)}")
        return "; ".join(parts) or "none recorded"


def _is_address(target: str) -> bool:
    try:
        ipaddress.ip_network(target, strict=False)
    except ValueError:
        return False
    return True


def _pair_actions(entries: list[ActionEntry]) -> list[tuple[ActionEntry, ActionEntry | None]]:
    """(intent, its outcome or None) in the order the intents were recorded."""
    outcomes = {e.action_id: e for e in entries if e.entry == "outcome"}
    return [(e, outcomes.get(e.action_id)) for e in entries if e.entry == "intent"]


def _header(facts: _Facts, title: str, *, status: bool = False) -> list[str]:
    incident = facts.incident
    severity = f"{incident.severity} ({SEVERITY_NAMES.get(incident.severity, '?')})"
    kind = " (drill)" if incident.drill else ""
    lines = [
        title,
        "",
        f"**Incident ID**: {escape(incident.id)}{kind}  ",
        f"**Date/Time**: {_time(facts.detection)}  ",
        f"**Severity**: {escape(severity)}  ",
    ]
    if status:
        lines.append(f"**Status**: {escape(incident.status)}, phase {escape(incident.phase)}  ")
    lines += [
        f"**Duration**: {facts.duration()}  ",
        f"**Affected Services**: {facts.affected_services()}",
        "",
    ]
    return lines


def _summary(facts: _Facts) -> list[str]:
    written = facts.sections.get("summary")
    lines = ["## Summary", ""]
    if written:
        lines += [escape(written, multiline=True), ""]
    incident = facts.incident
    generated = f"{escape(incident.title)}."
    if incident.category:
        generated += f" Category: {escape(incident.category)}."
    if facts.alerts.total:
        generated += (
            f" {counted(facts.alerts.total, 'alert', grouped=True)} {_alert_span(facts.alerts)}"
            f" ({counted(facts.alerts.rules, 'rule and priority combination')})."
        )
    if facts.decisions:
        generated += f" Decision: {escape(facts.decisions[-1].decision)}."
    if incident.false_positive:
        generated += " Declared a false positive."
    if incident.data_breach:
        generated += " A data breach was flagged."
    generated += f" Status: {escape(incident.status)}."
    if incident.resolution:
        generated += f" Resolution: {escape(incident.resolution, limit=2000)}"
    prefix = "From the record: " if written else ""
    return lines + [prefix + generated, ""]


FIRST_SIGN = "the first sign"


def _key_times(facts: _Facts) -> list[str]:
    """The template's Detection, Containment and Resolution, then the response times:
    each counted from the incident's first sign, as the header and the score count."""
    incident, origin = facts.incident, facts.first_sign
    detection = _time(facts.detection)
    details = []
    if facts.first_alert is not None:
        details.append(f"first alert {_time(facts.first_alert)}")
    if incident.acknowledged_at is not None:
        details.append(f"acknowledged {_at(incident.acknowledged_at, origin, FIRST_SIGN)}")
    if details:
        detection += " (" + "; ".join(details) + ")"
    resolution = _at(facts.resolution, origin, FIRST_SIGN)
    if incident.closed_at is not None and incident.recovered_at is not None:
        resolution += f"; closed {_time(incident.closed_at)}"
    if incident.resolution:
        resolution += f": {escape(incident.resolution, limit=2000)}"
    times = facts.response_times()
    return [
        f"- Detection: {detection}",
        f"- Containment: {_at(incident.contained_at, origin, FIRST_SIGN)}",
        f"- Resolution: {resolution}",
        f"- Response times from {FIRST_SIGN} ({_time(origin)}): "
        + "; ".join(_response_time(times[key], facts.now, incident.closed_at) for key in MEASURES),
    ]


def _response_time(time: ResponseTime, now: datetime, closed_at: datetime | None) -> str:
    """`MTTD 4m 10s (target < 5m 00s: met)`; one not reached says how long so far, or
    until the incident was closed (its clocks stop there, as the header's do)."""
    name, target = time.key.upper(), f"target < {_span(time.target)}"
    span = time.span(min(now, closed_at) if closed_at else now)
    if span is None:
        return f"{name} n/a (a false positive: nothing to contain or recover)"
    if time.end is None:
        until = "until closed" if closed_at else "so far"
        return f"{name} not reached ({_span(span)} {until}, {target})"
    return f"{name} {_span(span)} ({target}: {'met' if time.met() else 'MISSED'})"


def _root_cause(facts: _Facts) -> list[str]:
    lines = ["## Root Cause", ""]
    written = facts.sections.get("root_cause")
    if written:
        lines += [escape(written, multiline=True), ""]
    for decision in facts.decisions:
        text = f"- Decision {_time(decision.at)}: {escape(decision.decision)}"
        if decision.actor:
            text += f" by {escape(decision.actor)}"
        if decision.rationale:
            text += f": {escape(decision.rationale, limit=2000)}"
        if decision.rule_to_tune:
            text += f" (rule to tune: {escape(decision.rule_to_tune)})"
        lines.append(text)
    notes = [e for e in facts.timeline if e.kind in NOTE_KINDS]
    for note in notes[:MAX_LISTED]:
        who = f" ({escape(note.actor)})" if note.actor else ""
        lines.append(f"- Note {_time(note.at)}{who}: {escape(note.summary, limit=2000)}")
    if len(notes) > MAX_LISTED:
        lines.append(f"- and {len(notes) - MAX_LISTED} more notes: see the full timeline")
    if not written and not facts.decisions and not notes:
        lines.append("Not yet determined: no root cause, decision or note recorded.")
    return lines + [""]


def _section_bullet(
    facts: _Facts, label: str, section: str, extra: Sequence[str] = ()
) -> list[str]:
    written = facts.sections.get(section)
    head = f"- {label}"
    if written:
        head += ": " + _indent(escape(written, multiline=True))
    elif not extra:
        head += ": not recorded"
    return [head, *(f"  - {line}" for line in extra)]


def _impact(facts: _Facts) -> list[str]:
    incident, alerts = facts.incident, facts.alerts
    technical = []
    if alerts.total:
        technical.append(
            f"{counted(alerts.total, 'alert', grouped=True)}, "
            f"{counted(alerts.pod_count, 'pod', grouped=True)} named in them, "
            f"{_alert_span(alerts)}"
        )
    contained = [i for i, o in facts.actions if o is not None and o.status == "succeeded"]
    if contained:
        technical.append(f"{counted(len(contained), 'response action')} changed the cluster")
    security = []
    if incident.data_breach:
        security.append("A data breach was flagged: GDPR notification within 72 hours applies")
    if incident.false_positive:
        security.append("Declared a false positive")
    for decision in facts.decisions[-1:]:
        security.append(f"Last decision: {escape(decision.decision)}")
    return [
        "## Impact Assessment",
        "",
        *_section_bullet(facts, "Business impact", "impact_business"),
        *_section_bullet(facts, "Technical impact", "impact_technical", technical),
        *_section_bullet(facts, "Security implications", "impact_security", security),
        "",
    ]


def _action_line(intent: ActionEntry, outcome: ActionEntry | None, origin: datetime) -> str:
    target = f" {escape(intent.target)}" if intent.target else ""
    who = f" by {escape(intent.actor)}" if intent.actor else ""
    if outcome is None:
        return (
            f"{escape(intent.action)}{target}{who}: outcome unknown: intent recorded "
            f"{_at(intent.at, origin)} but no outcome (the process stopped during the call)"
        )
    message = f": {escape(outcome.message, limit=MAX_VALUE_CHARS)}" if outcome.message else ""
    status = f"{escape(outcome.status)} {_at(outcome.at, origin)}"
    return f"{escape(intent.action)}{target}{who}: {status}{message}"


def _lifted_later(
    intent: ActionEntry, actions: list[tuple[ActionEntry, ActionEntry | None]]
) -> str | None:
    """A later re-apply that was confirmed although its preview said it lifts this block."""
    ips = [str(b.get("ip")) for b in intent.data.get("blocks") or [] if isinstance(b, dict)]
    for later, outcome in actions:
        if later.seq <= intent.seq or later.action != "reapply-policies":
            continue
        if outcome is None or outcome.status != "succeeded":
            continue
        lifts = [str(x) for x in later.data.get("lifts") or []]
        if any(f"block of {ip}" in lift for ip in ips for lift in lifts):
            return f"{later.action} {later.at:%H:%M:%S}"
    return None


def _response(facts: _Facts) -> list[str]:
    origin = facts.detection
    worked, improve = [], []
    for intent, outcome in facts.actions:
        line = _action_line(intent, outcome, origin)
        if outcome is None or outcome.status not in WORKED:
            improve.append(line)
        elif lifted_by := _lifted_later(intent, facts.actions):
            improve.append(f"{line}; then lifted by {escape(lifted_by)}: no longer in effect")
        else:
            worked.append(line)
    return [
        "## Response Actions",
        "",
        *_section_bullet(facts, "What worked well", "what_worked", worked),
        *_section_bullet(facts, "What could be improved", "what_could_improve", improve),
        "",
    ]


def _preventive(facts: _Facts) -> list[str]:
    return [
        "## Preventive Measures",
        "",
        *_section_bullet(facts, "Configuration changes", "prevent_configuration"),
        *_section_bullet(facts, "Process improvements", "prevent_process"),
        *_section_bullet(facts, "Monitoring enhancements", "prevent_monitoring"),
        "",
    ]


def _action_items(facts: _Facts) -> list[str]:
    lines = ["## Action Items", ""]
    for item in RUNBOOK_ACTION_ITEMS:
        tick = facts.checklist.get(("lessons-learned", item))
        lines.append(f"- [{'x' if tick and tick.checked else ' '}] {escape(item)}")
    for line in facts.sections.get("action_items", "").splitlines():
        if line.strip():
            lines.append(f"- [ ] {escape(line.strip().removeprefix('- '))}")
    return lines + [""]


def _alerts(facts: _Facts) -> list[str]:
    alerts = facts.alerts
    lines = ["## Alerts", ""]
    if not alerts.total:
        return lines + ["No alerts recorded for this incident.", ""]
    lines += [
        f"{counted(alerts.total, 'alert', grouped=True)} {_alert_span(alerts)}.",
        "",
        "| Rule | Priority | Alerts | First seen | Last seen | Pods |",
        "|---|---|---:|---|---|---|",
        *(_rule_line(summary) for summary in alerts.rule_summaries),
    ]
    if alerts.rules > len(alerts.rule_summaries):
        more = alerts.rules - len(alerts.rule_summaries)
        lines.append(f"| and {more} more rule/priority pairs | | | | | |")
    if alerts.pods:
        lines += ["", "| Namespace | Pod | Alerts |", "|---|---|---:|"]
        lines += [f"| {_cell(ns)} | {_cell(pod)} | {n:,} |" for ns, pod, n in alerts.pods]
    shown = len(alerts.listed)
    lines += [
        "",
        f"First {shown} of {counted(alerts.total, 'alert', grouped=True)}:"
        if shown < alerts.total else "All alerts:",
        "",
        "| Time | Priority | Rule | Pod | Output |",
        "|---|---|---|---|---|",
    ]
    for time, priority, rule, pod, output in alerts.listed:
        lines.append(
            f"| {_cell(time)} | {_cell(priority)} | {_cell(rule)} | {_cell(pod)} "
            f"| {_cell(output)} |"
        )
    return lines + [""]


def _rule_line(summary: RuleSummary) -> str:
    pods = ", ".join(summary.pods)
    if summary.pod_count > len(summary.pods):
        pods += f" and {summary.pod_count - len(summary.pods)} more"
    return (
        f"| {_cell(summary.rule)} | {_cell(summary.priority)} | {summary.count:,} "
        f"| {_time(summary.first) if summary.first else '-'} "
        f"| {_time(summary.last) if summary.last else '-'} | {_cell(pods or '-')} |"
    )


def _evidence(facts: _Facts) -> list[str]:
    lines = ["## Evidence", ""]
    if not facts.evidence:
        return lines + ["No evidence captured.", ""]
    lines += ["| # | Name | SHA-256 | Bytes | Captured | Source |", "|---:|---|---|---:|---|---|"]
    for item in facts.evidence:
        lines.append(
            f"| {item.id} | {_cell(item.name)} | {code(item.sha256, in_table=True)} | {item.size} "
            f"| {_time(item.at)} | {_cell(item.source)} |"
        )
    return lines + [""]


def _deadlines(facts: _Facts) -> list[str]:
    lines = ["## Reporting Deadlines", ""]
    for due in facts.due:
        when = f" (due {_time(due.due_at)})" if due.due_at and not due.done else ""
        lines.append(f"- {escape(due.describe(facts.now))}{when}")
    return lines + [""]


def _audit(facts: _Facts) -> list[str]:
    command = f"warroom --db {shlex.quote(str(facts.record.path))} verify"
    last = f", this incident's last entry is {facts.timeline[-1].seq}" if facts.timeline else ""
    return [
        "## Audit Chain",
        "",
        f"This report was produced from the record at chain entry {facts.entries} "
        f"(head hash {code(facts.head_hash)}){last}. "
        f"Produced {_time(facts.now)}.",
        "",
        f"Verify the record with {code(command)}: it must report at least "
        f"{facts.entries} entries, and entry {facts.entries} must have this hash.",
        "",
    ]


def _appendix(facts: _Facts) -> list[str]:
    origin = facts.detection
    lines = [
        "## Appendix: Full Timeline",
        "",
        f"Times relative to detection at {_time(origin)}.",
        "",
        "| After detection | Time | Entry | Kind | Actor | What |",
        "|---:|---|---:|---|---|---|",
    ]
    for entry in facts.timeline:
        lines.append(
            f"| {_offset(entry.at, origin)} | {_time(entry.at)} | {entry.seq} "
            f"| {_cell(entry.kind)} "
            f"| {_cell(entry.actor)} | {_cell(entry.summary, 1000)} |"
        )
    return lines + [""]


def render_report(
    record: Record, incident_id: str, *, now: datetime | None = None, alert_rows: int = ALERT_ROWS
) -> str:
    """The detailed report of one incident as markdown (raises UnknownIncident)."""
    with _snapshot(record) as snapshot:
        facts = _Facts(snapshot, incident_id, now or record.clock(), alert_rows)
    lines = [
        *_header(facts, REPORT_TITLE),
        *_summary(facts),
        "## Timeline",
        "",
        *_key_times(facts),
        "",
        *_root_cause(facts),
        *_impact(facts),
        *_response(facts),
        *_preventive(facts),
        *_action_items(facts),
        *_alerts(facts),
        *_evidence(facts),
        *_deadlines(facts),
        *_audit(facts),
        *_appendix(facts),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_executive(record: Record, incident_id: str, *, now: datetime | None = None) -> str:
    """The executive summary (due within 24 h for P0/P1): the facts without the appendices."""
    with _snapshot(record) as snapshot:
        facts = _Facts(snapshot, incident_id, now or record.clock(), 0)
    succeeded = sum(1 for _i, o in facts.actions if o is not None and o.status in WORKED)
    open_ended = len(facts.actions) - succeeded
    lines = [
        *_header(facts, EXECUTIVE_TITLE, status=True),
        *_summary(facts),
        "## Key Times",
        "",
        *_key_times(facts),
        "",
        *_impact(facts),
        "## Response",
        "",
        f"- {counted(succeeded, 'response action')} worked, {open_ended} failed or "
        f"{noun_of(open_ended, 'has', 'have')} no known outcome",
        *(f"- Decision {_time(d.at)}: {escape(d.decision)}" for d in facts.decisions),
        "",
        *_deadlines(facts),
        *_audit(facts),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
