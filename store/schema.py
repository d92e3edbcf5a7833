"""The record's tables and the migrations that build and upgrade them.

Chained tables hold the audit chain inline: every row carries its position
(`seq`, global across tables), the previous entry's hash and its own hash
(see `store.chain`). Their content columns are listed once, here, so the
writer and `verify` agree on what is hashed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from store.errors import NotARecord, RecordTooNew

if TYPE_CHECKING:
    import sqlite_utils

CHAIN_COLUMNS = ("seq", "prev_hash", "hash")

# Content columns of every chained table, in insert order, with their SQL types.
# Only nullable columns may be added by later migrations: `chain.content_hash`
# leaves NULLs out of the hashed JSON, so older rows keep their hashes.
CHAINED_TABLES: dict[str, dict[str, type]] = {
    "alerts": {
        "incident_id": str,
        "dedupe_key": str,
        "time": str,  # as written by Falco: nanoseconds that datetime cannot hold
        "time_ns": int,
        "rule": str,
        "priority": str,
        "source": str,
        "hostname": str,
        "tags": str,  # JSON array
        "output": str,
        "output_fields": str,  # JSON object
        "severity": str,
        "category": str,
        "matched_by": str,
        "origin": str,
        "received_at": str,
        "warnings": str,  # JSON array of what the parser tolerated
    },
    "rejected_inputs": {
        "received_at": str,
        "origin": str,
        "line_no": int,
        "reason": str,
        "raw": bytes,
        "raw_size": int,
        "raw_sha256": str,
    },
    "timeline": {
        "incident_id": str,
        "at": str,
        "kind": str,
        "actor": str,
        "summary": str,
        "data": str,  # JSON object
    },
    "actions": {
        "incident_id": str,
        "action_id": str,
        "entry": str,  # "intent" or "outcome"
        "action": str,
        "target": str,
        "params": str,  # JSON object
        "status": str,
        "message": str,
        "actor": str,
        "context": str,
        "at": str,
        "data": str,  # JSON object
    },
    "evidence": {
        "incident_id": str,
        "name": str,
        "source": str,
        "media_type": str,
        "content": bytes,
        "sha256": str,
        "size": int,
        "action_id": str,
        "at": str,
    },
    "checklist": {
        "incident_id": str,
        "phase": str,
        "item": str,
        "checked": int,
        "verified": str,
        "actor": str,
        "note": str,
        "at": str,
    },
    "decisions": {
        "incident_id": str,
        "decision": str,
        "rationale": str,
        "rule_to_tune": str,
        "actor": str,
        "at": str,
        "data": str,
    },
    "outbox": {
        "incident_id": str,
        "channel": str,
        "event": str,
        "dedup_key": str,
        "payload": str,  # JSON object, never a secret
        "created_at": str,
    },
    # An alert recorded with no incident and linked to one later (store/alerts.py): the
    # alert row keeps the hash it was chained with; this entry says which incident, why, who.
    "alert_links": {
        "incident_id": str,
        "alert_seq": int,
        "basis": str,  # "proposal" (accepted with it) or "subject" (same class, ns, workload)
        "actor": str,
        "at": str,
    },
}
# Chained tables added after v1 (created by their own migration), by the schema that added them.
CHAINED_SINCE: dict[str, int] = {"alert_links": 3}


def chained_tables(version: int) -> tuple[str, ...]:
    """The chained tables a record of schema `version` has, in `CHAINED_TABLES` order."""
    return tuple(t for t in CHAINED_TABLES if CHAINED_SINCE.get(t, 1) <= version)

# SQLite's INTEGER holds 64 bits. A larger integer (a time in year 9999 in
# nanoseconds, a hostile number) is stored as the text `bigint:<decimal>` and read
# back as the integer, so it is hashed as the integer it is wherever it is hashed.
# (Plain decimal text would not stay text: an INTEGER column's affinity turns a
# numeric literal too large for 64 bits into a REAL, rounding it.)
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2**63), 2**63 - 1
BIG_INT_PREFIX = "bigint:"
INT_COLUMNS: dict[str, tuple[int, ...]] = {
    table: tuple(i for i, kind in enumerate(columns.values()) if kind is int)
    for table, columns in CHAINED_TABLES.items()
}


def to_stored(table: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row's content values (in `CHAINED_TABLES[table]` order) as SQLite can hold them."""
    for index in INT_COLUMNS[table]:
        value = values[index]
        if type(value) is int and not SQLITE_INT_MIN <= value <= SQLITE_INT_MAX:
            return tuple(_stored(value) for value in values)
    return values


def _stored(value: Any) -> Any:
    if type(value) is int and not SQLITE_INT_MIN <= value <= SQLITE_INT_MAX:
        return f"{BIG_INT_PREFIX}{value}"
    return value


def from_stored(table: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The content values of a stored row: a `bigint:` text in an integer column is its integer.

    Only an integer beyond SQLite's range is read back; any other text in an
    integer column stays text (and `verify` names it).
    """
    for index in INT_COLUMNS[table]:
        if type(values[index]) is str:
            return tuple(
                _big_int(value) if i in INT_COLUMNS[table] else value
                for i, value in enumerate(values)
            )
    return values


def _big_int(value: Any) -> Any:
    if type(value) is not str or not _BIG_INT.fullmatch(value):
        return value
    number = int(value[len(BIG_INT_PREFIX) :])
    return number if not SQLITE_INT_MIN <= number <= SQLITE_INT_MAX else value


_BIG_INT = re.compile(r"bigint:-?[1-9][0-9]{18,4299}", re.ASCII)


# The incidents table is a projection of the chained `incident.opened` and
# `incident.updated` timeline entries; `verify` replays them and compares.
# An `incident.updated` entry's data holds the fields that changed and, under this key, why
# (a resolution, a reopening's reason): not a field, so replaying leaves it out.
REASON_KEY = "reason"
INCIDENT_FIELDS: dict[str, type] = {
    "id": str,
    "title": str,
    "severity": str,
    "category": str,
    "status": str,
    "phase": str,
    "detected_at": str,
    "acknowledged_at": str,
    "contained_at": str,
    "recovered_at": str,
    "closed_at": str,
    "drill": int,
    "false_positive": int,
    "data_breach": int,
    "commander": str,
    "cluster_context": str,
    "namespace": str,
    "opened_at": str,
    "resolution": str,  # why it was closed
}


def _create_v1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    later = ("data_breach", "category", "resolution")
    v1_incident = {k: t for k, t in INCIDENT_FIELDS.items() if k not in later}
    db.table("incidents").create(
        v1_incident, pk="id", not_null={"title", "severity", "status", "phase"}
    )
    for table in CHAINED_TABLES:
        if table not in CHAINED_SINCE:
            _create_chained(db, table)
    db.table("alerts").create_index(["dedupe_key"], unique=True)
    db.table("alerts").create_index(["incident_id", "time_ns"])
    db.table("timeline").create_index(["incident_id", "seq"])
    db.table("actions").create_index(["incident_id", "seq"])
    db.table("actions").create_index(["action_id"])
    db.table("evidence").create_index(["incident_id"])
    db.table("checklist").create_index(["incident_id"])
    db.table("decisions").create_index(["incident_id"])
    db.table("outbox").create_index(["dedup_key"], unique=True)


def _create_chained(db: sqlite_utils.Database, table: str) -> None:
    db.table(table).create(
        {"id": int, "seq": int, "prev_hash": str, "hash": str, **CHAINED_TABLES[table]},
        pk="id",
        not_null=set(CHAIN_COLUMNS),
    )
    db.table(table).create_index(["seq"], unique=True)


def _add_breach_and_delivery_v2(db: sqlite_utils.Database) -> None:
    # v2: the GDPR clock needs a data-breach flag, the trend table a category,
    # and the outbox its mutable delivery state (not chained: attempts change).
    db.table("incidents").add_column("data_breach", int, not_null_default=0)
    db.table("incidents").add_column("category", str)
    db.table("outbox_state").create(
        {
            "outbox_id": int,
            "status": str,
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "delivered_at": str,
        },
        pk="outbox_id",
    )
    db.table("outbox_state").create_index(["status", "next_attempt_at"])


def _add_resolution_and_alert_links_v3(db: sqlite_utils.Database) -> None:
    # v3: closing an incident records why (`resolution`); alerts linked to an incident
    # after they were recorded (an accepted proposal's, later ones about the same
    # subject) keep the link as a chained entry of its own.
    db.table("incidents").add_column("resolution", str)
    _create_chained(db, "alert_links")
    db.table("alert_links").create_index(["alert_seq"], unique=True)
    db.table("alert_links").create_index(["incident_id"])


def _dedupe_rejected_and_type_blobs_v4(db: sqlite_utils.Database) -> None:
    # v4: re-reading a file must not record its rejected lines again (the lookup
    # index), and BLOBs are hashed in a form no text can take (store.chain); the
    # entries written before it keep their form, which `Record` marks in the chain.
    db.table("rejected_inputs").create_index(["raw_sha256"])


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _create_v1,
    _add_breach_and_delivery_v2,
    _add_resolution_and_alert_links_v3,
    _dedupe_rejected_and_type_blobs_v4,
)
SCHEMA_VERSION = len(MIGRATIONS)
TYPED_BLOBS_SINCE = 4
"""The first schema whose new entries hash a BLOB in the typed form (`chain.content_hash`)."""
UPGRADED_KIND = "record.upgraded"
"""The chained timeline entry an upgrade writes: entries before it keep the old blob form."""

# Tables that are not made by the migrations but may be in a record: derived data
# (the alert rollup, store/alert_summary.py) and an export's provenance (store/transfer.py).
EXPORT_ORIGIN_TABLE = "export_origin"
EXPORT_ORIGIN_DDL = (
    f"CREATE TABLE {EXPORT_ORIGIN_TABLE} (seq INTEGER PRIMARY KEY, source_table TEXT NOT NULL, "
    "source_seq INTEGER NOT NULL, source_hash TEXT NOT NULL)"
)


def schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):
        raise NotARecord(f"its schema version {row[0]!r} is not a number") from None


def too_new_message(version: int) -> str:
    return (
        f"the record was written by a newer warroom (schema {version}, this one knows "
        f"{SCHEMA_VERSION}); upgrade warroom to open it"
    )


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the file up to `target`; the caller holds the write lock. Returns the old version."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise RecordTooNew(too_new_message(current))
    if current == target:
        return current
    # Only making or upgrading a file needs sqlite-utils (and its imports: click, dateutil,
    # pluggy): opening a record that is up to date does not import it. No plugin of
    # sqlite-utils' runs on the record's connection (nor is every package scanned for one).
    import sqlite_utils

    db = sqlite_utils.Database(conn, execute_plugins=False)
    for version in range(current + 1, target + 1):
        MIGRATIONS[version - 1](db)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),)
        )
    return current
