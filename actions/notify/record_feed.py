"""The record to the SIEM: every timeline entry, and checkpoints of the chain's head.

The runbook sends "all events" to the SIEM for correlation (`record_entries`).
Each timeline entry (the notifications' own delivery entries aside, or each
delivery would make another) is queued once per SIEM transport, keyed by its
place in the audit chain, so forwarding again after a restart picks up where it
stopped; it carries its chain position and hash (`anchor`).

Checkpoints anchor the record outside its file. Whoever can rewrite the file
can recompute its whole chain, truncate it or roll it back to a copy, and
`warroom verify` alone cannot tell; a head (`entries:hash`) kept in the SIEM
can: `warroom verify --anchor ENTRIES:HASH` fails unless the chain still holds
that entry with that hash. A checkpoint is queued when the record has changed
since the last one (its own notification entries aside, or checkpoints would
never stop) and at least `CHECKPOINT_INTERVAL` has passed.

They are not signed: the SIEM is the copy kept elsewhere, behind its own
access control, and a signing key on the machine that holds the record would
be open to the same person who can rewrite the record. A signature adds
something only with a key kept off that machine (an HSM, a KMS), which warroom
does not manage.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta
from typing import Any

from actions.config import SiemSettings
from actions.notify import siem
from store import Record, TimelineEntry
from store.models import parse_time
from store.schema import CHAINED_TABLES

EVENT = "record-entry"
SOURCETYPE = "warroom:record"
CHECKPOINT_EVENT = "record-checkpoint"
CHECKPOINT_SOURCETYPE = "warroom:checkpoint"
CHECKPOINT_INTERVAL = timedelta(minutes=5)


def forward_record_entries(
    record: Record, settings: SiemSettings | None, *, limit: int = 500
) -> int:
    """Queue the timeline entries not yet queued for the SIEM, and a checkpoint when one is due.

    Returns how many notifications were queued.
    """
    if settings is None or not settings.enabled or not settings.record_entries:
        return 0
    channels = [c for c, on in ((siem.HEC_CHANNEL, settings.hec_url),
                                (siem.SYSLOG_CHANNEL, settings.syslog)) if on]  # fmt: skip
    queued = 0
    for channel in channels:
        queued += _forward_entries(record, settings, channel, limit)
        queued += queue_checkpoint(record, settings, channel)
    return queued


def _forward_entries(record: Record, settings: SiemSettings, channel: str, limit: int) -> int:
    prefix = f"{channel}:entry:"
    # Only this record's own keys: an import's copies are keyed `imported:...`.
    rows = record.query(
        "SELECT max(CAST(substr(dedup_key, ?) AS INTEGER)) FROM outbox "
        "WHERE channel = ? AND event = ? AND substr(dedup_key, 1, ?) = ?",
        (len(prefix) + 1, channel, EVENT, len(prefix), prefix),
    )
    last_seq = rows[0][0] or 0
    rows = record.query(
        "SELECT * FROM timeline WHERE seq > ? AND kind NOT LIKE 'notification.%' "
        "ORDER BY seq LIMIT ?",
        (last_seq, limit),
    )
    entries = record.readable(rows, lambda row: (TimelineEntry.from_row(row), row["hash"]),
                              "timeline entry")  # fmt: skip
    queued = 0
    for entry, entry_hash in entries:
        doc = _entry(entry, entry_hash)
        payload = _hec(doc, entry, settings) if channel == siem.HEC_CHANNEL else _syslog(doc, entry)
        key = f"{prefix}{entry.seq}"
        if record.outbox.enqueue(entry.incident_id, channel, EVENT, key, payload) is not None:
            queued += 1
    return queued


def queue_checkpoint(
    record: Record, settings: SiemSettings, channel: str, *, now: datetime | None = None
) -> int:
    """Queue the chain's head for `channel` if the record changed and the interval passed."""
    now = now or record.clock()
    prefix = f"{channel}:checkpoint:"
    last = record.query(
        "SELECT dedup_key, created_at FROM outbox WHERE channel = ? AND event = ? "
        "AND substr(dedup_key, 1, ?) = ? ORDER BY seq DESC LIMIT 1",
        (channel, CHECKPOINT_EVENT, len(prefix), prefix),
    )
    entries, head_hash = record.head()
    if last:
        last_entries = int(last[0][0][len(prefix) :].partition(":")[0])
        created = parse_time(last[0][1])
        if created is not None and now - created < CHECKPOINT_INTERVAL:
            return 0
        if _last_change(record) <= last_entries:
            return 0
    elif entries == 0:
        return 0
    doc = {
        "kind": "record.checkpoint",
        "anchor": f"{entries}:{head_hash}",
        "entries": entries,
        "head_hash": head_hash,
        "record": record.path.name,
        "at": now.isoformat(),
    }
    payload = _checkpoint_hec(doc, now, settings) if channel == siem.HEC_CHANNEL else (
        _checkpoint_syslog(doc, now))  # fmt: skip
    key = f"{prefix}{entries}:{head_hash}"
    return int(record.outbox.enqueue(None, channel, CHECKPOINT_EVENT, key, payload) is not None)


def _last_change(record: Record) -> int:
    """The last chain position that is not notification bookkeeping (checkpoints, deliveries)."""
    last = 0
    for table in CHAINED_TABLES:
        where = {
            "timeline": " WHERE kind NOT LIKE 'notification.%'",
            "outbox": f" WHERE event != '{CHECKPOINT_EVENT}'",
        }.get(table, "")
        rows = record.query(f"SELECT seq FROM {table}{where} ORDER BY seq DESC LIMIT 1")
        if rows:
            last = max(last, rows[0][0])
    return last


def _checkpoint_hec(doc: dict[str, Any], now: datetime, settings: SiemSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time": round(now.timestamp(), 6),
        "host": settings.host or socket.gethostname(),
        "source": settings.hec_source,
        "sourcetype": CHECKPOINT_SOURCETYPE,
        "event": doc,
    }
    if settings.hec_index:
        body["index"] = settings.hec_index
    return body


def _checkpoint_syslog(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "severity": 6,
        "timestamp": now.isoformat(),
        "msgid": "checkpoint",
        "params": {"entries": str(doc["entries"]), "head_hash": doc["head_hash"]},
        "message": json.dumps(doc, ensure_ascii=True, separators=(",", ":"), sort_keys=True),
    }


def _entry(entry: TimelineEntry, entry_hash: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "seq": entry.seq,
        "anchor": f"{entry.seq}:{entry_hash}",
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


def _hec(doc: dict[str, Any], entry: TimelineEntry, settings: SiemSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time": round(entry.at.timestamp(), 6),
        "host": settings.host or socket.gethostname(),
        "source": settings.hec_source,
        "sourcetype": SOURCETYPE,
        "event": doc,
    }
    if settings.hec_index:
        body["index"] = settings.hec_index
    return body


def _syslog(doc: dict[str, Any], entry: TimelineEntry) -> dict[str, Any]:
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
