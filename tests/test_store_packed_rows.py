"""Packed reads: exactly the rows a row-by-row read gives, in one SQLite step.

What they are for (a read beside a busy event loop) is measured by bench/packed_rows.py.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from store import AlertRecord, Record
from store.packed_rows import fetch_packed
from store.replay import alerts_between, alerts_until, scope, to_ns
from tests.plugins.record import FrozenClock
from tests.plugins.tui import HOSTILE, T0, recorded_alert

# Text a Falco field or a note can carry: markup, escapes, NUL and other controls,
# quotes and backslashes JSON must escape, astral and combining characters.
AWKWARD = (*HOSTILE, "nul\x00inside", "tab\tnew\nline\r", 'quote" back\\slash', "\x7f\x85\u2028",
           "emoji \U0001f525 e\u0301", "", " ")


def test_packed_rows_equal_the_row_by_row_rows_for_awkward_text(
    record: Record, clock: FrozenClock
) -> None:
    incident = record.incidents.open("Awkward text", severity="P1")
    for text in AWKWARD:
        record.timeline.add(incident.id, "note", text, actor=text or None, data={"said": text})
    big = 2**62 + 12345  # beyond a double's exact integers
    record.alerts.add_batch(
        [{**recorded_alert(n, incident.id, T0), "time_ns": big + n, "output": text}
         for n, text in enumerate(AWKWARD)]
    )
    for table in ("timeline", "alerts"):
        sql = f"SELECT * FROM {table} ORDER BY seq"
        expected = [dict(row) for row in record.query(sql)]
        assert fetch_packed(record.conn, sql) == expected
        assert all(type(a) is type(b) for row, want in zip(fetch_packed(record.conn, sql), expected,
                                                          strict=True)
                   for a, b in zip(row.values(), want.values(), strict=True))
    assert [e.summary for e in record.timeline.for_incident(incident.id)][-len(AWKWARD):] == list(
        AWKWARD)


def test_no_rows_and_parameters_by_name(record: Record) -> None:
    sql = "SELECT * FROM timeline WHERE kind = :kind"
    assert fetch_packed(record.conn, sql, {"kind": "x"}) == []
    assert record.timeline.for_incident("NSI-2026-03-14-999") == []


def test_replay_pages_keep_time_then_record_order(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("Pages", severity="P2")
    # Two alerts per second, recorded out of time order: the page is by time, then id.
    rows = [recorded_alert(n, incident.id, T0 + timedelta(seconds=(7 * n) % 20 // 2))
            for n in range(20)]
    record.alerts.add_batch(rows)
    view = scope(record, record.incidents.get_required(incident.id))
    page = alerts_until(record, view, T0 + timedelta(seconds=6), limit=5)
    everything = sorted(
        (a for a in alerts_until(record, view, None, limit=100)), key=lambda a: (a.time_ns, a.id)
    )
    def ns(alert: AlertRecord) -> int:  # every alert here has its time
        assert alert.time_ns is not None
        return alert.time_ns

    up_to = [a for a in everything if ns(a) <= ns(page[-1])]
    assert page == up_to[-5:]
    after, until = T0 + timedelta(seconds=2), T0 + timedelta(seconds=5)
    between = alerts_between(record, view, after, until)
    assert between == [a for a in everything if to_ns(after) < ns(a) <= to_ns(until)]


class _NoJsonCursor(sqlite3.Cursor):
    """A cursor of an SQLite built without the JSON functions (before 3.38, or left out)."""

    def execute(self, sql: str, params: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        if "json_group_array" in sql:
            raise sqlite3.OperationalError("no such function: json_group_array")
        return super().execute(sql, params)


class _NoJsonConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _NoJsonCursor) -> sqlite3.Cursor:  # type: ignore[override]
        made: sqlite3.Cursor = super().cursor(factory)
        return made


def test_without_json_functions_rows_are_read_one_by_one(record: Record, tmp_path: Path) -> None:
    incident = record.incidents.open("Old SQLite", severity="P3")
    record.timeline.add(incident.id, "note", "[/oops] \x00", actor="ic")
    plain = sqlite3.connect(record.path, factory=_NoJsonConnection)
    try:
        sql = "SELECT * FROM timeline ORDER BY seq"
        assert fetch_packed(plain, sql) == [dict(row) for row in record.query(sql)]
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            fetch_packed(plain, "SELECT * FROM nowhere")
    finally:
        plain.close()


def test_more_than_sqlites_largest_string_is_read_row_by_row(record: Record) -> None:
    incident = record.incidents.open("Long timeline", severity="P3")
    for n in range(50):
        record.timeline.add(incident.id, "note", f"note {n} " + "x" * 100, actor="ic")
    sql = "SELECT * FROM timeline ORDER BY seq"
    expected = [dict(row) for row in record.query(sql)]
    record.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2_000)  # each row fits, all of them do not
    try:
        assert fetch_packed(record.conn, sql) == expected
    finally:
        record.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)
