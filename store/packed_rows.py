"""Read many rows in one SQLite step, so a reading thread never queues for the GIL per row.

Python's sqlite3 releases the GIL around every `sqlite3_step`, once per row.
A thread fetching rows while another thread keeps the interpreter busy (the
console's event loop drawing a flood of alerts) must win the GIL back after
every row, and waits up to `sys.getswitchinterval()` (5 ms) each time: 2,000
rows took 15 s instead of 20 ms next to a busy loop, and the review's 10,000
timeline entries a second instead of 0.15 s next to a console starting up.

Here SQLite packs the query's rows into one JSON array (`json_group_array`,
built in since 3.38, in C, with the GIL released once), and orjson unpacks it.
JSON keeps TEXT, INTEGER and NULL exactly (what the chained tables hold);
REAL would be rounded and BLOB is refused, so queries over such columns use
`Record.query`. Without SQLite's JSON functions, or for more than SQLite's
largest string (1 GB by default), this falls back to row by row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson


def fetch_packed(
    conn: sqlite3.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[dict[str, Any]]:
    """The rows of `sql` as column -> value dicts.

    SQLite runs an ordered subquery of an aggregate in its order (it never flattens
    one), but does not promise to: callers that need an order sort by their key.
    """
    cursor = conn.cursor()
    columns = [d[0] for d in cursor.execute(f"SELECT * FROM ({sql}) LIMIT 0", params).description]
    values = ", ".join('"' + name.replace('"', '""') + '"' for name in columns)
    try:
        (packed,) = cursor.execute(
            f"SELECT json_group_array(json_array({values})) FROM ({sql})", params
        ).fetchone()
    except sqlite3.DataError:  # "string or blob too big"
        packed = None
    except sqlite3.OperationalError as error:
        if "no such function" not in str(error):
            raise
        packed = None
    if packed is None:
        return [dict(zip(columns, row, strict=True)) for row in cursor.execute(sql, params)]
    return [dict(zip(columns, row, strict=True)) for row in orjson.loads(packed)]
