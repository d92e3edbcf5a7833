"""What an attacker with write access to a record file can do: edit it and recompute its chain.

Used by the audit tests to build files whose chain verifies but whose content
lies, so that the checks beyond the chain are what must find them.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from pathlib import Path

from store import chain
from store.incidents import replay
from store.schema import CHAINED_TABLES, INCIDENT_FIELDS, from_stored


def rechain(path: Path, *, typed_blobs: bool = True) -> str:
    """Recompute every entry's links and the recorded head; returns the new `entries:hash`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        streams = [
            conn.execute(f"SELECT seq, '{table}', id, * FROM {table} ORDER BY seq")
            for table in CHAINED_TABLES
        ]
        prev = chain.GENESIS
        seq = 0
        for row in heapq.merge(*streams, key=lambda r: r[0]):
            table, row_id = row[1], row[2]
            names = [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
            record = dict(zip(names, row[3:], strict=True))
            columns = tuple(CHAINED_TABLES[table])
            values = from_stored(table, tuple(record[c] for c in columns))
            content = dict(zip(columns, values, strict=True))
            seq += 1
            digest = chain.link_hash(
                prev, seq, chain.content_hash(table, content, typed_blobs=typed_blobs)
            )
            conn.execute(
                f"UPDATE {table} SET seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (seq, prev, digest, row_id),
            )
            prev = digest
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_head', ?)", (f"{seq}:{prev}",)
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return f"{seq}:{prev}"


def reproject_incidents(path: Path) -> None:
    """Rewrite each incident row as the replay of its chained entries (what verify compares)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for (incident_id,) in conn.execute("SELECT id FROM incidents").fetchall():
            events = conn.execute(
                "SELECT kind, data FROM timeline WHERE incident_id = ? "
                "AND kind IN ('incident.opened', 'incident.updated') ORDER BY seq",
                (incident_id,),
            ).fetchall()
            state = {k: v for k, v in replay(events).items() if k in INCIDENT_FIELDS}
            assignments = ", ".join(f"{key} = ?" for key in state)
            conn.execute(
                f"UPDATE incidents SET {assignments} WHERE id = ?", (*state.values(), incident_id)
            )
    finally:
        conn.close()


def edit_opened(path: Path, **changes: object) -> None:
    """Change fields of every `incident.opened` entry's data, then make the file verify again."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for row_id, data in conn.execute(
            "SELECT id, data FROM timeline WHERE kind = 'incident.opened'"
        ).fetchall():
            conn.execute(
                "UPDATE timeline SET data = ? WHERE id = ?",
                (json.dumps({**json.loads(data), **changes}, sort_keys=True), row_id),
            )
    finally:
        conn.close()
    reproject_incidents(path)
    rechain(path)
