"""`warroom verify`: check the whole record file and name the first thing that does not hold.

In order, stopping at the first stage that finds a problem (a later stage
cannot be trusted over a file that failed an earlier one):

1. the schema: tables, columns, indexes, and no trigger or view, exactly as this
   version's migrations make them (a trigger can forge what is written next, a
   view can stand in for a table);
2. the audit chain, entry by entry: position, link, content hash (which covers
   each value's type: a number stored as text, a BLOB as text, hash apart),
   and for evidence and rejected input the content against its own SHA-256
   and size;
3. the chain's recorded head, and each anchor given (an `entries:hash` kept
   outside the file: a report, a notification, the SIEM's checkpoints);
4. state outside the chain: each incident row against the replay of its
   chained entries (and the rules every writer keeps), each notification's
   delivery state against its chained delivery or give-up entry.

Everything is read through the connection given, which `warroom verify` opens
read-only: verifying never writes, migrates or creates anything.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from store import chain
from store.errors import NotARecord, RecordTooNew
from store.incidents import replay
from store.record import connect_readonly
from store.schema import (
    CHAINED_TABLES,
    EXPORT_ORIGIN_DDL,
    EXPORT_ORIGIN_TABLE,
    INCIDENT_FIELDS,
    INT_COLUMNS,
    SCHEMA_VERSION,
    TYPED_BLOBS_SINCE,
    UPGRADED_KIND,
    from_stored,
    migrate,
    schema_version,
    too_new_message,
)
from store.validate import incident_event_problem, incident_problem

TABLES = tuple(CHAINED_TABLES)
# Rejected lines longer than this keep only their head (store/alerts.py MAX_KEPT_RAW).
MAX_KEPT_RAW = 8 * 1024 * 1024
_SQL_CLASSES = {str: "'text'", int: "'integer'", bytes: "'blob'"}


@dataclass(frozen=True, slots=True)
class Problem:
    table: str
    row_id: int | str | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.table} row {self.row_id}" if self.row_id is not None else self.table
        at = f" (chain entry {self.seq})" if self.seq is not None else ""
        return f"{where}{at}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A chain head kept outside the file: entry `entries` has hash `hash`."""

    entries: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """`ENTRIES:HASH` as reports, notifications and checkpoints quote it; ValueError if not."""
        entries, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if not sep or not entries.isascii() or not entries.isdigit() or int(entries) < 1:
            raise ValueError(f"anchor {text!r} is not ENTRIES:HASH (e.g. 1042:9f86d0...)")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"anchor {text!r}: the hash is not 64 hex digits")
        return cls(int(entries), digest)

    def __str__(self) -> str:
        return f"{self.entries}:{self.hash}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    head_hash: str
    problem: Problem | None
    anchors: tuple[Anchor, ...] = ()
    schema: int = SCHEMA_VERSION
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def head(self) -> str:
        """`entries:hash`, the anchor to keep elsewhere for the next verification."""
        return f"{self.entries}:{self.head_hash}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "head": self.head,
            "schema": self.schema,
            "anchors": [str(anchor) for anchor in self.anchors],
            "checked": dict(self.checked),
            "first_problem": asdict(self.problem) | {"message": str(self.problem)}
            if self.problem
            else None,
        }


def head_of(conn: sqlite3.Connection) -> str:
    """The `entries:hash` the record says it ends at (what reports and notifications quote)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    return row[0] if row else f"0:{chain.GENESIS}"


def verify_chain(conn: sqlite3.Connection, anchors: Iterable[Anchor] = ()) -> VerifyResult:
    """Check the whole file (see the module's docstring); raises NotARecord, RecordTooNew."""
    anchors = tuple(anchors)
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as error:
        raise NotARecord(f"not a warroom record ({error})") from None
    if version > SCHEMA_VERSION:
        raise RecordTooNew(too_new_message(version))
    if version == 0:
        raise NotARecord("not a warroom record (it has no schema version)")
    checked: dict[str, int] = {}

    def result(problem: Problem | None, entries: int = 0, head: str = chain.GENESIS) -> Any:
        return VerifyResult(problem is None, entries, head, problem, anchors, version, checked)

    problem = check_schema(conn, version)
    if problem is not None:
        return result(problem)
    walk = walk_chain(conn, version, anchors)
    checked.update(walk.counts)
    checked["entries"] = walk.entries
    problem = walk.problem or walk.head_problem() or walk.anchor_problem()
    if problem is None:
        problem = check_incidents(conn)
    if problem is None:
        problem = check_outbox(conn)
    return result(problem, walk.entries, walk.head_hash)


# ----- 1. the schema ---------------------------------------------------------------------------

_OPTIONAL_TABLES = ("alert_rollup", EXPORT_ORIGIN_TABLE)
_INTERNAL_TABLES = ("sqlite_sequence", *(f"sqlite_stat{n}" for n in range(1, 5)))
_schemas: dict[int, dict[tuple[str, str], object]] = {}


def describe_schema(conn: sqlite3.Connection) -> dict[tuple[str, str], object]:
    """Every object of the file by (type, name), with what defines it (columns, index keys)."""
    objects: dict[tuple[str, str], object] = {}
    for kind, name, table, sql in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ):
        if kind == "table" and name in _INTERNAL_TABLES:
            continue
        if kind == "index" and str(name).startswith("sqlite_autoindex_"):
            continue  # made by SQLite for a UNIQUE or PRIMARY KEY: part of its table
        if kind == "table":
            columns = conn.execute("SELECT * FROM pragma_table_xinfo(?)", (name,)).fetchall()
            keys = conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (name,)).fetchall()
            options = conn.execute(
                "SELECT wr, strict FROM pragma_table_list WHERE name = ?", (name,)
            ).fetchall()
            objects[(kind, name)] = (tuple(columns), tuple(keys), tuple(options))
        elif kind == "index":
            listed = [
                row[1:]
                for row in conn.execute("SELECT * FROM pragma_index_list(?)", (table,))
                if row[1] == name
            ]
            keys = conn.execute("SELECT * FROM pragma_index_xinfo(?)", (name,)).fetchall()
            objects[(kind, name)] = (table, tuple(listed), tuple(keys))
        else:
            objects[(kind, name)] = sql  # a view or a trigger: none belongs in a record
    return objects


def expected_schema(version: int) -> dict[tuple[str, str], object]:
    """What this warroom's migrations make for `version`, with the tables a record may add."""
    if version not in _schemas:
        from store.alert_summary import refresh_rollup_in

        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            migrate(conn, target=version)
            refresh_rollup_in(conn)  # the optional tables: made on use, in any version
            conn.execute(EXPORT_ORIGIN_DDL)
            _schemas[version] = describe_schema(conn)
        finally:
            conn.close()
    return _schemas[version]


def check_schema(conn: sqlite3.Connection, version: int) -> Problem | None:
    expected = expected_schema(version)
    found = describe_schema(conn)
    for key in sorted(found, key=_schema_order):
        kind, name = key
        if kind in ("trigger", "view"):
            return Problem(
                "schema",
                name,
                None,
                f"a {kind} that warroom never makes: it can change or "
                "stand in for what is recorded",
            )
        if key not in expected:
            return Problem("schema", name, None, f"a {kind} that warroom schema {version} lacks")
        if found[key] != expected[key]:
            return Problem(
                "schema",
                name,
                None,
                f"this {kind} differs from what warroom schema {version} makes",
            )
    for key in sorted(expected):
        if key not in found and key[1] not in _OPTIONAL_TABLES and not _of_optional(key, expected):
            return Problem("schema", key[1], None, f"the {key[0]} is missing")
    return None


def _schema_order(key: tuple[str, str]) -> tuple[int, str]:
    return ({"trigger": 0, "view": 1, "table": 2, "index": 3}.get(key[0], 4), key[1])


def _of_optional(key: tuple[str, str], expected: dict[tuple[str, str], object]) -> bool:
    definition = expected[key]
    return key[0] == "index" and isinstance(definition, tuple) and definition[0] in _OPTIONAL_TABLES


# ----- 2. storage types ------------------------------------------------------------------------


def check_types(conn: sqlite3.Connection) -> Problem | None:
    """Each column holds its declared type or NULL (one scan per table, inside SQLite).

    An integer column may hold text only as an integer beyond SQLite's 64 bits
    (store.schema.to_stored).
    """
    for table, columns in CHAINED_TABLES.items():
        conditions = [
            "typeof(seq) != 'integer'",
            "typeof(prev_hash) != 'text'",
            "typeof(hash) != 'text'",
        ]
        for column, kind in columns.items():
            # (text in an integer column is looked at in Python: it may be a big integer)
            conditions.append(f"typeof({column}) NOT IN ({_SQL_CLASSES[kind]}, 'null')")
        sql = f"SELECT * FROM {table} WHERE {' OR '.join(conditions)} ORDER BY id"
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row
        for row in cursor.execute(sql):
            problem = _type_problem(table, row)
            if problem is not None:
                return Problem(table, row["id"], _int_or_none(row["seq"]), problem)
    return None


def _type_problem(table: str, row: sqlite3.Row) -> str | None:
    for column in ("seq", "prev_hash", "hash"):
        want = int if column == "seq" else str
        if type(row[column]) is not want:
            return f"{column} is {_sql_class(row[column])}, not {_sql_name(want)} (edited)"
    columns = CHAINED_TABLES[table]
    values = tuple(row[column] for column in columns)
    decoded = from_stored(table, values)
    for (column, kind), value in zip(columns.items(), decoded, strict=True):
        if value is not None and type(value) is not kind:
            return f"{column} is {_sql_class(value)}, not {_sql_name(kind)} (edited)"
    return None


def _sql_class(value: object) -> str:
    return {str: "text", int: "an integer", bytes: "a BLOB", float: "a real number"}.get(
        type(value), type(value).__name__
    )


def _sql_name(kind: type) -> str:
    return {str: "text", int: "an integer", bytes: "a BLOB"}[kind]


def _int_or_none(value: object) -> int | None:
    return value if type(value) is int else None


# ----- 3. and 4. the chain, its head, the anchors ----------------------------------------------


# Positions in a walked row: (seq, table index, id, prev_hash, hash, *content) where the
# content is the stored columns, or (in the fast form) one BLOB of canonical JSON.
SEQ, TABLE, ROW_ID, PREV_HASH, HASH, CONTENT = 0, 1, 2, 3, 4, 5
_BLOB_TABLES = frozenset(t for t, columns in CHAINED_TABLES.items() if bytes in columns.values())


# A record this large is walked by several processes, each over a range of positions.
PARALLEL_MIN_ENTRIES = 200_000


def walk_chain(
    conn: sqlite3.Connection, version: int, anchors: Iterable[Anchor] = ()
) -> ChainWalk:
    """The chain walked to its end (or its first problem), in parallel when it is long.

    The walk of a range starts from the hash its first entry's predecessor has in
    the file; the range before it must end on that very hash, which is checked
    when the ranges are joined, so the parts prove what one walk would.
    """
    anchors = tuple(anchors)
    last = max(
        conn.execute(f"SELECT coalesce(max(seq), 0) FROM {table}").fetchone()[0]
        for table in TABLES
    )
    path = _file_of(conn)
    workers = min(os.cpu_count() or 1, 4)
    if last < PARALLEL_MIN_ENTRIES or workers < 2 or path is None or type(last) is not int:
        walk = ChainWalk(conn, version, anchors, contents=False)
        for _entry in walk:
            pass
        return walk
    bounds = [1 + last * part // workers for part in range(workers)] + [last + 1]
    ranges = [(bounds[k], bounds[k + 1] - 1) for k in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_walk_range, *zip(*[(path, version, lo, hi) for lo, hi in ranges],
                                                strict=True), [anchors] * workers))  # fmt: skip
    joined = ChainWalk(conn, version, anchors, contents=False)
    for (lo, hi), part in zip(ranges, parts, strict=True):
        entries, head_hash, problem, counts, anchored, start_prev = part
        if lo > 1 and start_prev != joined.head_hash:
            problem = problem or Problem("chain", None, lo, "does not link to the entry before "
                                         "it (reordered or inserted)")  # fmt: skip
        joined.entries, joined.head_hash = entries, head_hash
        joined._anchored.update(anchored)
        for table, count in counts.items():
            joined.counts[table] = joined.counts.get(table, 0) + count
        if problem is not None:
            joined.problem = problem
            break
        if entries != hi:
            # This range ends early: what follows, if anything, is missing.
            if hi < last:
                joined.problem = Problem(
                    "chain", None, entries + 1, f"entries {entries + 1}..{hi} are missing (deleted)"
                )
            break
    return joined


def _walk_range(
    path: str, version: int, lo: int, hi: int, anchors: tuple[Anchor, ...]
) -> tuple[int, str, Problem | None, dict[str, int], dict[int, str], str]:
    """One process's part of `walk_chain`: positions lo..hi of the file, read-only."""
    conn = _connect_readonly(path)
    try:
        conn.execute("BEGIN")
        prev = chain.GENESIS
        if lo > 1:
            prev = _hash_at(conn, lo - 1) or ""
        walk = ChainWalk(conn, version, anchors, contents=False, first=lo, last=hi, prev=prev)
        for _entry in walk:
            pass
        return walk.entries, walk.head_hash, walk.problem, walk.counts, walk._anchored, prev
    finally:
        conn.close()


def _hash_at(conn: sqlite3.Connection, seq: int) -> str | None:
    for table in TABLES:
        row = conn.execute(f"SELECT hash FROM {table} WHERE seq = ?", (seq,)).fetchone()
        if row is not None:
            return row[0]
    return None


def _file_of(conn: sqlite3.Connection) -> str | None:
    for _number, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def _connect_readonly(path: str) -> sqlite3.Connection:
    conn = connect_readonly(Path(path))
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA trusted_schema = OFF")
    return conn


def _select_columns(table: str, index: int) -> str:
    columns = ", ".join(CHAINED_TABLES[table])
    return (
        f"SELECT seq, {index}, id, prev_hash, hash, {columns} FROM {table} "
        "WHERE seq BETWEEN ? AND ? ORDER BY seq"
    )


def _select_canonical(table: str, index: int) -> str:
    """The entry's canonical JSON (store/chain.py) made by SQLite, as UTF-8 bytes, but for
    its NULL members (`_drop_nulls` takes them out).

    json_object() writes keys in the order given (sorted here) and strings as
    Python's json.dumps(ensure_ascii=False) does. Where the two could ever
    differ (a REAL, a `bigint:` text, anything odd) the hash does not match and
    the walk falls back to the definition itself before it calls an entry edited.
    """
    members = sorted([(column, column) for column in CHAINED_TABLES[table]]
                     + [("table", f"'{table}'")])  # fmt: skip
    pairs = ", ".join(f"'{key}', {value}" for key, value in members)
    return (
        f"SELECT seq, {index}, id, prev_hash, hash, CAST(json_object({pairs}) AS BLOB) "
        f"FROM {table} WHERE seq BETWEEN ? AND ? ORDER BY seq"
    )


# A NULL member of json_object()'s output: `,"key":null` after another member, or
# `"key":null,` first (the `table` member is always there). Neither can match inside
# a string, where every quote is escaped: `,"` and `{"` only ever start a member.
_NULL_MEMBER = re.compile(rb',"[a-z_]+":null(?=[,}])')
_LEADING_NULLS = re.compile(rb'\{(?:"[a-z_]+":null,)+')


def _drop_nulls(canonical: bytes) -> bytes:
    if b'":null' not in canonical:
        return canonical
    canonical = _NULL_MEMBER.sub(b"", canonical)
    leading = _LEADING_NULLS.match(canonical)
    return b"{" + canonical[leading.end() :] if leading else canonical


class ChainWalk:
    """Walks the chain in order; iterating yields each entry that holds, as (table, row, content).

    Stops at the first entry that does not hold (`problem`). With `contents`, every
    entry's content columns are read and handed out (import copies them); without,
    SQLite writes each entry's canonical JSON and only its hash is checked here
    (verify: a million entries in seconds), `content` then being None except for
    evidence and rejected input, whose BLOBs are checked against their digests.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        version: int,
        anchors: Iterable[Anchor] = (),
        *,
        contents: bool = True,
        first: int = 1,
        last: int = 2**63 - 1,
        prev: str = chain.GENESIS,
    ) -> None:
        self.conn = conn
        self.anchors = tuple(anchors)
        self.contents = contents
        self.first, self.last, self.start_prev = first, last, prev
        self.entries = first - 1
        self.head_hash = prev
        self.problem: Problem | None = None
        self.counts: dict[str, int] = {}
        self._anchored: dict[int, str] = {}
        self._typed_from = _typed_blobs_from(conn, version)

    def __iter__(self) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any] | None]]:
        try:
            yield from self._walk()
        except (sqlite3.OperationalError, sqlite3.DataError, TypeError) as error:
            # A value SQLite cannot put in JSON (a BLOB in a text column), text that is
            # not UTF-8, a position that is not a number: a stored type was changed.
            self.problem = check_types(self.conn) or Problem(
                "chain", None, self.entries + 1, f"cannot be read ({error}): edited"
            )

    def _walk(self) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any] | None]]:
        fast = [not self.contents and table not in _BLOB_TABLES for table in TABLES]
        streams = [
            self.conn.execute(
                _select_canonical(t, i) if fast[i] else _select_columns(t, i),
                (self.first, self.last),
            )
            for i, t in enumerate(TABLES)
        ]
        counts = [0] * len(TABLES)
        try:
            yield from self._links(heapq.merge(*streams), fast, counts)
        finally:
            self.counts = {table: count for table, count in zip(TABLES, counts, strict=True)}

    def _links(
        self, rows: Iterator[tuple[Any, ...]], fast: list[bool], counts: list[int]
    ) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any] | None]]:
        wanted = {anchor.entries for anchor in self.anchors}
        columns = [tuple(CHAINED_TABLES[table]) for table in TABLES]
        int_columns = [bool(INT_COLUMNS[table]) for table in TABLES]
        content_hash, link_hash, sha256 = chain.content_hash, chain.link_hash, hashlib.sha256
        typed_from = self._typed_from
        expected, prev = self.first, self.start_prev
        for row in rows:
            seq, index = row[SEQ], row[TABLE]
            table = TABLES[index]
            if seq != expected or row[PREV_HASH] != prev:
                self.problem = _link_problem(table, row, expected, prev)
                return
            content: dict[str, Any] | None = None
            problem = None
            if fast[index]:
                canonical = _drop_nulls(row[CONTENT])
                holds = row[HASH] == link_hash(prev, seq, sha256(canonical).hexdigest())
                if not holds:  # the definition decides, never the shortcut
                    content = self._content_of(table, row[ROW_ID])
                    holds = row[HASH] == link_hash(prev, seq, content_hash(table, content))
            else:
                values = row[CONTENT:]
                if int_columns[index]:
                    values = from_stored(table, values)
                content = dict(zip(columns[index], values, strict=True))
                typed = seq >= typed_from or table not in _BLOB_TABLES
                holds = row[HASH] == link_hash(
                    prev, seq, content_hash(table, content, typed_blobs=typed)
                )
                if table in _CONTENT_CHECKS:
                    problem = _CONTENT_CHECKS[table](content)
            if not holds:
                problem = self._edited(table, row[ROW_ID])
            if problem is not None:
                self.problem = Problem(table, row[ROW_ID], seq, problem)
                return
            prev = row[HASH]
            if seq in wanted:
                self._anchored[seq] = prev
            counts[index] += 1
            self.entries, self.head_hash = expected, prev
            expected += 1
            yield table, row, content

    def _content_of(self, table: str, row_id: int) -> dict[str, Any]:
        columns = tuple(CHAINED_TABLES[table])
        stored = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?", (row_id,)
        ).fetchone()
        return dict(zip(columns, from_stored(table, tuple(stored)), strict=True))

    def _edited(self, table: str, row_id: int) -> str:
        """Why an entry's content does not match its hash, as precisely as can be said."""
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row
        row = cursor.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        found = _type_problem(table, row) if row is not None else None
        return found or "content does not match its hash (edited)"

    def head_problem(self) -> Problem | None:
        """The chain must end where the record says it does (entries deleted at the end)."""
        recorded = head_of(self.conn)
        if recorded == f"{self.entries}:{self.head_hash}":
            return None
        recorded_seq = recorded.partition(":")[0]
        return Problem(
            "meta",
            "chain_head",
            self.entries + 1,
            f"the chain ends at entry {self.entries} but the record says it has {recorded_seq}: "
            "entries after it were deleted",
        )

    def anchor_problem(self) -> Problem | None:
        for anchor in sorted(self.anchors, key=lambda a: a.entries):
            if anchor.entries > self.entries:
                return Problem(
                    "anchor", str(anchor), anchor.entries,
                    f"the chain has {self.entries} entries but the anchor was taken at entry "
                    f"{anchor.entries}: entries were removed (the record was truncated or "
                    "rolled back)",
                )  # fmt: skip
            if self._anchored.get(anchor.entries) != anchor.hash:
                return Problem(
                    "anchor", str(anchor), anchor.entries,
                    f"entry {anchor.entries} is not the one anchored: the record was rewritten "
                    f"from entry {anchor.entries} or before (and its chain recomputed)",
                )  # fmt: skip
        return None


def _typed_blobs_from(conn: sqlite3.Connection, version: int) -> int:
    """The first chain position whose BLOBs are hashed in the typed form (store/chain.py)."""
    if version < TYPED_BLOBS_SINCE:
        return 2**63
    row = conn.execute(
        "SELECT min(seq) FROM timeline WHERE kind = ? AND incident_id IS NULL "
        "AND json_valid(data) AND json_extract(data, '$.from_schema') < ?",
        (UPGRADED_KIND, TYPED_BLOBS_SINCE),
    ).fetchone()
    return row[0] if row and row[0] is not None else 1


def _link_problem(table: str, row: tuple[Any, ...], expected: int, prev: str) -> Problem:
    seq, row_id = row[SEQ], row[ROW_ID]
    if seq < expected:
        return Problem(
            table, row_id, seq,
            f"out of place: entry {expected} expected here (a row was inserted or duplicated)",
        )  # fmt: skip
    if seq > expected:
        return Problem(table, row_id, seq, f"entries {expected}..{seq - 1} are missing (deleted)")
    return Problem(
        table, row_id, seq, "does not link to the entry before it (reordered or inserted)"
    )


def _evidence_problem(content: dict[str, Any]) -> str | None:
    data, digest, size = content.get("content"), content.get("sha256"), content.get("size")
    if type(data) is not bytes:
        return "its content is not a BLOB (replaced)"
    if len(data) != size:
        return f"its content is {len(data)} bytes but the entry says {size} (replaced)"
    if hashlib.sha256(data).hexdigest() != digest:
        return "its content does not match its SHA-256 (replaced)"
    return None


def _rejected_problem(content: dict[str, Any]) -> str | None:
    raw, size, digest = content.get("raw"), content.get("raw_size"), content.get("raw_sha256")
    if type(raw) is not bytes:
        return "its raw input is not a BLOB (replaced)"
    if len(raw) == size:
        if hashlib.sha256(raw).hexdigest() != digest:
            return "its raw input does not match its SHA-256 (replaced)"
        return None
    if type(size) is int and size > len(raw) == MAX_KEPT_RAW:
        return None  # only the head of an over-long line is kept; the digest is of the whole
    return f"its raw input is {len(raw)} bytes but the entry says {size} (replaced)"


_CONTENT_CHECKS = {"evidence": _evidence_problem, "rejected_inputs": _rejected_problem}


# ----- 5. state outside the chain --------------------------------------------------------------


def check_incidents(conn: sqlite3.Connection) -> Problem | None:
    """Each incident row must equal the replay of its chained opened/updated entries."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    events: dict[str, list[tuple[str, str]]] = {}
    for row in cursor.execute(
        "SELECT incident_id, kind, data FROM timeline "
        "WHERE kind IN ('incident.opened', 'incident.updated') ORDER BY seq"
    ):
        events.setdefault(row["incident_id"], []).append((row["kind"], row["data"]))
    seen = set()
    for row in cursor.execute("SELECT * FROM incidents ORDER BY id"):
        incident_id = row["id"]
        seen.add(incident_id)
        if incident_id not in events:
            return Problem(
                "incidents", incident_id, None, "no chained entry opened this incident (inserted)"
            )
        for _kind, data in events[incident_id]:
            wrong = incident_event_problem(data)
            if wrong is not None:
                return Problem(
                    "incidents", incident_id, None, f"holds what no warroom writes: {wrong}"
                )
        expected = replay(events[incident_id])
        for field_name in INCIDENT_FIELDS:
            if field_name == "id" or field_name not in row.keys():
                continue
            want = expected.get(field_name)
            if field_name in ("drill", "false_positive", "data_breach"):
                want = want or 0
            if row[field_name] != want:
                return Problem(
                    "incidents",
                    incident_id,
                    None,
                    f"{field_name} is {row[field_name]!r} but the chain says {want!r} (edited)",
                )
        wrong = incident_problem(incident_id, expected)
        if wrong is not None:
            return Problem("incidents", incident_id, None, f"holds what no warroom writes: {wrong}")
    missing = sorted(set(events) - seen)
    if missing:
        return Problem(
            "incidents",
            missing[0],
            None,
            "the chain opened this incident but its row is gone (deleted)",
        )
    return None


OUTBOX_STATUSES = ("queued", "delivered", "failed")
DELIVERED_KIND = "notification.delivered"
GAVE_UP_KIND = "notification.gave-up"
EXPORTED_KIND = "incident.exported"
IMPORTED_KIND = "incident.imported"
NOT_SENT = "copied with an exported incident; not sent from this copy"
IMPORTED_KEY = "imported:"
"""Dedup keys of notifications an import copied: `imported:<export head>:<original key>`."""


def original_key(dedup_key: str) -> str:
    """The dedup key a notification had where it was queued (an import's copy keeps it inside)."""
    if dedup_key.startswith(IMPORTED_KEY):
        return dedup_key.split(":", 2)[-1]
    return dedup_key


def check_outbox(conn: sqlite3.Connection) -> Problem | None:
    """Each notification's delivery state agrees with the chain.

    Delivered: exactly when a chained `notification.delivered` entry names it.
    Given up: only with a chained `notification.gave-up` entry, or as a copy an
    export or import made (chained before the incident's `incident.exported`
    entry, or keyed `imported:`), which is never sent from here. The
    attempts count and the next try's time are not chained: a changed retry
    time delays a notification, which `warroom notify` lists, but cannot make
    it look sent.
    """
    chained: dict[str, set[str]] = {DELIVERED_KIND: set(), GAVE_UP_KIND: set()}
    for kind, data in conn.execute(
        "SELECT kind, data FROM timeline WHERE kind IN (?, ?)", (DELIVERED_KIND, GAVE_UP_KIND)
    ):
        key = _json_field(data, "dedup_key")
        if isinstance(key, str):
            chained[kind].add(key)
    orphan = conn.execute(
        "SELECT s.outbox_id FROM outbox_state AS s LEFT JOIN outbox AS o ON o.id = s.outbox_id "
        "WHERE o.id IS NULL LIMIT 1"
    ).fetchone()
    if orphan is not None:
        return Problem("outbox_state", orphan[0], None, "the state of a notification that is not "
                       "in the outbox (inserted)")  # fmt: skip
    exported_until = dict(conn.execute(
        "SELECT incident_id, max(seq) FROM timeline WHERE kind = ? GROUP BY incident_id",
        (EXPORTED_KIND,),
    ).fetchall())  # fmt: skip
    cursor = conn.execute(
        "SELECT o.id, o.seq, o.incident_id, o.dedup_key, s.outbox_id, s.status "
        "FROM outbox AS o LEFT JOIN outbox_state AS s ON s.outbox_id = o.id ORDER BY o.seq"
    )
    for row_id, seq, incident_id, key, state_id, status in cursor:
        copied = (isinstance(key, str) and key.startswith(IMPORTED_KEY)) or (
            seq < exported_until.get(incident_id, 0)
        )
        original = original_key(key) if isinstance(key, str) else key
        delivered = original in chained[DELIVERED_KIND]
        if state_id is None:
            return Problem("outbox_state", row_id, seq, "the notification has no delivery state "
                           "(deleted: it would never be sent)")  # fmt: skip
        if status not in OUTBOX_STATUSES:
            return Problem("outbox_state", row_id, seq, f"unknown delivery status {status!r}")
        if status == "delivered" and not delivered:
            return Problem("outbox_state", row_id, seq, "marked delivered, but no chained "
                           "delivery entry says it was sent (edited)")  # fmt: skip
        if delivered and status != "delivered":
            return Problem("outbox_state", row_id, seq, f"the chain says it was delivered but its "
                           f"state says {status!r} (edited: it would be sent again)")  # fmt: skip
        if copied and status == "queued":
            return Problem("outbox_state", row_id, seq, "an imported copy marked to be sent "
                           "from this record (edited)")  # fmt: skip
        if status == "failed" and not copied and key not in chained[GAVE_UP_KIND]:
            return Problem("outbox_state", row_id, seq, "marked given up, but no chained "
                           "entry says why (edited: it would never be sent)")  # fmt: skip
    return None


def _json_field(data: object, name: str) -> Any:
    try:
        decoded = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        return None
    return decoded.get(name) if isinstance(decoded, dict) else None
