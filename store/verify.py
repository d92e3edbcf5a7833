"""`warroom verify`: walk the audit chain and name the first entry that does not hold."""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from store import chain
from store.incidents import replay
from store.schema import CHAINED_TABLES, INCIDENT_FIELDS


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
class VerifyResult:
    ok: bool
    entries: int
    head_hash: str
    problem: Problem | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "first_problem": asdict(self.problem) | {"message": str(self.problem)}
            if self.problem
            else None,
        }


def _rows(conn: sqlite3.Connection, table: str) -> Iterator[tuple[int, str, sqlite3.Row]]:
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    for row in cursor.execute(f"SELECT * FROM {table} ORDER BY seq"):
        yield row["seq"], table, row


def verify_chain(conn: sqlite3.Connection) -> VerifyResult:
    """Check every chained entry in order: position, link to the previous one, and content."""
    streams = [_rows(conn, table) for table in CHAINED_TABLES]
    expected_seq, prev_hash = 1, chain.GENESIS
    for _seq, table, row in heapq.merge(*streams, key=lambda item: item[0]):
        problem = check_entry(table, row, expected_seq, prev_hash)
        if problem:
            return VerifyResult(False, expected_seq - 1, prev_hash, problem)
        prev_hash = row["hash"]
        expected_seq += 1
    entries = expected_seq - 1
    head = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    recorded = head[0] if head else f"0:{chain.GENESIS}"
    if recorded != f"{entries}:{prev_hash}":
        recorded_seq = recorded.partition(":")[0]
        problem = Problem(
            "meta",
            "chain_head",
            entries + 1,
            f"the chain ends at entry {entries} but the record says it has {recorded_seq}: "
            "entries after it were deleted",
        )
        return VerifyResult(False, entries, prev_hash, problem)
    problem = check_incidents(conn)
    return VerifyResult(problem is None, entries, prev_hash, problem)


def check_entry(table: str, row: sqlite3.Row, expected_seq: int, prev_hash: str) -> Problem | None:
    seq, row_id = row["seq"], row["id"]
    if seq is None or seq < expected_seq:
        return Problem(
            table,
            row_id,
            seq,
            f"out of place: entry {expected_seq} expected here (a row was inserted or duplicated)",
        )
    if seq > expected_seq:
        return Problem(
            table, row_id, seq, f"entries {expected_seq}..{seq - 1} are missing (deleted)"
        )
    if row["prev_hash"] != prev_hash:
        return Problem(
            table, row_id, seq, "does not link to the entry before it (reordered or inserted)"
        )
    content = {column: row[column] for column in CHAINED_TABLES[table] if column in row.keys()}
    expected = chain.link_hash(prev_hash, seq, chain.content_hash(table, content))
    if row["hash"] != expected:
        return Problem(table, row_id, seq, "content does not match its hash (edited)")
    return None


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
    missing = sorted(set(events) - seen)
    if missing:
        return Problem(
            "incidents",
            missing[0],
            None,
            "the chain opened this incident but its row is gone (deleted)",
        )
    return None
