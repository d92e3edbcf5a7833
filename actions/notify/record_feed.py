"""Every record entry to the SIEM: the timeline, entry by entry, through the outbox.

The runbook sends "all events" to the SIEM for correlation. Each timeline entry
(the notifications' own delivery entries aside, or each delivery would make
another) is queued once per SIEM transport, keyed by its place in the audit
chain, so forwarding again after a restart picks up where it stopped.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from actions.config import SiemSettings
from actions.notify import siem
from store import Record, TimelineEntry

EVENT = "record-entry"
SOURCETYPE = "warroom:record"


def forward_record_entries(
    record: Record, settings: SiemSettings | None, *, limit: int = 500
) -> int:
    """Queue the timeline entries not yet queued for the SIEM; returns how many were queued."""
    if settings is None or not settings.enabled or not settings.record_entries:
        return 0
    channels = [c for c, on in ((siem.HEC_CHANNEL, settings.hec_url),
                                (siem.SYSLOG_CHANNEL, settings.syslog)) if on]  # fmt: skip
    queued = 0
    for channel in channels:
        prefix = f"{channel}:entry:"
        rows = record.query(
            "SELECT max(CAST(substr(dedup_key, ?) AS INTEGER)) FROM outbox "
            "WHERE channel = ? AND event = ?",
            (len(prefix) + 1, channel, EVENT),
        )
        last_seq = rows[0][0] or 0
        entries = [
            TimelineEntry.from_row(row)
            for row in record.query(
                "SELECT * FROM timeline WHERE seq > ? AND kind NOT LIKE 'notification.%' "
                "ORDER BY seq LIMIT ?",
                (last_seq, limit),
            )
        ]
        for entry in entries:
            payload = (
                _hec(entry, settings) if channel == siem.HEC_CHANNEL else _syslog(entry, settings)
            )
            key = f"{prefix}{entry.seq}"
            if record.outbox.enqueue(entry.incident_id, channel, EVENT, key, payload) is not None:
                queued += 1
    return queued


def _entry(entry: TimelineEntry) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "incident_id": entry.incident_id,
        "kind": entry.kind,
        "summary": entry.summary,
    }
    if entry.actor:
        doc["actor"] = entry.actor
    if entry.data:
        doc["data"] = entry.data
    return doc


def _hec(entry: TimelineEntry, settings: SiemSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time": round(entry.at.timestamp(), 6),
        "host": settings.host or socket.gethostname(),
        "source": settings.hec_source,
        "sourcetype": SOURCETYPE,
        "event": _entry(entry),
    }
    if settings.hec_index:
        body["index"] = settings.hec_index
    return body


def _syslog(entry: TimelineEntry, settings: SiemSettings) -> dict[str, Any]:
    doc = _entry(entry)
    params = {"seq": str(entry.seq), "kind": entry.kind}
    if entry.incident_id:
        params["incident_id"] = entry.incident_id
    return {
        "severity": 6,  # informational: the entry itself carries what happened
        "timestamp": doc["at"],
        "msgid": "record",
        "params": params,
        "message": json.dumps(doc, ensure_ascii=True, separators=(",", ":"), sort_keys=True),
    }
