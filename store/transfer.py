"""Moving one incident between records: export to a new SQLite file, import from one.

An export is itself a record: the incident's entries (alerts, timeline,
actions, evidence, checklist, decisions, notifications) copied in their
original order and re-chained from genesis, so `verify_chain` checks it on
its own. Provenance for a reviewer who also holds the source record:

- table `export_origin` maps every exported entry's seq to its source table,
  seq and hash (`check_provenance` compares them with the source);
- the last entry of the export is a chained `incident.exported` timeline entry
  holding the source record's head (entries and hash) and the SHA-256 of the
  `export_origin` table, so neither can be changed without breaking the chain;
- the same facts are in `meta` under `export.*` keys for a quick look.

Import verifies all of that, then appends the entries to the target record as
new chain entries, keeping the incident ID; an ID already present, or an alert
or notification already recorded there, refuses the whole import, with nothing
written. Notifications never leave a copy queued: a second machine must not
send them again.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store import chain
from store.errors import RecordError
from store.incidents import replay
from store.record import Record, WriteTransaction
from store.schema import CHAINED_TABLES, INCIDENT_FIELDS, SCHEMA_VERSION, schema_version
from store.verify import check_entry, check_incidents

EXPORT_FORMAT = "1"
ORIGIN_TABLE = "export_origin"
EXPORTED_KIND = "incident.exported"
IMPORTED_KIND = "incident.imported"
BATCH = 5_000
# Tables whose rows carry an incident_id; rejected_inputs belong to no incident.
INCIDENT_TABLES = tuple(t for t, columns in CHAINED_TABLES.items() if "incident_id" in columns)
NOT_SENT = "copied with an exported incident; not sent from this copy"


class TransferError(RecordError):
    """An export or import that cannot be done; nothing was written."""


@dataclass(frozen=True, slots=True)
class TransferResult:
    incident_id: str
    entries: int  # entries of the incident moved
    head_entries: int  # the receiving file's chain length afterwards
    head_hash: str
    source_head: str  # "entries:hash" of the record the incident came from
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "entries": self.entries,
            "head": {"entries": self.head_entries, "hash": self.head_hash},
            "source_head": self.source_head,
            "path": str(self.path),
        }


# Entries are read as plain tuples, (seq, id, prev_hash, hash, *content columns):
# slicing the content out costs far less than a million sqlite3.Row lookups by name.
SEQ, ROW_ID, PREV_HASH, HASH, CONTENT = 0, 1, 2, 3, 4
Entry = tuple[Any, ...]


def _select(table: str) -> str:
    return f"SELECT seq, id, prev_hash, hash, {', '.join(CHAINED_TABLES[table])} FROM {table}"


def _rows(conn: sqlite3.Connection, incident_id: str) -> Iterator[tuple[int, str, Entry]]:
    """The incident's chained entries of every table, merged in chain order."""

    def table_rows(table: str) -> Iterator[tuple[int, str, Entry]]:
        # Alerts have no (incident_id, seq) index: when the incident holds most
        # of them, walking the seq index beats sorting a million rows in temp files.
        column = (
            "+incident_id" if table == "alerts" and _mostly(conn, incident_id) else "incident_id"
        )
        for row in conn.execute(
            f"{_select(table)} WHERE {column} = ? ORDER BY seq", (incident_id,)
        ):
            yield row[SEQ], table, row

    return heapq.merge(*(table_rows(t) for t in INCIDENT_TABLES), key=lambda item: item[0])


def _mostly(conn: sqlite3.Connection, incident_id: str) -> bool:
    """Whether at least half of the record's alerts belong to this incident (index-only counts)."""
    (mine,) = conn.execute(
        "SELECT count(*) FROM alerts WHERE incident_id = ?", (incident_id,)
    ).fetchone()
    (everyone,) = conn.execute("SELECT count(*) FROM alerts").fetchone()
    return mine * 2 >= everyone > 0


def _content(table: str, row: Entry) -> tuple[tuple[Any, ...], str]:
    values = row[CONTENT:]
    return values, chain.content_hash(table, dict(zip(CHAINED_TABLES[table], values, strict=True)))


Hashed = tuple[str, Entry, tuple[Any, ...], str]
"""(table, entry, content values, content hash): an entry ready to append to another chain."""


def _hashed(rows: Iterator[tuple[int, str, Entry]]) -> Iterator[Hashed]:
    for _seq, table, row in rows:
        yield (table, row, *_content(table, row))


@dataclass
class _ChainWalk:
    """What walking an export's chain found: its length and head, once walked to the end."""

    entries: int = 0
    head_hash: str = chain.GENESIS


def _verified(
    conn: sqlite3.Connection, incident_id: str, path: Path, walk: _ChainWalk
) -> Iterator[Hashed]:
    """Every entry of the export's chain checked as `verify_chain` checks it; yields the incident's.

    One pass hashes each entry once: the content hash that proves the entry is
    the one its new chain links. The chain's head and the incident row are
    checked after the last entry, before the caller commits anything.
    """
    streams = [_all_rows(conn, table) for table in CHAINED_TABLES]
    expected_seq, prev_hash = 1, chain.GENESIS
    for seq, table, row in heapq.merge(*streams, key=lambda item: item[0]):
        values, content_sha = _content(table, row)
        if (
            seq != expected_seq
            or row[PREV_HASH] != prev_hash
            or row[HASH] != chain.link_hash(prev_hash, seq, content_sha)
        ):
            raise _not_verified(path, _problem(conn, table, row, expected_seq, prev_hash))
        if table in INCIDENT_TABLES and values[_INCIDENT_ID[table]] == incident_id:
            yield table, row, values, content_sha
        prev_hash = row[HASH]
        expected_seq += 1
    walk.entries, walk.head_hash = expected_seq - 1, prev_hash
    head = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    recorded = head[0] if head else f"0:{chain.GENESIS}"
    if recorded != f"{walk.entries}:{prev_hash}":
        raise _not_verified(
            path,
            f"the chain ends at entry {walk.entries} but the file says it has "
            f"{recorded.partition(':')[0]}: entries after it were deleted",
        )
    problem = check_incidents(conn)
    if problem is not None:
        raise _not_verified(path, problem)


def _not_verified(path: Path, problem: object) -> TransferError:
    return TransferError(
        f"{path}: the export's audit chain does not verify ({problem}); nothing imported"
    )


def _problem(
    conn: sqlite3.Connection, table: str, entry: Entry, expected_seq: int, prev_hash: str
) -> object:
    """verify's own words for what is wrong with an entry that does not hold."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    row = cursor.execute(f"SELECT * FROM {table} WHERE id = ?", (entry[ROW_ID],)).fetchone()
    found = check_entry(table, row, expected_seq, prev_hash) if row is not None else None
    return found or f"{table} entry {entry[SEQ]} does not hold"


def _all_rows(conn: sqlite3.Connection, table: str) -> Iterator[tuple[int, str, Entry]]:
    for row in conn.execute(f"{_select(table)} ORDER BY seq"):
        yield row[SEQ], table, row


_INCIDENT_ID = {
    table: tuple(CHAINED_TABLES[table]).index("incident_id") for table in INCIDENT_TABLES
}


def _copy_entries(
    entries: Iterator[Hashed], txn: WriteTransaction
) -> Iterator[tuple[int, str, Entry]]:
    """Append entries to `txn` in order, in batches of one table; yields (new seq, table, row)."""
    batch: list[Hashed] = []

    def flush() -> Iterator[tuple[int, str, Entry]]:
        start = 0
        while start < len(batch):
            table = batch[start][0]
            end = start
            while end < len(batch) and batch[end][0] == table:
                end += 1
            run = batch[start:end]
            first_seq = txn.head_seq + 1
            txn.append_prepared(table, [item[2] for item in run], [item[3] for item in run])
            for offset, item in enumerate(run):
                yield first_seq + offset, table, item[1]
            start = end
        batch.clear()

    for entry in entries:
        batch.append(entry)
        if len(batch) >= BATCH:
            yield from flush()
    yield from flush()


def _insert_incident(conn: sqlite3.Connection, incident_id: str) -> None:
    """The incident's row, as the replay of its chained opened/updated entries."""
    events = conn.execute(
        "SELECT kind, data FROM timeline WHERE incident_id = ? "
        "AND kind IN ('incident.opened', 'incident.updated') ORDER BY seq",
        (incident_id,),
    ).fetchall()
    state = {k: v for k, v in replay(events).items() if k in INCIDENT_FIELDS and k != "id"}
    row = {"id": incident_id, **state}
    conn.execute(
        f"INSERT INTO incidents ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        tuple(row.values()),
    )


def _copy_outbox_state(
    source: sqlite3.Connection, target: sqlite3.Connection, id_map: dict[int, int]
) -> None:
    for old_id, new_id in id_map.items():
        state = source.execute(
            "SELECT status, attempts, delivered_at FROM outbox_state WHERE outbox_id = ?", (old_id,)
        ).fetchone()
        delivered = state is not None and state[0] == "delivered"
        target.execute(
            "INSERT INTO outbox_state (outbox_id, status, attempts, delivered_at, last_error) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                new_id,
                "delivered" if delivered else "failed",
                state[1] if state else 0,
                state[2] if delivered else None,
                None if delivered else NOT_SENT,
            ),
        )


def _new_row_id(conn: sqlite3.Connection, table: str, seq: int) -> int:
    return conn.execute(f"SELECT id FROM {table} WHERE seq = ?", (seq,)).fetchone()[0]


def _origin_digest(conn: sqlite3.Connection) -> str:
    digest = hashlib.sha256()
    for seq, table, source_seq, source_hash in conn.execute(
        f"SELECT seq, source_table, source_seq, source_hash FROM {ORIGIN_TABLE} ORDER BY seq"
    ):
        digest.update(f"{seq}\t{table}\t{source_seq}\t{source_hash}\n".encode())
    return digest.hexdigest()


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection; the URI form quotes any character a file name may hold."""
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def _remove(path: Path) -> None:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        candidate.unlink(missing_ok=True)


def export_incident(record: Record, incident_id: str, path: str | Path) -> TransferResult:
    """Write one incident with all its entries to a new SQLite file whose chain verifies alone."""
    path = Path(path)
    incident = record.incidents.get_required(incident_id)
    if path.exists():
        raise TransferError(f"{path} already exists; an export is written to a new file")
    partial = path.with_name(path.name + ".partial")
    _remove(partial)
    # A snapshot of the source: one read transaction on a connection of our own.
    source = connect_readonly(record.path)
    try:
        source.execute("BEGIN")
        head = source.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
        source_head = head[0] if head else f"0:{chain.GENESIS}"
        with Record.open(partial, clock=record.clock) as target:
            # A partial file is thrown away on any failure and synced whole before it
            # is renamed into place: syncing each of its commits buys nothing.
            target.conn.execute("PRAGMA synchronous = OFF")
            entries = _write_export(source, target, incident.id, source_head, record.path.name)
            head_entries, head_hash = target.head()
        source.execute("COMMIT")
    except BaseException:
        _remove(partial)
        raise
    finally:
        source.close()
    # One self-contained file: no -wal beside it to lose on the way to a reviewer.
    single = sqlite3.connect(partial, isolation_level=None)
    try:
        single.execute("PRAGMA journal_mode = DELETE")
    finally:
        single.close()
    with partial.open("rb") as written:
        os.fsync(written.fileno())
    os.replace(partial, path)
    return TransferResult(incident.id, entries, head_entries, head_hash, source_head, path)


def _write_export(
    source: sqlite3.Connection, target: Record, incident_id: str, source_head: str, source_name: str
) -> int:
    conn = target.conn
    conn.execute(
        f"CREATE TABLE {ORIGIN_TABLE} (seq INTEGER PRIMARY KEY, source_table TEXT NOT NULL, "
        "source_seq INTEGER NOT NULL, source_hash TEXT NOT NULL)"
    )
    with target.write() as txn:
        origins: list[tuple[int, str, int, str]] = []
        outbox_ids: dict[int, int] = {}
        entries = 0
        for new_seq, table, row in _copy_entries(_hashed(_rows(source, incident_id)), txn):
            entries += 1
            origins.append((new_seq, table, row[SEQ], row[HASH]))
            if table == "outbox":
                outbox_ids[row[ROW_ID]] = _new_row_id(conn, "outbox", new_seq)
            if len(origins) >= BATCH:
                conn.executemany(f"INSERT INTO {ORIGIN_TABLE} VALUES (?, ?, ?, ?)", origins)
                origins.clear()
        conn.executemany(f"INSERT INTO {ORIGIN_TABLE} VALUES (?, ?, ?, ?)", origins)
        if entries == 0:
            raise TransferError(f"incident {incident_id} has no entries to export")
        _insert_incident(conn, incident_id)
        _copy_outbox_state(source, conn, outbox_ids)
        facts = {
            "format": EXPORT_FORMAT,
            "incident_id": incident_id,
            "source_head": source_head,
            "source_name": source_name,
            "entries": entries,
            "origin_sha256": _origin_digest(conn),
        }
        target.timeline.add_in(
            txn,
            incident_id,
            EXPORTED_KIND,
            f"Exported from {source_name} at its chain entry {source_head.partition(':')[0]}",
            data=facts,
        )
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(f"export.{key}", str(value)) for key, value in facts.items()]
            + [("export.exported_at", target.now())],
        )
    return entries


def _open_export(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise TransferError(f"{path}: no such file")
    conn = connect_readonly(path)
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as error:
        conn.close()
        raise TransferError(f"{path}: not a warroom export ({error})") from None
    if version != SCHEMA_VERSION:
        conn.close()
        raise TransferError(
            f"{path}: written with record schema {version}, this warroom reads {SCHEMA_VERSION}"
        )
    return conn


def _exported_facts(conn: sqlite3.Connection, path: Path) -> dict[str, Any]:
    """The chained `incident.exported` entry, checked against the file's other contents."""
    rows = conn.execute(
        "SELECT incident_id, data, seq FROM timeline WHERE kind = ? ORDER BY seq", (EXPORTED_KIND,)
    ).fetchall()
    head = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    if not rows or head is None or int(head[0].partition(":")[0]) != rows[-1][2]:
        raise TransferError(
            f"{path}: not a warroom export (no export entry at the end of its chain)"
        )
    incident_id, data, _seq = rows[-1]
    try:  # read before the chain is verified: hostile bytes get words, not a traceback
        facts = json.loads(data or "null")
    except ValueError:
        facts = None
    if not isinstance(facts, dict):
        raise TransferError(f"{path}: its export entry holds no export facts; nothing imported")
    if facts.get("format") != EXPORT_FORMAT or facts.get("incident_id") != incident_id:
        raise TransferError(
            f"{path}: export format {facts.get('format')!r} is not one this warroom reads"
        )
    exists = conn.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{ORIGIN_TABLE}'").fetchone()
    if not exists or _origin_digest(conn) != facts.get("origin_sha256"):
        raise TransferError(f"{path}: its provenance table was changed after export")
    for table in INCIDENT_TABLES:
        other = conn.execute(
            f"SELECT count(*) FROM {table} WHERE incident_id IS NOT ? ", (incident_id,)
        ).fetchone()[0]
        if other:
            raise TransferError(
                f"{path}: holds {table} rows of other incidents; not an export of one"
            )
    return facts


def import_incident(record: Record, path: str | Path) -> TransferResult:
    """Verify an export file and merge its incident into `record`, as new chain entries."""
    path = Path(path)
    source = _open_export(path)
    try:
        facts = _exported_facts(source, path)
        incident_id = facts["incident_id"]
        walk = _ChainWalk()
        # One write: the export's chain is verified while it is copied, and a
        # problem found anywhere in it rolls the whole import back.
        with record.write() as txn:
            _refuse_clashes(txn.conn, source, incident_id, record.path)
            outbox_ids: dict[int, int] = {}
            entries = 0
            verified = _verified(source, incident_id, path, walk)
            for new_seq, table, row in _copy_entries(verified, txn):
                entries += 1
                if table == "outbox":
                    outbox_ids[row[ROW_ID]] = _new_row_id(txn.conn, "outbox", new_seq)
            _insert_incident(txn.conn, incident_id)
            _copy_outbox_state(source, txn.conn, outbox_ids)
            record.timeline.add_in(
                txn,
                incident_id,
                IMPORTED_KIND,
                f"Imported from {path.name} ({entries} entries, export chain head "
                f"{walk.entries}:{walk.head_hash[:16]})",
                data={
                    "file": path.name,
                    "export_head": f"{walk.entries}:{walk.head_hash}",
                    "source_head": facts["source_head"],
                    "source_name": facts["source_name"],
                    "entries": entries,
                },
            )
        head_entries, head_hash = record.head()
        return TransferResult(
            incident_id, entries, head_entries, head_hash, facts["source_head"], path
        )
    finally:
        source.close()


def _refuse_clashes(
    target: sqlite3.Connection, source: sqlite3.Connection, incident_id: str, target_path: Path
) -> None:
    if target.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone():
        raise TransferError(
            f"incident {incident_id} is already in {target_path}; nothing imported "
            "(import it into another record, or export it again from there)"
        )
    for table, column in (("alerts", "dedupe_key"), ("outbox", "dedup_key")):
        for (key,) in source.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
            if target.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (key,)).fetchone():
                raise TransferError(
                    f"{table} entry {key!r} of {incident_id} is already in {target_path} "
                    "(the same event was recorded there too); nothing imported"
                )


def check_provenance(export: sqlite3.Connection, source: sqlite3.Connection) -> list[str]:
    """Differences between an export and the record it says it came from (empty: it matches)."""
    problems: list[str] = []
    facts = json.loads(
        export.execute(
            "SELECT data FROM timeline WHERE kind = ? ORDER BY seq DESC LIMIT 1", (EXPORTED_KIND,)
        ).fetchone()[0]
    )
    head_seq, _, head_hash = facts["source_head"].partition(":")
    if int(head_seq):
        found = _hash_at(source, int(head_seq))
        if found != head_hash:
            problems.append(f"the source's entry {head_seq} is not the head the export names")
    for seq, table, source_seq, source_hash in export.execute(
        f"SELECT seq, source_table, source_seq, source_hash FROM {ORIGIN_TABLE} ORDER BY seq"
    ):
        columns = ", ".join(CHAINED_TABLES[table])
        mine = export.execute(f"SELECT {columns} FROM {table} WHERE seq = ?", (seq,)).fetchone()
        theirs = source.execute(
            f"SELECT {columns}, hash FROM {table} WHERE seq = ?", (source_seq,)
        ).fetchone()
        if theirs is None or theirs[-1] != source_hash or tuple(theirs[:-1]) != tuple(mine):
            problems.append(f"export entry {seq} differs from source {table} entry {source_seq}")
    return problems


def _hash_at(conn: sqlite3.Connection, seq: int) -> str | None:
    for table in CHAINED_TABLES:
        row = conn.execute(f"SELECT hash FROM {table} WHERE seq = ?", (seq,)).fetchone()
        if row:
            return row[0]
    return None
