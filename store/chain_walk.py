"""Walking the audit chain: every entry's position, link and content hash, in order.

For evidence and rejected input, the content is checked against its own
SHA-256 and size too. A long chain is walked by several processes, each over
a range of positions, joined on their boundary hashes.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from store import chain
from store.alert_links import content_at_arrival
from store.findings import Anchor, Problem
from store.record import connect_readonly
from store.schema import (
    CHAINED_SINCE,
    CHAINED_TABLES,
    INT_COLUMNS,
    TYPED_BLOBS_SINCE,
    UPGRADED_KIND,
    chained_tables,
    from_stored,
)
from store.schema_check import check_types, type_problem

# Rejected lines longer than this keep only their head (store/alerts.py MAX_KEPT_RAW).
MAX_KEPT_RAW = 8 * 1024 * 1024


def head_of(conn: sqlite3.Connection) -> str:
    """The `entries:hash` the record says it ends at (what reports and notifications quote)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    return row[0] if row else f"0:{chain.GENESIS}"


# Positions in a walked row: (seq, table index, id, prev_hash, hash, *content) where the
# content is the stored columns, or (in the fast form) one BLOB of canonical JSON.
SEQ, TABLE, ROW_ID, PREV_HASH, HASH, CONTENT = 0, 1, 2, 3, 4, 5
_BLOB_TABLES = frozenset(t for t, columns in CHAINED_TABLES.items() if bytes in columns.values())


# A record this large is walked by several processes, each over a range of positions.
PARALLEL_MIN_ENTRIES = 200_000


def walk_chain(conn: sqlite3.Connection, version: int, anchors: Iterable[Anchor] = ()) -> ChainWalk:
    """The chain walked to its end (or its first problem), in parallel when it is long.

    The walk of a range starts from the hash its first entry's predecessor has in
    the file; the range before it must end on that very hash, which is checked
    when the ranges are joined, so the parts prove what one walk would.
    """
    anchors = tuple(anchors)
    last = max(
        conn.execute(f"SELECT coalesce(max(seq), 0) FROM {table}").fetchone()[0]
        for table in chained_tables(version)
    )
    path = _file_of(conn)
    workers = min(os.cpu_count() or 1, 4)
    if last < PARALLEL_MIN_ENTRIES or workers < 2 or path is None or type(last) is not int:
        return ChainWalk(conn, version, anchors, contents=False).check()
    bounds = [1 + last * part // workers for part in range(workers)] + [last + 1]
    ranges = [(bounds[k], bounds[k + 1] - 1) for k in range(workers)]
    # Imported here: it pulls in multiprocessing, which a console opening its record never needs.
    from concurrent.futures import ProcessPoolExecutor

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
            prev = hash_at(conn, version, lo - 1) or ""
        walk = ChainWalk(conn, version, anchors, contents=False, first=lo, last=hi, prev=prev)
        walk.check()
        return walk.entries, walk.head_hash, walk.problem, walk.counts, walk._anchored, prev
    finally:
        conn.close()


def hash_at(conn: sqlite3.Connection, version: int, seq: int) -> str | None:
    """The hash of chain entry `seq` in a record of schema `version` (None: there is none)."""
    for table in chained_tables(version):
        row = conn.execute(f"SELECT hash FROM {table} WHERE seq = ?", (seq,)).fetchone()
        if row is not None:
            return str(row[0])
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


# An alert linked to its incident after it was recorded was chained without the incident:
# its content as chained has no incident_id when a chained `alert_links` entry names that
# very incident (store/alert_links.py).
LINKED_ALERTS_SINCE = CHAINED_SINCE["alert_links"]
_LINKS_JOIN = " LEFT JOIN alert_links AS l ON l.alert_seq = alerts.seq"
_AS_CHAINED_INCIDENT = (
    "CASE WHEN alerts.incident_id = l.incident_id THEN NULL ELSE alerts.incident_id END"
)


def _select_canonical(table: str, index: int, *, linked_alerts: bool = False) -> str:
    """The entry's canonical JSON (store/chain.py) made by SQLite, as UTF-8 bytes, but for
    its NULL members, which are left as `,"":null` after a first `{"":null`
    (`_drop_nulls` takes them out).

    json_object() writes keys in the order given (sorted here) and strings as
    Python's json.dumps(ensure_ascii=False) does. Where the two could ever
    differ (a REAL, a `bigint:` text, anything odd) the hash does not match and
    the walk falls back to the definition itself before it calls an entry edited.
    `linked_alerts`: an alert's incident as it was chained (see above); without,
    a linked alert's hash does not match here and the walk asks `content_at_arrival`.
    """
    linked = linked_alerts and table == "alerts"
    members = sorted([(column, _AS_CHAINED_INCIDENT if linked and column == "incident_id"
                       else f"{table}.{column}") for column in CHAINED_TABLES[table]]
                     + [("table", f"'{table}'")])  # fmt: skip
    # A NULL member's key is '' (no column is named so): one fixed pattern finds them all.
    pairs = ", ".join(
        f"'{key}', {value}" if key == "table" else f"iif({value} IS NULL, '', '{key}'), {value}"
        for key, value in members
    )
    return (
        f"SELECT {table}.seq, {index}, {table}.id, {table}.prev_hash, {table}.hash, "
        f"CAST(json_object('', NULL, {pairs}) AS BLOB) FROM {table}"
        f"{_LINKS_JOIN if linked else ''} WHERE {table}.seq BETWEEN ? AND ? ORDER BY {table}.seq"
    )


# What json_object() writes for a NULL member keyed '' after another member, and for the
# one it always starts with. Inside a JSON string every quote is escaped, so `,"":null`
# can only be such a member; and no column is named '', so no other member is.
_NULL_MEMBER = b',"":null'
_FIRST_NULL = len(b'{"":null,')


def _drop_nulls(canonical: bytes) -> bytes:
    """`_select_canonical`'s bytes as the definition writes them: without NULL members."""
    return b"{" + canonical.replace(_NULL_MEMBER, b"")[_FIRST_NULL:]


class ChainWalk:
    """Walks the chain in order, stopping at the first entry that does not hold (`problem`).

    With `contents`, iterating yields each entry that holds, as (table, row,
    content), its content columns read (import copies them). Without, `check()`
    walks to the end handing nothing out: SQLite writes each entry's canonical
    JSON and only its hash is checked here (verify: a million entries in
    seconds); evidence and rejected input are still read whole, their BLOBs
    checked against their digests.
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
        self.tables = chained_tables(version)
        self._typed_from = _typed_blobs_from(conn, version)
        self._linked_alerts = version >= LINKED_ALERTS_SINCE
        # Without any link, reading each alert's as-chained incident would be work for nothing.
        self._links_exist = self._linked_alerts and (
            conn.execute("SELECT 1 FROM alert_links LIMIT 1").fetchone() is not None
        )

    def check(self) -> ChainWalk:
        """Walk to the end, or to the first problem; returns this walk."""
        for _entry in self:
            pass
        return self

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
        tables = self.tables
        fast = [not self.contents and table not in _BLOB_TABLES for table in tables]
        streams = [
            self.conn.execute(
                _select_canonical(t, i, linked_alerts=self._links_exist)
                if fast[i]
                else _select_columns(t, i),
                (self.first, self.last),
            )
            for i, t in enumerate(tables)
        ]
        counts = [0] * len(tables)
        try:
            yield from self._links(heapq.merge(*streams), fast, counts)
        finally:
            self.counts = {table: count for table, count in zip(tables, counts, strict=True)}

    def _links(
        self, rows: Iterator[tuple[Any, ...]], fast: list[bool], counts: list[int]
    ) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any] | None]]:
        wanted = {anchor.entries for anchor in self.anchors}
        tables = self.tables
        columns = [tuple(CHAINED_TABLES[table]) for table in tables]
        int_columns = [bool(INT_COLUMNS[table]) for table in tables]
        content_hash, link_hash, sha256 = chain.content_hash, chain.link_hash, hashlib.sha256
        typed_from = self._typed_from
        null_member, first_null = _NULL_MEMBER, _FIRST_NULL
        contents = self.contents
        expected, prev = self.first, self.start_prev
        for row in rows:
            seq, index = row[SEQ], row[TABLE]
            table = tables[index]
            if seq != expected or row[PREV_HASH] != prev:
                self.problem = _link_problem(table, row, expected, prev)
                return
            content: dict[str, Any] | None = None
            problem = None
            if fast[index]:
                # _drop_nulls and link_hash, inline: this line runs a million times a verify.
                canonical = b"{" + row[CONTENT].replace(null_member, b"")[first_null:]
                digest = sha256(canonical).hexdigest()
                holds = row[HASH] == sha256(f"{prev}\n{seq}\n{digest}".encode()).hexdigest()
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
            if not holds and table == "alerts" and self._linked_alerts:
                content = content or self._content_of(table, row[ROW_ID])
                arrival = content_at_arrival(self.conn, seq, content)
                holds = arrival is not None and row[HASH] == link_hash(
                    prev, seq, content_hash(table, arrival))
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
            if contents:  # verify's walk hands nothing out: a yield a million times costs
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
        found = type_problem(table, row) if row is not None else None
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
