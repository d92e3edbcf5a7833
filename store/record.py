"""The incident record: one SQLite file, opened for safe concurrent use."""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from store import chain
from store.errors import NotARecord, RecordBusy, RecordTooNew, RecordUnreadable, RecordWriteFailed
from store.packed_rows import fetch_packed
from store.private import prepare_record_file
from store.schema import (
    CHAIN_COLUMNS,
    CHAINED_TABLES,
    INT_COLUMNS,
    SCHEMA_VERSION,
    SQLITE_INT_MAX,
    SQLITE_INT_MIN,
    TYPED_BLOBS_SINCE,
    UPGRADED_KIND,
    migrate,
    schema_version,
    to_stored,
    too_new_message,
)

Clock = Callable[[], datetime]
Row = TypeVar("Row")
Built = TypeVar("Built")
log = logging.getLogger("warroom.record")

# Each BEGIN IMMEDIATE waits this long inside SQLite; we retry around it so a
# second warroom writing the same file makes this one wait, never fail.
BUSY_TIMEOUT_MS = 5_000
PATIENCE_SECONDS = 300.0
WAL_CHECKPOINT_PAGES = 8192
"""Pages (4 KiB) the WAL may hold before a commit copies them into the file."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("record times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class WriteTransaction:
    """A write under the record's lock; appends entries to the audit chain."""

    def __init__(self, conn: sqlite3.Connection, head_seq: int, head_hash: str) -> None:
        self.conn = conn
        self.head_seq = head_seq
        self.head_hash = head_hash

    def append(self, table: str, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Append rows (content columns only) to a chained table; returns their row ids."""
        hashes = [chain.content_hash(table, row) for row in rows]
        columns = tuple(CHAINED_TABLES[table])
        values = [tuple(row.get(c) for c in columns) for row in rows]
        return self.append_prepared(table, values, hashes)

    def append_prepared(
        self, table: str, values: Sequence[tuple[Any, ...]], content_hashes: Sequence[str]
    ) -> list[int]:
        """Append rows given as tuples in `CHAINED_TABLES[table]` order with their content hashes.

        The hot path for ingest: content hashing happens outside the lock, and
        here nothing runs per row in Python but the link hash.
        """
        if len(values) != len(content_hashes):
            raise ValueError(f"{len(values)} rows but {len(content_hashes)} content hashes")
        if not values:
            return []
        first = self.head_seq + 1
        links = chain.link_hashes(self.head_hash, first, content_hashes)
        if not _integers_fit(table, values):
            # An integer beyond SQLite's 64 bits goes in as `bigint:` text (schema.py).
            values = [to_stored(table, row) for row in values]
        # (seq, prev_hash, hash) + the row, each tuple built in C.
        seqs = range(first, first + len(links))
        chain_parts = zip(seqs, [self.head_hash, *links[:-1]], links, strict=True)
        chained = list(map(tuple.__add__, chain_parts, values))
        columns = (*CHAIN_COLUMNS, *CHAINED_TABLES[table])
        placeholders = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        self.conn.executemany(sql, chained)
        self.head_seq, self.head_hash = first + len(links) - 1, links[-1]
        # Under the write lock with no deletes, SQLite gives consecutive rowids.
        last_id = self.conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        return list(range(last_id - len(chained) + 1, last_id + 1))


    def append_staged(self, table: str, content_hashes: Sequence[str]) -> None:
        """`append_prepared` for rows already in `staging.rows` (see `stage_rows`), in order,
        copied by SQLite itself: no value crosses into Python here, only the link hashes."""
        if not content_hashes:
            return
        first = self.head_seq + 1
        links = chain.link_hashes(self.head_hash, first, content_hashes)
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_chain (seq INTEGER PRIMARY KEY, hash TEXT)"
        )
        self.conn.execute("DELETE FROM temp.staged_chain")
        # The head and the links (hex digits) as one JSON array that SQLite reads in C:
        # 0.8 us a link where binding each row of them from Python cost 2.6.
        self.conn.execute(
            "INSERT INTO temp.staged_chain SELECT ? + key, value FROM json_each(?)",
            (first - 1, json.dumps([self.head_hash, *links])),
        )
        columns = CHAINED_TABLES[table]
        self.conn.execute(
            f"INSERT INTO {table} ({', '.join((*CHAIN_COLUMNS, *columns))}) "
            f"SELECT l.seq, p.hash, l.hash, {', '.join('s.' + c for c in columns)} "
            "FROM temp.staged_chain AS l JOIN temp.staged_chain AS p ON p.seq = l.seq - 1 "
            f"JOIN staging.rows AS s ON s.rowid = l.seq - {first - 1} "
            f"WHERE l.seq >= {first} ORDER BY l.seq"
        )
        self.head_seq, self.head_hash = first + len(links) - 1, links[-1]


STAGING = "staging"
"""The schema, attached in memory, that `WriteTransaction.append_staged` copies rows from."""


STAGED_PER_INSERT = 50
"""Rows one `stage_rows` INSERT binds: executemany's work a statement, shared by 50 (1 us
less a 17-column alert row)."""


def stage_rows(
    table: str, values: Sequence[tuple[Any, ...]], *, shared: Collection[str] = ()
) -> bytes | None:
    """`values` as an SQLite database of one table `rows` (for `Record.load_staged`), or None
    when one of them would not be stored as given (an integer beyond 64 bits).

    A column in `shared` holds the same value in every row (the caller vouches: a block's
    received_at, origin and incident): it is written once, as the column's default, not
    in each row (1 us less an alert row for ingest's workers). Its place among the
    columns of `rows` is then the last: read them by name.
    """
    if not _integers_fit(table, values):
        return None
    columns = tuple(CHAINED_TABLES[table])
    if values and set(map(len, values)) != {len(columns)}:
        return None  # rows of another width: refused where they are bound one by one
    defaults = {
        column: literal
        for index, column in enumerate(columns)
        if column in shared and values and (literal := _sql_literal(values[0][index]))
    }
    if defaults and len(defaults) <= len(columns) - 2:  # itemgetter of 2+ gives tuples
        kept = [index for index, column in enumerate(columns) if column not in defaults]
        values = list(map(itemgetter(*kept), values))
        columns = tuple(columns[index] for index in kept)
    else:
        defaults = {}
    one_row = f"({', '.join('?' * len(columns))})"
    whole = len(values) - len(values) % STAGED_PER_INSERT
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute(f"CREATE TABLE rows ({', '.join(columns)})")  # no affinity: kept as given
        conn.execute("BEGIN")
        if whole:
            several = f"INSERT INTO rows VALUES {', '.join([one_row] * STAGED_PER_INSERT)}"
            flat = list(itertools.chain.from_iterable(values[:whole]))
            width = STAGED_PER_INSERT * len(columns)
            for start in range(0, len(flat), width):
                conn.execute(several, flat[start : start + width])
        conn.executemany(f"INSERT INTO rows VALUES {one_row}", values[whole:])
        for column, literal in defaults.items():
            # A default is read back for every row that lacks the column: all of them.
            conn.execute(f"ALTER TABLE rows ADD COLUMN {column} DEFAULT {literal}")
        conn.execute("COMMIT")
        return conn.serialize()
    except (sqlite3.Error, ValueError, OverflowError):
        return None  # a value SQLite refuses: the rows go as they are, and are refused there
    finally:
        conn.close()


def _sql_literal(value: object) -> str | None:
    """`value` as an SQL literal that SQLite reads back as exactly it, else None."""
    if value is None:
        return "NULL"
    if type(value) is str and "\x00" not in value:  # the sqlite3 module refuses a NUL in SQL
        return "'" + value.replace("'", "''") + "'"
    if type(value) is int and SQLITE_INT_MIN <= value <= SQLITE_INT_MAX:
        return str(value)
    return None


def bind_nulls_directly() -> None:
    """Have sqlite3 bind None as NULL without its adaptation protocol, in this whole process.

    sqlite3 binds an exact int, float, str or bytearray as it is, but for None it first
    looks up `__adapt__` and `__conform__` (two AttributeErrors raised and cleared: 1.1 us
    a NULL, where an int costs 0.17). An adapter registered for None is found in the
    registry before that: it maps None to None, and an empty dict's `get` does so without a
    Python frame. 1.5 us less a staged alert row (two NULLs). sqlite3's registry is the
    process's: ingest's worker processes call this, whose only SQLite is `stage_rows`.
    """
    nothing: dict[None, None] = {}
    sqlite3.register_adapter(type(None), nothing.get)


def _integers_fit(table: str, values: Sequence[tuple[Any, ...]]) -> bool:
    """Whether every integer of the table's integer columns fits SQLite's 64 bits."""
    for index in INT_COLUMNS[table]:
        column = [value for value in map(itemgetter(index), values) if type(value) is int]
        if column and (min(column) < SQLITE_INT_MIN or max(column) > SQLITE_INT_MAX):
            return False
    return True


# SQLite's result codes for a write the disk refused (sqlite3.h).
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN = 13, 10, 8, 14
_SQLITE_NOTADB, _SQLITE_CORRUPT = 26, 11


def _write_failure(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return False
    return code & 0xFF in (_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN)


def _row_key(row: object) -> str:
    try:
        return repr(row["id"])  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return "(a row)"


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that never creates, writes or upgrades the file.

    The URI form keeps a '?' or '#' in the path a path.
    """
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


@contextmanager
def unreadable_as_record_error(path: Path) -> Iterator[None]:
    """SQLite's "file is not a database" and "malformed" as NotARecord, with the path."""
    try:
        yield
    except RecordUnreadable as error:
        if str(error).startswith(str(path)):
            raise
        raise type(error)(f"{path}: {error}") from None
    except sqlite3.DatabaseError as error:
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
            raise NotARecord(f"{path}: not a warroom record ({error})") from None
        raise


def refuse_what_is_not_a_record_file(path: Path) -> None:
    """NotARecord for a folder, a device or a file that is not SQLite (a wrong `--db`),
    before opening it for writing would make it 0600 or SQLite would touch it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return  # a new record
    if stat.S_ISDIR(mode):
        raise NotARecord(f"{path}: not a warroom record (a folder)")
    if not stat.S_ISREG(mode):  # a device or a pipe: never opened, reading one may block
        raise NotARecord(f"{path}: not a warroom record (not a regular file)")
    # SQLite reads the header, not an open() of ours: closing a descriptor of the file drops
    # every POSIX lock this process holds on it, its open connections' too, and another
    # process then takes the record for unused and deletes the WAL under them, losing their
    # commits (https://www.sqlite.org/howtocorrupt.html, 2.2). SQLite keeps its own.
    probe = connect_readonly(path)
    try:
        with unreadable_as_record_error(path):
            probe.execute("PRAGMA schema_version").fetchone()
    finally:
        probe.close()


def check_version(conn: sqlite3.Connection) -> int:
    """The file's schema version, after checking that it is a record this warroom can read."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise RecordTooNew(too_new_message(version))
    if version == 0:
        other = conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' LIMIT 1"
        ).fetchone()
        if other is not None:
            raise NotARecord(f"a SQLite database but not a warroom record (it has {other[0]!r})")
    return version


class Record:
    """The record in one SQLite file (WAL). Repositories hang off it: `record.incidents`..."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        from store.action_log import Actions
        from store.alerts import Alerts
        from store.checklist import Checklist
        from store.decisions import Decisions
        from store.evidence import Evidence
        from store.incidents import Incidents
        from store.outbox import Outbox
        from store.timeline import Timeline

        self.conn = conn
        self.path = path
        self.clock = clock
        # One connection may be shared by a UI thread and a worker thread;
        # writes through it must not interleave their transactions.
        self._write_lock = threading.RLock()
        self.incidents = Incidents(self)
        self.alerts = Alerts(self)
        self.timeline = Timeline(self)
        self.actions = Actions(self)
        self.evidence = Evidence(self)
        self.checklist = Checklist(self)
        self.decisions = Decisions(self)
        self.outbox = Outbox(self)
        self.unreadable: list[str] = []
        """What `readable` skipped, in words, for the caller to show (also logged)."""
        self.schema_pending = False
        """Opened with `create_later` on a new file whose tables are not created yet."""

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock = utc_now, readonly: bool = False,
             create_later: bool = False) -> Record:
        """Open (for writing: create or upgrade) the record at `path`.

        Raises NotARecord for a file that is not a warroom record, RecordTooNew for
        one written by a newer warroom, RecordUnreadable when a read-only open meets
        an older schema (opening it for writing upgrades it).

        `create_later`: a new file's tables are not created yet (`schema_pending`): the
        caller runs `create_schema()` before anything reads or writes through this
        connection. Creating them imports sqlite-utils (and click, dateutil, pluggy):
        a console opening a new record does it after its first frame (actions.runtime).
        """
        path = Path(path)
        try:
            if readonly:
                conn = connect_readonly(path)
            else:
                refuse_what_is_not_a_record_file(path)  # before its mode is made ours
                prepare_record_file(path)
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.OperationalError) as error:  # a folder in its way, no access
            words = error.strerror if isinstance(error, OSError) else error
            raise RecordUnreadable(f"{path}: cannot be opened as a record ({words})") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Inside: setting the cache size is the first read of the file, where a file
            # that is not a database says so (it was a traceback in every command).
            with unreadable_as_record_error(path):
                # 64 MiB of page cache: the dedupe-key index of a million alerts stays in memory.
                conn.execute("PRAGMA cache_size = -65536")
                record = cls(conn, path, clock)
                version = check_version(conn)
                if not readonly:
                    record._prepare(version, create_later=create_later)
                elif version != SCHEMA_VERSION:
                    raise RecordUnreadable(
                        f"record schema {version} needs upgrading: open it once with "
                        "this warroom for writing (or verify it, which never writes)"
                    )
        except BaseException:
            conn.close()
            raise
        return record

    def _prepare(self, version: int, *, create_later: bool) -> None:
        # FULL: a committed audit entry survives power loss, not just a crash.
        self.conn.execute("PRAGMA synchronous = FULL")
        # Checkpoint every 32 MiB of WAL, not SQLite's 4 MiB: a batch of alerts dirties
        # pages all over the dedupe-key index, and a page rewritten by several commits
        # between two checkpoints is copied into the file once (8 % of a commit's CPU
        # at 200,000 alerts, measured as bench/falco_follow.py writes them).
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        if version == 0 and create_later:
            # Only a new file (an upgrade is said before any use). Its switch to WAL waits too:
            # it syncs the new file to disk (~10 ms), and the journaling mode is the file's,
            # so connections opened before it follow it.
            self.schema_pending = True
            return
        self._use_wal()
        if version != SCHEMA_VERSION:
            self._migrate()

    def create_schema(self) -> None:
        """Create the tables `open(create_later=True)` left for later (nothing if there are
        none pending; another connection may have created them meanwhile: then nothing)."""
        if self.schema_pending:
            self._use_wal()
            self._migrate()
            self.schema_pending = False

    def _use_wal(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise RecordUnreadable(f"cannot use WAL journaling (got {mode})")

    def _migrate(self) -> None:
        """Create or upgrade the file's tables, under the write lock."""
        with self._locked():
            old = migrate(self.conn)
            if not 0 < old < TYPED_BLOBS_SINCE or self._head()[0] == 0:
                return
            with self._appending() as txn:
                # Entries before this one hash BLOBs in the old form (store/chain.py):
                # the boundary is itself in the chain, where no one can move it.
                txn.append("timeline", [{
                    "at": self.now(), "kind": UPGRADED_KIND,
                    "summary": f"Record upgraded from schema {old} to {SCHEMA_VERSION}",
                    "data": f'{{"from_schema":{old},"to_schema":{SCHEMA_VERSION}}}',
                }])  # fmt: skip

    def close(self) -> None:
        """Close the connection once no write is under way (closing under one crashes sqlite3)."""
        with self._write_lock:
            self.conn.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def now(self) -> str:
        return iso(self.clock())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._write_lock:
            with self._sqlite_write_lock():
                yield

    @contextmanager
    def _sqlite_write_lock(self) -> Iterator[None]:
        waited_since = time.monotonic()
        warned = False
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                waited = time.monotonic() - waited_since
                if waited > PATIENCE_SECONDS:
                    raise RecordBusy(
                        f"{self.path}: another process has been writing the record for "
                        f"{waited:.0f} s; try again when it has finished"
                    ) from None
                if not warned:
                    print(f"waiting for another warroom writing {self.path} ...", file=sys.stderr)
                    warned = True
        try:
            yield
        except BaseException as error:
            self._rollback()
            if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError) and (
                _write_failure(error)
            ):
                raise RecordWriteFailed(f"{self.path}: cannot write the record: {error}") from error
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            self._rollback()
            raise RecordWriteFailed(f"{self.path}: cannot write the record: {error}") from error

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """One atomic write that may append to the chain; waits for other writers."""
        with self._locked(), self._appending() as txn:
            yield txn

    @contextmanager
    def _appending(self) -> Iterator[WriteTransaction]:
        """Appends to the chain inside a write the caller holds; records the new head."""
        head_seq, head_hash = self._head()
        txn = WriteTransaction(self.conn, head_seq, head_hash)
        yield txn
        if txn.head_seq != head_seq:
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_head', ?)",
                (f"{txn.head_seq}:{txn.head_hash}",),
            )

    @contextmanager
    def staging_attached(self) -> Iterator[None]:
        """The in-memory `staging` schema attached meanwhile (outside any write: SQLite
        attaches and detaches only there)."""
        with self._write_lock:
            self.conn.execute(f"ATTACH ':memory:' AS {STAGING}")
        try:
            yield
        finally:
            with self._write_lock:
                self.conn.execute(f"DETACH {STAGING}")

    def load_staged(self, staged: bytes) -> None:
        """Put a `stage_rows` database in the attached `staging` schema (inside a write)."""
        self.conn.deserialize(staged, name=STAGING)

    def _head(self) -> tuple[int, str]:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
        if row is None:
            return 0, chain.GENESIS
        seq, _, digest = row[0].partition(":")
        return int(seq), digest

    def head(self) -> tuple[int, str]:
        """(number of entries, hash of the last): what a report quotes to anchor itself."""
        return self._head()

    def readable(
        self, rows: Iterable[Row], build: Callable[[Row], Built], what: str
    ) -> list[Built]:
        """`build(row)` for every row it can read; a row it cannot is skipped and said.

        A record holding one row that no warroom writes (a date that is not a
        date, a severity `P9`) must not stop every command that lists the rest:
        readers build through this, and callers show `unreadable`.
        """
        built: list[Built] = []
        for row in rows:
            try:
                built.append(build(row))
            except (ValueError, TypeError, KeyError, OverflowError) as error:
                key = _row_key(row)
                message = f"{what} {key} skipped, it cannot be read: {error}"
                if message in self.unreadable:
                    continue  # one row read twice (a list, then a scope) is said once
                self.unreadable.append(message)
                # INFO, not WARNING: with no logging configured (the command line),
                # logging's last-resort handler would print it raw to stderr, beside
                # the caller's own sanitised line.
                log.info("%s: %s", self.path, message)
        return built

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()

    def query_packed(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        """`query` in one SQLite step, for many rows read beside a busy thread (packed_rows.py)."""
        return fetch_packed(self.conn, sql, params)
