"""Checklist verifiers that read the record: no suspicious activity, alerting working.

Plain functions over `store.Record`, run on the record's own thread by the
caller (the console's `in_record`); they return a `Verdict` and never raise
for what they find.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from actions.checklists.verdict import Verdict, named, not_verified, unknown, verified
from actions.config import AlertingSettings
from store import Record, iso
from store.outbox import OutboxItem
from store.wording import counted

SUSPICIOUS = ("P0", "P1")
SUSPICIOUS_MINUTES = 15  # the runbook's Detection & Analysis window
NOTIFICATION_GRACE = timedelta(minutes=5)  # a notification later than this is late
MAX_QUOTED_ALERTS = 50
CHANNELS = ("pagerduty", "slack", "email", "siem")
MAX_ERROR_CHARS = 160


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M:%S} UTC" if moment.utcoffset() == timedelta(0) else moment.isoformat()


def _first_alert_since(record: Record, cutoff: str) -> int | None:
    """The id of the first alert received at or after `cutoff` (None: none was).

    Alerts are appended as they are received, so `received_at` grows with the
    id: a binary search over the primary key reads a few rows, where a scan of
    a million-alert record would read them all.
    """
    low, high = record.query("SELECT min(id), max(id) FROM alerts")[0]
    if low is None:
        return None
    newest = record.query("SELECT received_at FROM alerts WHERE id = ?", (high,))[0][0]
    if (newest or "") < cutoff:
        return None
    while low < high:
        middle = (low + high) // 2
        row = record.query(
            "SELECT id, received_at FROM alerts WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
        )[0]
        if (row["received_at"] or "") >= cutoff:
            high = middle
        else:
            low = row["id"] + 1
    return int(low)


def _pod(output_fields: str | None) -> str | None:
    try:
        fields: Any = json.loads(output_fields) if output_fields else {}
    except ValueError:
        return None
    pod = fields.get("k8s.pod.name") if isinstance(fields, dict) else None
    return str(pod) if pod else None


def no_suspicious_activity(
    record: Record, *, now: datetime, minutes: int = SUSPICIOUS_MINUTES
) -> Verdict:
    """No P0 or P1 alert recorded in the last `minutes` (by when the record received it)."""
    since = now - timedelta(minutes=minutes)
    cutoff = iso(since)
    if record.query("SELECT 1 FROM alerts LIMIT 1") == []:
        return unknown("the record holds no alert at all: is a Falco source connected?")
    first = _first_alert_since(record, cutoff)
    if first is None:
        (last,) = record.query("SELECT received_at FROM alerts ORDER BY id DESC LIMIT 1")[0]
        last_seen = _clock(datetime.fromisoformat(last)) if last else "at an unrecorded time"
        return verified(
            f"no alert of any severity received in the last {minutes} min "
            f"(since {_clock(since)}); the newest was received {last_seen}"
        )
    rows = [
        row
        for row in record.query(
            "SELECT rule, severity, received_at, output_fields FROM alerts "
            f"WHERE id >= ? AND severity IN ({', '.join('?' * len(SUSPICIOUS))}) "
            "ORDER BY id DESC LIMIT ?",
            (first, *SUSPICIOUS, MAX_QUOTED_ALERTS + 1),
        )
        if (row["received_at"] or "") >= cutoff
    ]
    if not rows:
        (total,) = record.query("SELECT count(*) FROM alerts WHERE id >= ?", (first,))[0]
        return verified(
            f"no P0 or P1 alert in the last {minutes} min (since {_clock(since)}); "
            f"{total} lower-severity alerts"
        )
    count = f"at least {MAX_QUOTED_ALERTS}" if len(rows) > MAX_QUOTED_ALERTS else str(len(rows))
    quoted = []
    for row in rows[:MAX_QUOTED_ALERTS]:
        pod = _pod(row["output_fields"])
        quoted.append(f"{row['rule']} ({row['severity']}{', ' + pod if pod else ''})")
    newest = datetime.fromisoformat(rows[0]["received_at"])
    return not_verified(
        f"{count} P0/P1 alerts in the last {minutes} min, newest at "
        f"{_clock(newest)}: {named(list(dict.fromkeys(quoted)), 3)}"
    )


def configured_channels(alerting: AlertingSettings) -> list[str]:
    """The alert channels that are configured and enabled."""
    return [
        name
        for name in CHANNELS
        if (channel := getattr(alerting, name)) is not None and channel.enabled
    ]


def _late(item: OutboxItem) -> str:
    error = f": {item.last_error[:MAX_ERROR_CHARS]}" if item.last_error else ""
    return f"{item.channel} {item.event} ({counted(item.attempts, 'attempt')}{error})"


def alerting_working(
    record: Record,
    alerting: AlertingSettings,
    *,
    now: datetime,
    since: datetime,
    grace: timedelta = NOTIFICATION_GRACE,
) -> Verdict:
    """No notification queued since `since` given up on, or undelivered past `grace`."""
    channels = configured_channels(alerting)
    if not channels:
        return unknown(
            "no alert channel is configured (PagerDuty, Slack, email, SIEM): "
            "nothing shows whether alerting works"
        )
    items = [item for item in record.outbox.items() if item.created_at >= since]
    if not items:
        return unknown(
            f"no notification was queued since {_clock(since)}: delivery to "
            f"{', '.join(channels)} is untested"
        )
    failed = [_late(i) for i in items if i.status == "failed"]
    late = [_late(i) for i in items if i.status == "queued" and now - i.created_at > grace]
    problems = []
    if failed:
        problems.append(f"{counted(len(failed), 'notification')} given up: {named(failed, 3)}")
    if late:
        minutes = int(grace.total_seconds() // 60)
        problems.append(f"{len(late)} undelivered after {minutes} min: {named(late, 3)}")
    if problems:
        return not_verified("; ".join(problems))
    delivered = sum(1 for i in items if i.status == "delivered")
    pending = len(items) - delivered
    seen = (
        f"{delivered} of {counted(len(items), 'notification')} since {_clock(since)} delivered "
        f"({', '.join(sorted({i.channel for i in items}))}); none failed or late"
    )
    return verified(f"{seen}; {pending} still within their first minutes" if pending else seen)
