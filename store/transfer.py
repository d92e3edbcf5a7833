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

Import holds the file to what `warroom verify` checks (schema, with no view or
trigger; storage types; chain; head; incident rows; delivery states) and every
value to the rules the live path keeps (store/validate.py), all before it
takes the target's write lock, and refuses the whole file with the reason at
the first thing that does not hold. Reading a hostile file costs CPU in
proportion to its size, no more (`_cpu_budget`). Then the entries are appended
to the target as new chain entries. An incident ID the target already uses
for a different incident is imported under the next free ID of the same day,
the original kept as its alias in the chained `incident.imported` entry; the
same incident twice, or an alert already recorded there, refuses the import.
Notifications come over as copies that are never sent from the target: their
dedup keys become `imported:<export head>:<original key>`.
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
from store.chain_walk import hash_at
from store.errors import RecordError, RecordUnreadable
from store.incidents import replay
from store.record import (
    Record,
    WriteTransaction,
    check_version,
    connect_readonly,
    unreadable_as_record_error,
)
from store.schema import (
    CHAINED_TABLES,
    EXPORT_ORIGIN_DDL,
    EXPORT_ORIGIN_TABLE,
    INCIDENT_FIELDS,
    SCHEMA_VERSION,
    chained_tables,
    from_stored,
    schema_version,
)
from store.validate import row_problem
from store.verify import (
    EXPORTED_KIND,
    IMPORTED_KEY,
    IMPORTED_KIND,
    LINKED_ALERTS_SINCE,
    NOT_SENT,
    ChainWalk,
    check_alert_links,
    check_incidents,
    check_outbox,
    check_schema,
)

__all__ = ["connect_readonly"]  # re-exported: callers read exports with it

EXPORT_FORMAT = "1"
ORIGIN_TABLE = EXPORT_ORIGIN_TABLE
BATCH = 5_000
# Tables whose rows carry an incident_id; rejected_inputs belong to no incident.
INCIDENT_TABLES = tuple(t for t, columns in CHAINED_TABLES.items() if "incident_id" in columns)
# Reading a file of N bytes may cost SQLite at most this many VM steps: a record's
# tables are read a few times over, each step covering a few bytes at most, so an
# honest export stays far below it, and a crafted one (a VIEW, a recursive CTE in
# a trigger) is stopped instead of burning CPU while the user waits.
STEPS_PER_BYTE = 400
BASE_STEPS = 20_000_000
_STEPS_PER_CHECK = 10_000


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
    original_id: str | None = None  # imported under a new ID: the one it had in the export

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "original_id": self.original_id,
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


def _incident_tables(version: int) -> tuple[str, ...]:
    """The chained tables with an incident_id column that a record of `version` has."""
    return tuple(t for t in chained_tables(version) if t in INCIDENT_TABLES)


def _rows(
    conn: sqlite3.Connection, incident_id: str, version: int = SCHEMA_VERSION
) -> Iterator[tuple[int, str, Entry]]:
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

    return heapq.merge(*(table_rows(t) for t in _incident_tables(version)),
                       key=lambda item: item[0])


_ALERT_SEQ = tuple(CHAINED_TABLES["alert_links"]).index("alert_seq")


def _relinked(
    rows: Iterator[tuple[int, str, Entry]], conn: sqlite3.Connection, incident_id: str,
    first_seq: int,
) -> Iterator[tuple[int, str, Entry]]:
    """The entries as copied from `first_seq` on, each alert link naming its alert's position
    in the copy (the link follows its alert in the chain, so the alert's new place is known)."""
    linked = {seq for (seq,) in conn.execute(
        "SELECT alert_seq FROM alert_links WHERE incident_id = ?", (incident_id,))}
    moved: dict[int, int] = {}
    for offset, (seq, table, row) in enumerate(rows):
        if table == "alerts" and seq in linked:
            moved[seq] = first_seq + offset
        elif table == "alert_links":
            alert_seq = row[CONTENT + _ALERT_SEQ]
            if alert_seq not in moved:
                raise TransferError(f"alert_links entry {seq} names entry {alert_seq}, which is "
                                    "no alert of this incident before it; nothing copied")
            values = list(row)
            values[CONTENT + _ALERT_SEQ] = moved[alert_seq]
            row = tuple(values)
        yield seq, table, row


def _mostly(conn: sqlite3.Connection, incident_id: str) -> bool:
    """Whether at least half of the record's alerts belong to this incident (index-only counts)."""
    (mine,) = conn.execute(
        "SELECT count(*) FROM alerts WHERE incident_id = ?", (incident_id,)
    ).fetchone()
    (everyone,) = conn.execute("SELECT count(*) FROM alerts").fetchone()
    return bool(mine * 2 >= everyone > 0)


def _content(table: str, row: Entry) -> tuple[tuple[Any, ...], str]:
    values = from_stored(table, row[CONTENT:])
    return values, chain.content_hash(table, dict(zip(CHAINED_TABLES[table], values, strict=True)))


Hashed = tuple[str, Entry, tuple[Any, ...], str]
"""(table, entry, content values, content hash): an entry ready to append to another chain."""


def _hashed(rows: Iterator[tuple[int, str, Entry]]) -> Iterator[Hashed]:
    for _seq, table, row in rows:
        yield (table, row, *_content(table, row))


_INCIDENT_ID = {
    table: tuple(CHAINED_TABLES[table]).index("incident_id") for table in INCIDENT_TABLES
}
_DEDUP_KEY = tuple(CHAINED_TABLES["outbox"]).index("dedup_key")


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
    return int(conn.execute(f"SELECT id FROM {table} WHERE seq = ?", (seq,)).fetchone()[0])


def _origin_digest(conn: sqlite3.Connection) -> str:
    digest = hashlib.sha256()
    for seq, table, source_seq, source_hash in conn.execute(
        f"SELECT seq, source_table, source_seq, source_hash FROM {ORIGIN_TABLE} ORDER BY seq"
    ):
        digest.update(f"{seq}\t{table}\t{source_seq}\t{source_hash}\n".encode())
    return digest.hexdigest()


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
    conn.execute(EXPORT_ORIGIN_DDL)
    with target.write() as txn:
        origins: list[tuple[int, str, int, str]] = []
        outbox_ids: dict[int, int] = {}
        entries = 0
        rows = _relinked(_rows(source, incident_id), source, incident_id, txn.head_seq + 1)
        for new_seq, table, row in _copy_entries(_hashed(rows), txn):
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
    """The export, read-only, in one snapshot, its CPU bounded by its size."""
    if not path.is_file():
        raise TransferError(f"{path}: no such file")
    conn = connect_readonly(path)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA trusted_schema = OFF")  # no function of the file's schema runs
        _cpu_budget(conn, path.stat().st_size)
        conn.execute("BEGIN")
    except BaseException:
        conn.close()
        raise
    return conn


def _cpu_budget(conn: sqlite3.Connection, size: int) -> None:
    """Interrupt any statement once reading the file has cost more than its size allows."""
    limit = (BASE_STEPS + STEPS_PER_BYTE * size) // _STEPS_PER_CHECK
    spent = 0

    def tick() -> int:
        nonlocal spent
        spent += 1
        return int(spent > limit)

    conn.set_progress_handler(tick, _STEPS_PER_CHECK)


@dataclass(frozen=True, slots=True)
class _Checked:
    """An export that holds: its facts, its chain's length and head, the entries it moves."""

    facts: dict[str, Any]
    entries: int
    head: str
    version: int


def _check_export(conn: sqlite3.Connection, path: Path) -> _Checked:
    """Everything `verify` checks, and every value against the live path's rules.

    Raises TransferError naming the first thing that does not hold.
    """
    try:
        with unreadable_as_record_error(path):
            version = check_version(conn)
    except RecordUnreadable as error:
        raise TransferError(f"{path}: not a warroom export ({error}); nothing imported") from None
    if version == 0:
        raise TransferError(f"{path}: not a warroom export (schema 0: no record in it)")
    problem = check_schema(conn, version)
    if problem is not None:
        raise TransferError(f"{path}: refused, {problem}; nothing imported")
    facts = _exported_facts(conn, path, version)
    walk = ChainWalk(conn, version)
    for table, row, content in walk:
        wrong = row_problem(table, content or {})
        if wrong is not None:
            raise TransferError(
                f"{path}: refused, {table} row {row[2]} (chain entry {row[0]}): {wrong}, "
                "which warroom never writes; nothing imported"
            )
    problem = (walk.problem or walk.head_problem() or check_incidents(conn)
               or (check_alert_links(conn) if version >= LINKED_ALERTS_SINCE else None)
               or check_outbox(conn))
    if problem is not None:
        raise TransferError(
            f"{path}: the export's audit chain does not verify ({problem}); nothing imported"
        )
    return _Checked(facts, walk.entries, f"{walk.entries}:{walk.head_hash}", version)


def _exported_facts(conn: sqlite3.Connection, path: Path, version: int) -> dict[str, Any]:
    """The chained `incident.exported` entry, checked against the file's other contents."""
    rows = conn.execute(
        "SELECT incident_id, data, seq FROM timeline WHERE kind = ? ORDER BY seq", (EXPORTED_KIND,)
    ).fetchall()
    head = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    if not rows or head is None or str(head[0]).partition(":")[0] != str(rows[-1][2]):
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
    for key in ("source_head", "source_name"):
        if not isinstance(facts.get(key), str):
            raise TransferError(f"{path}: its export facts lack {key}; nothing imported")
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (ORIGIN_TABLE,)).fetchone()
    if not exists or _origin_digest(conn) != facts.get("origin_sha256"):
        raise TransferError(f"{path}: its provenance table was changed after export")
    for table in _incident_tables(version):
        other = conn.execute(
            f"SELECT count(*) FROM {table} WHERE incident_id IS NOT ? ", (incident_id,)
        ).fetchone()[0]
        if other:
            raise TransferError(
                f"{path}: holds {table} rows of other incidents; not an export of one"
            )
    if conn.execute("SELECT 1 FROM rejected_inputs LIMIT 1").fetchone():
        raise TransferError(f"{path}: holds rejected inputs, which no export has; nothing imported")
    return facts


def import_incident(record: Record, path: str | Path) -> TransferResult:
    """Check an export file whole, then merge its incident into `record` as new chain entries."""
    path = Path(path)
    source = _open_export(path)
    try:
        checked = _check_export(source, path)
        exported_id = checked.facts["incident_id"]
        with record.write() as txn:
            incident_id = _target_id(txn.conn, source, exported_id, record.path)
            _refuse_alert_clashes(txn.conn, source, exported_id, record.path)
            key_prefix = f"{IMPORTED_KEY}{checked.head.partition(':')[2][:16]}:"
            moved = _renamed(
                _relinked(_rows(source, exported_id, checked.version), source, exported_id,
                          txn.head_seq + 1),
                incident_id, key_prefix,
            )
            outbox_ids: dict[int, int] = {}
            entries = 0
            for new_seq, table, row in _copy_entries(_hashed(moved), txn):
                entries += 1
                if table == "outbox":
                    outbox_ids[row[ROW_ID]] = _new_row_id(txn.conn, "outbox", new_seq)
            _insert_incident(txn.conn, incident_id)
            _copy_outbox_state(source, txn.conn, outbox_ids)
            renamed = incident_id != exported_id
            alias = f" as {incident_id} (its ID in the export: {exported_id})" if renamed else ""
            short_head = checked.head[: checked.head.index(":") + 17]
            record.timeline.add_in(
                txn,
                incident_id,
                IMPORTED_KIND,
                f"Imported from {path.name}{alias} ({entries} entries, export chain head "
                f"{short_head})",
                data={
                    "file": path.name,
                    "export_head": checked.head,
                    "source_head": checked.facts["source_head"],
                    "source_name": checked.facts["source_name"],
                    "entries": entries,
                    **({"original_id": exported_id} if renamed else {}),
                },
            )
        head_entries, head_hash = record.head()
        return TransferResult(
            incident_id, entries, head_entries, head_hash, checked.facts["source_head"], path,
            original_id=exported_id if renamed else None,
        )  # fmt: skip
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error):
            raise TransferError(
                f"{path}: reading it costs far more than a file of its size can; refused, "
                "nothing imported"
            ) from None
        raise
    finally:
        source.close()


def _renamed(
    rows: Iterator[tuple[int, str, Entry]], incident_id: str, key_prefix: str
) -> Iterator[tuple[int, str, Entry]]:
    """The entries as the target records them: its incident ID, its copies' dedup keys."""
    for seq, table, row in rows:
        values = list(row)
        values[CONTENT + _INCIDENT_ID[table]] = incident_id
        if table == "outbox":
            values[CONTENT + _DEDUP_KEY] = key_prefix + str(row[CONTENT + _DEDUP_KEY])
        yield seq, table, tuple(values)


def _opened(conn: sqlite3.Connection, incident_id: str) -> str | None:
    row = conn.execute(
        "SELECT data FROM timeline WHERE incident_id = ? AND kind = 'incident.opened' "
        "ORDER BY seq LIMIT 1",
        (incident_id,),
    ).fetchone()
    return row[0] if row else None


def _target_id(
    target: sqlite3.Connection, source: sqlite3.Connection, incident_id: str, target_path: Path
) -> str:
    """The ID the incident gets in the target: its own, or the next free one of its day."""
    opened = _opened(source, incident_id)
    same = target.execute(
        "SELECT incident_id FROM timeline WHERE kind = 'incident.opened' AND data = ? LIMIT 1",
        (opened,),
    ).fetchone()
    if same is not None:
        also = "" if same[0] == incident_id else f" (as {same[0]})"
        raise TransferError(
            f"incident {incident_id} is already in {target_path}{also}; nothing imported "
            "(import it into another record, or export it again from there)"
        )
    if target.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone() is None:
        return incident_id
    prefix = incident_id[: incident_id.rindex("-") + 1]  # NSI-YYYY-MM-DD-
    numbers = [
        int(taken[len(prefix) :])
        for (taken,) in target.execute("SELECT id FROM incidents WHERE id LIKE ?", (prefix + "%",))
        if taken[len(prefix) :].isdigit()
    ]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def _refuse_alert_clashes(
    target: sqlite3.Connection, source: sqlite3.Connection, incident_id: str, target_path: Path
) -> None:
    for (key,) in source.execute("SELECT dedupe_key FROM alerts WHERE dedupe_key IS NOT NULL"):
        if target.execute("SELECT 1 FROM alerts WHERE dedupe_key = ?", (key,)).fetchone():
            raise TransferError(
                f"alerts entry {key!r} of {incident_id} is already in {target_path} "
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
        found = hash_at(source, schema_version(source), int(head_seq))
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
