"""Incident events become notifications in the record's outbox, one per routed channel.

Routing follows the runbook's Alert Channels: PagerDuty for P0/P1 (trigger on
opening, acknowledge and resolve as the incident moves), Slack for every
severity, e-mail to the security team, the SIEM for every event; each channel's
severities and events are configurable. Nothing is sent here: `drain_outbox`
sends. Payloads are rendered now (what the record holds is what is sent) and
never contain a secret.

Outbox dedup keys (`channel:incident:event:occurrence`) make enqueueing the same
event twice a no-op, so a retried call never pages twice; PagerDuty's trigger,
acknowledge and resolve have keys of their own, so each goes out once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from actions.config import EscalationContact, Settings
from actions.notify import email, pagerduty, siem, slack
from actions.notify.notice import EVENT_TITLES, Notice
from store import Incident, Record

EVENTS = tuple(EVENT_TITLES)
# Events that happen once in an incident's life; others need an occurrence to tell them apart.
_ONCE = ("opened", "acknowledged", "resolved")


@dataclass(frozen=True, slots=True)
class Queued:
    """One notification put in the outbox (outbox_id None: the same one was queued before)."""

    channel: str
    event: str
    dedup_key: str
    outbox_id: int | None

    @property
    def is_new(self) -> bool:
        return self.outbox_id is not None


@dataclass(frozen=True, slots=True)
class Escalation:
    """What `escalate` did: who, what was queued, and what a human must still do."""

    contact: EscalationContact
    timeline_id: int
    queued: list[Queued] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)  # e.g. "phone John Doe (then Jane Smith)"
    not_configured: list[str] = field(default_factory=list)  # contact methods with no channel
    off_in_drills: list[str] = field(default_factory=list)  # configured, but not for drills


def notify_incident_event(
    record: Record,
    settings: Settings,
    incident: Incident,
    event: str,
    details: dict[str, Any] | None = None,
    *,
    occurrence: str | None = None,
) -> list[Queued]:
    """Queue `event` for `incident` on every channel its routing selects.

    `details` are the event's facts as text (severity-changed: from/to;
    phase-changed: phase; action-taken: action, target, outcome, action_id;
    acknowledged: by). `occurrence` tells repeated events apart (an action ID,
    a timeline entry ID); by default it is derived from the record, so calling
    twice for the same change queues nothing the second time.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}; known: {', '.join(EVENTS)}")
    text_details = {str(k): _text(v) for k, v in (details or {}).items() if v is not None}
    notice = Notice(incident, event, record.clock(), text_details, record_head=_head(record))
    occurrence = occurrence or _occurrence(record, incident, event, text_details)
    queued = [_queue_pagerduty(record, settings, notice)]
    alerting = settings.alerting
    for channel_settings, name, build in (
        (alerting.slack, slack.CHANNEL, slack.build),
        (alerting.email, email.CHANNEL, email.build),
    ):
        if _routed(channel_settings, incident, event):
            payload = build(notice, channel_settings)  # type: ignore[arg-type]
            queued.append(_enqueue(record, name, notice, occurrence, payload))
    queued += _queue_siem(record, settings, notice, occurrence)
    return [q for q in queued if q is not None]


def escalate(
    record: Record,
    settings: Settings,
    incident: Incident,
    role: str,
    *,
    actor: str | None = None,
    note: str | None = None,
) -> Escalation:
    """Escalate to a role of the escalation matrix: record it, and notify by its contact methods.

    The channels the role's contact names (PagerDuty, Slack, e-mail) are used
    whatever the incident's severity: escalating is a human decision. "Phone"
    cannot be automated and comes back in `manual`. Raises ValueError for a
    role not in the matrix.
    """
    contact = settings.escalation_for(role)
    if contact is None:
        roles = ", ".join(c.role for c in settings.escalation) or "none configured"
        raise ValueError(f"no role {role!r} in the escalation matrix (roles: {roles})")
    # Which contact methods can go out is decided before anything is written: the timeline
    # says what was really queued, not what the matrix hopes for.
    alerting = settings.alerting
    channels = {"pagerduty": alerting.pagerduty, "slack": alerting.slack, "email": alerting.email}
    planned = Escalation(contact=contact, timeline_id=0)
    sending: list[str] = []
    for method in contact.methods:
        channel_settings = channels.get(method)
        if method == "phone":
            who = contact.primary or contact.role
            then = f" (then {contact.secondary})" if contact.secondary else ""
            planned.manual.append(f"phone {who}{then}")
        elif channel_settings is None or not channel_settings.enabled:
            planned.not_configured.append(method)
        elif incident.drill and not channel_settings.drills:
            planned.off_in_drills.append(method)
        else:
            sending.append(method)
    data: dict[str, Any] = {
        "role": contact.role, "primary": contact.primary, "secondary": contact.secondary,
        "contact": contact.contact, "queued": sending, "manual": planned.manual,
        "not_configured": planned.not_configured, "off_in_drills": planned.off_in_drills,
    }  # fmt: skip
    if note:
        data["note"] = note
    timeline_id = record.timeline.add(
        incident.id, "incident.escalated", escalation_summary(planned, sending, note),
        actor=actor, data=data,
    )
    result = replace(planned, timeline_id=timeline_id)
    details = {"role": contact.role, "primary": contact.primary,
               "secondary": contact.secondary, "contact": contact.contact}  # fmt: skip
    if note:
        details["note"] = note
    notice = Notice(incident, "escalated", record.clock(), details, record_head=_head(record))
    occurrence = f"t{timeline_id}"
    for method in sending:
        if method == "pagerduty":
            payload = pagerduty.build(notice, alerting.pagerduty, "trigger")  # type: ignore[arg-type]
        elif method == "slack":
            payload = slack.build(notice, alerting.slack)  # type: ignore[arg-type]
        else:
            payload = email.build(notice, alerting.email)  # type: ignore[arg-type]
        result.queued.append(_enqueue(record, method, notice, occurrence, payload))
    result.queued.extend(_queue_siem(record, settings, notice, occurrence))
    return result


def _head(record: Record) -> str:
    """The chain head the notification quotes (store/verify.py Anchor)."""
    entries, digest = record.head()
    return f"{entries}:{digest}"


def escalation_summary(escalation: Escalation, sending: list[str], note: str | None) -> str:
    """The timeline's line for an escalation: who, what was really queued, what is by hand."""
    contact = escalation.contact
    parts = [
        f"Escalated to {contact.role}: {contact.primary or '?'} "
        f"(secondary {contact.secondary or '?'})"
    ]
    if sending:
        parts.append(f"queued {', '.join(sending)}")
    parts += [f"{call} by hand" for call in escalation.manual]
    if escalation.off_in_drills:
        parts.append(f"{', '.join(escalation.off_in_drills)} off in drills")
    if escalation.not_configured:
        parts.append(f"{', '.join(escalation.not_configured)} not configured")
    if not sending and not escalation.manual:
        parts.append(f"no channel configured: call them ({contact.contact})")
    summary = "; ".join(parts)
    return f"{summary}. Note: {note}" if note else summary


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _routed(channel_settings: Any, incident: Incident, event: str) -> bool:
    if channel_settings is None or not channel_settings.enabled:
        return False
    if incident.drill and not channel_settings.drills:
        return False
    events = getattr(channel_settings, "events", EVENTS)
    return event in events and incident.severity in channel_settings.severities


def _occurrence(record: Record, incident: Incident, event: str, details: dict[str, str]) -> str:
    if event in _ONCE:
        return "once"
    if event == "action-taken" and details.get("action_id"):
        return f"a{details['action_id']}"
    # The newest timeline entry of the incident (notifications' own entries aside) names
    # the change being announced: a second call for the same change finds the same one.
    rows = record.query(
        "SELECT max(seq) FROM timeline WHERE incident_id = ? AND kind NOT LIKE 'notification.%'",
        (incident.id,),
    )
    return f"s{rows[0][0] or 0}"


def _enqueue(
    record: Record, channel: str, notice: Notice, occurrence: str, payload: dict[str, Any]
) -> Queued:
    key = f"{channel}:{notice.incident.id}:{notice.event}:{occurrence}"
    outbox_id = record.outbox.enqueue(notice.incident.id, channel, notice.event, key, payload)
    return Queued(channel, notice.event, key, outbox_id)


def _queue_pagerduty(record: Record, settings: Settings, notice: Notice) -> Queued | None:
    pd = settings.alerting.pagerduty
    incident = notice.incident
    if pd is None or not pd.enabled or (incident.drill and not pd.drills):
        return None
    prefix = f"pagerduty:{incident.id}:"
    if notice.event in ("opened", "severity-changed"):
        if incident.severity not in pd.severities or _queued(record, prefix + "resolve"):
            return None
        # One trigger per severity level reached: PagerDuty folds them into the alert
        # whose dedup_key is the incident ID, so none of them pages a second time.
        key, action = prefix + f"trigger:{incident.severity}", "trigger"
    elif notice.event in ("acknowledged", "resolved"):
        if not _queued(record, prefix + "trigger%") and not _queued(record, prefix + "escalated%"):
            return None  # nothing was paged, so there is nothing to acknowledge or resolve
        action = "acknowledge" if notice.event == "acknowledged" else "resolve"
        key = prefix + action
    else:
        return None
    payload = pagerduty.build(notice, pd, action)
    outbox_id = record.outbox.enqueue(incident.id, pagerduty.CHANNEL, notice.event, key, payload)
    return Queued(pagerduty.CHANNEL, notice.event, key, outbox_id)


def _queued(record: Record, key_pattern: str) -> bool:
    return bool(record.query("SELECT 1 FROM outbox WHERE dedup_key LIKE ? LIMIT 1", (key_pattern,)))


def _queue_siem(
    record: Record, settings: Settings, notice: Notice, occurrence: str
) -> list[Queued]:
    s = settings.alerting.siem
    if not _routed(s, notice.incident, notice.event):
        return []
    assert s is not None
    queued = []
    if s.hec_url:
        queued.append(
            _enqueue(record, siem.HEC_CHANNEL, notice, occurrence, siem.build_hec(notice, s))
        )
    if s.syslog:
        queued.append(
            _enqueue(record, siem.SYSLOG_CHANNEL, notice, occurrence, siem.build_syslog(notice, s))
        )
    return queued
