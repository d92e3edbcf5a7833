"""The bulk ingest path: blocks of lines, the optimistic insert, the chain links of a run.

Each part must give exactly what the line-by-line definitions give.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actions.falco.lines as lines_module
from actions.falco.alert import RejectedLine
from actions.falco.classify import Classifier
from actions.falco.ingest import (
    BatchPreparer,
    BatchWriter,
    IngestFailed,
    PreparedBatch,
    ingest_stream,
)
from actions.falco.lines import iter_line_blocks, iter_lines, split_block
from actions.falco.parse import parse_line
from bench.falco_lines import falco_lines
from store import Record, verify_chain
from store.alerts import ALERT_COLUMNS
from store.chain import GENESIS, link_hash, link_hashes, values_hash
from store.errors import RecordWriteFailed
from store.record import STAGED_PER_INSERT, bind_nulls_directly, stage_rows

streams = st.lists(
    st.sampled_from([b"a", b"b", b"\r", b"\n", b"\r\n", b"\x00"]), max_size=80
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=streams, max_line=st.integers(1, 12), block=st.integers(1, 20))
def test_blocks_split_into_exactly_the_lines_iter_lines_yields(
    data: bytes, max_line: int, block: int
) -> None:
    # Tiny limits and a tiny skip chunk reach every edge: CR LF split across reads,
    # a line longer than the limit in a block and across many reads, no last newline.
    original = lines_module._SKIP_CHUNK
    lines_module._SKIP_CHUNK = 3
    try:
        want = list(iter_lines(io.BytesIO(data), max_line_bytes=max_line))
        got = [
            line
            for chunk in iter_line_blocks(
                io.BytesIO(data), block_bytes=block, max_line_bytes=max_line
            )
            for line in split_block(chunk, max_line_bytes=max_line)
        ]
    finally:
        lines_module._SKIP_CHUNK = original
    assert got == want
    assert [(type(x), getattr(x, "real_length", None)) for x in got] == [
        (type(x), getattr(x, "real_length", None)) for x in want
    ]


def test_a_run_of_links_is_link_hash_of_each() -> None:
    contents = [f"{n:064x}" for n in range(50)]
    expected, prev = [], GENESIS
    for seq, content in enumerate(contents, 7):
        prev = link_hash(prev, seq, content)
        expected.append(prev)
    assert link_hashes(GENESIS, 7, contents) == expected


def _rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [
            tuple(row)
            for table in ("alerts", "rejected_inputs")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY seq")
        ]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def mixed_input() -> bytes:
    """Over one block (4 MiB) of alerts, with repeats and rejected lines on both sides."""
    alerts = [line.encode() for line in falco_lines(5_500)]
    odd = [b"not falco", b"{\"rule\": 1}", b"", b"\xff{", alerts[3]]
    return b"\n".join(odd + alerts[:3000] + odd + alerts[2500:] + odd + alerts[:10]) + b"\r\n"


def test_workers_record_what_one_process_records(tmp_path: Path, mixed_input: bytes) -> None:
    reports = {}
    for workers in (1, 2):
        with Record.open(tmp_path / f"w{workers}.db", clock=_fixed_clock) as record:
            reports[workers] = ingest_stream(record, io.BytesIO(mixed_input), workers=workers)
            assert verify_chain(record.conn).ok
    assert reports[1].to_dict() == reports[2].to_dict()
    assert reports[1].accepted == 5_500
    assert reports[1].duplicates == 500 + 10 + 3
    assert _rows(tmp_path / "w1.db") == _rows(tmp_path / "w2.db")
    conn = sqlite3.connect(tmp_path / "w2.db")
    line_numbers = [row[0] for row in conn.execute("SELECT line_no FROM rejected_inputs")]
    conn.close()
    # Numbered as lines of the whole input, whichever block (and worker) read them.
    lines = mixed_input.split(b"\n")
    assert line_numbers == [
        number
        for number, line in enumerate(lines, 1)
        if isinstance(parse_line(line.rstrip(b"\r")), RejectedLine)
    ]
    assert max(line_numbers) > 5_000  # the last ones are past the first block (4 MiB)


def test_workers_record_nothing_twice_when_the_input_is_read_again(
    tmp_path: Path, mixed_input: bytes
) -> None:
    with Record.open(tmp_path / "r.db", clock=_fixed_clock) as record:
        first = ingest_stream(record, io.BytesIO(mixed_input), workers=2)
        again = ingest_stream(record, io.BytesIO(mixed_input), workers=2)
        assert (again.accepted, again.rejected, dict(again.by_severity)) == (0, 0, {})
        assert again.duplicates == first.accepted + first.duplicates
        assert again.rejected_duplicates == first.rejected
        assert record.alerts.count() == 5_500
        result = verify_chain(record.conn)
        assert result.ok, result.problem


def test_a_batch_meeting_recorded_keys_keeps_only_the_new_ones(
    tmp_path: Path, mixed_input: bytes
) -> None:
    with Record.open(tmp_path / "r.db", clock=_fixed_clock) as record:
        first = ingest_stream(record, io.BytesIO(mixed_input[: len(mixed_input) // 2]), workers=1)
        again = ingest_stream(record, io.BytesIO(mixed_input), workers=1)
        assert first.accepted + again.accepted == 5_500
        assert record.alerts.count() == 5_500
        result = verify_chain(record.conn)
        assert result.ok, result.problem


def test_blocks_committed_together_count_only_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seven blocks of ten lines: transactions of 1, 2 and 4 blocks; the record refuses the
    # fifth block, in the third transaction, which keeps nothing (the fourth block either).
    lines = [line.encode() for line in falco_lines(70)]
    blocks = [b"\n".join(lines[start : start + 10]) for start in range(0, 70, 10)]
    with Record.open(tmp_path / "r.db", clock=_fixed_clock) as record:
        writer = BatchWriter(record, Classifier.load())
        original = record.alerts.add_prepared_in
        calls = []

        def refusing_the_fifth(*args: object, **kwargs: object) -> object:
            calls.append(1)
            if len(calls) == 5:
                raise RecordWriteFailed("disk full")
            return original(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(record.alerts, "add_prepared_in", refusing_the_fifth)
        prepared = (writer.preparer.prepare_block(block, record.now(), None) for block in blocks)
        with pytest.raises(IngestFailed) as failed:
            writer.write_blocks(prepared)
        assert failed.value.report.read == failed.value.report.accepted == 30
        assert "the record holds lines 1-30 of the input" in str(failed.value)
        assert record.alerts.count() == 30
        assert verify_chain(record.conn).ok
        monkeypatch.undo()
        again = ingest_stream(record, io.BytesIO(b"\n".join(lines)), workers=1)
        assert (again.accepted, again.duplicates) == (40, 30)
        assert verify_chain(record.conn).ok


def test_staged_rows_are_recorded_exactly_as_bound_rows(tmp_path: Path) -> None:
    # What the workers hand over as a database must land as the values themselves would.
    hostile = ["\x00nul", "[/oops]", "[red]x", "\x1b]52;c;aGk=\x07", "\x9b2J", "é☃\U0001f600",
               "", " ", "0", "123", "1e5", "NULL"]
    columns = ALERT_COLUMNS
    rows = []
    for number, text in enumerate(hostile * 11):  # several INSERTs of STAGED_PER_INSERT rows
        row: list[object] = [f"{text}-{number}" if c == "dedupe_key" else text for c in columns]
        row[columns.index("time_ns")] = (2**63 - 1, -(2**63), 0, None)[number % 4]
        row[columns.index("incident_id")] = None
        rows.append(tuple(row))
    hashes = [values_hash("alerts", columns, row) for row in rows]
    staged = stage_rows("alerts", rows)
    assert staged is not None
    for name, write in (
        ("bound", lambda r: r.alerts.add_prepared(rows, hashes)),
        ("staged", lambda r: _add_staged(r, staged, hashes)),
    ):
        with Record.open(tmp_path / f"{name}.db", clock=_fixed_clock) as record:
            write(record)
            assert verify_chain(record.conn).ok
    assert _typed_rows(tmp_path / "bound.db") == _typed_rows(tmp_path / "staged.db")
    assert len(_typed_rows(tmp_path / "bound.db")) == len(rows) > 2 * STAGED_PER_INSERT
    # An integer beyond SQLite's 64 bits is not staged: the rows go as they are.
    too_big = [tuple(2**64 if c == "time_ns" else "x" for c in columns)]
    assert stage_rows("alerts", too_big) is None
    # Nor is a row of another width (each INSERT binds several rows' values in a row).
    assert stage_rows("alerts", [rows[0][:-1], rows[1] + ("x",)] * STAGED_PER_INSERT) is None


def test_columns_staged_once_land_as_bound_rows(tmp_path: Path) -> None:
    # A column every row shares is staged once, as its default: hostile values included.
    columns = ALERT_COLUMNS
    cases: tuple[dict[str, object], ...] = (
        {"incident_id": "it's\n é'';--", "origin": "o\r\n\x1b[2J☃", "time_ns": -(2**63)},
        {"incident_id": None, "origin": "nul\x00inside", "time_ns": 0},  # a NUL: not shared
        {"incident_id": None, "origin": "o", "time_ns": 2**64},
    )
    for case, same in enumerate(cases):
        rows = [tuple(same.get(c, f"{c}-{number}") for c in columns) for number in range(120)]
        staged = stage_rows("alerts", rows, shared=("incident_id", "origin", "time_ns"))
        if same["time_ns"] == 2**64:
            assert staged is None  # beyond 64 bits: bound as `bigint:` text instead
            continue
        assert staged is not None
        conn = sqlite3.connect(":memory:")
        conn.deserialize(staged)
        once = {name for _, name, _, _, default, _ in conn.execute("PRAGMA table_info(rows)")
                if default is not None}
        conn.close()
        shared_once = {"incident_id", "time_ns"} if case else {"incident_id", "origin", "time_ns"}
        assert once == shared_once
        hashes = [values_hash("alerts", columns, row) for row in rows]
        with Record.open(tmp_path / f"bound{case}.db", clock=_fixed_clock) as record:
            record.alerts.add_prepared(rows, hashes)
        with Record.open(tmp_path / f"staged{case}.db", clock=_fixed_clock) as record:
            _add_staged(record, staged, hashes)
            # Met again, the batch is read back by name and sorted out: nothing twice.
            with record.staging_attached(), record.write() as txn:
                again, read_back = record.alerts.add_staged_in(
                    txn, staged, hashes, with_accepted_keys=False)
            assert (again.accepted, again.duplicates, read_back) == (0, len(rows), rows)
            assert verify_chain(record.conn).ok
        assert _typed_rows(tmp_path / f"bound{case}.db") == _typed_rows(
            tmp_path / f"staged{case}.db")


def test_nulls_bound_directly_stage_the_same_rows() -> None:
    # The workers' shortcut for None (bind_nulls_directly) changes no staged value or type.
    rows = [tuple(None if number % 3 == 0 else (number if c == "time_ns" else f"{c}{number}")
                  for number, c in enumerate(ALERT_COLUMNS, start=shift)) for shift in range(6)]
    rows.append(tuple(None for _ in ALERT_COLUMNS))
    before = stage_rows("alerts", rows)
    none_adapter = (type(None), sqlite3.PrepareProtocol)
    assert none_adapter not in sqlite3.adapters
    try:
        bind_nulls_directly()
        after = stage_rows("alerts", rows)
    finally:
        sqlite3.adapters.pop(none_adapter, None)
    assert before is not None
    assert after is not None
    staged = [_staged_typed_rows(database) for database in (before, after)]
    assert staged[0] == staged[1]
    assert [row[::2] for row in staged[1]] == rows
    assert {kind for row in staged[1] for kind in row[1::2]} == {"null", "text", "integer"}


def _staged_typed_rows(staged: bytes) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(staged)
        shown = ", ".join(f"{c}, typeof({c})" for c in ALERT_COLUMNS)
        return conn.execute(f"SELECT {shown} FROM rows ORDER BY rowid").fetchall()
    finally:
        conn.close()


def _add_staged(record: Record, staged: bytes, hashes: list[str]) -> None:
    with record.staging_attached(), record.write() as txn:
        result, read_back = record.alerts.add_staged_in(txn, staged, hashes,
                                                        with_accepted_keys=True)
    assert (result.accepted, read_back) == (len(hashes), None)
    assert len(result.accepted_keys) == len(hashes)


def _typed_rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        shown = ", ".join(f"{c}, typeof({c})" for c in ("seq", "prev_hash", "hash", *ALERT_COLUMNS))
        return conn.execute(f"SELECT {shown} FROM alerts ORDER BY seq").fetchall()
    finally:
        conn.close()


class _Text(str):
    """A str subclass: a type marshal refuses to write."""


def test_a_prepared_block_crosses_to_the_writing_process_unchanged(mixed_input: bytes) -> None:
    preparer = BatchPreparer(Classifier.load(), incident_id=None, origin="falco")
    batch = preparer.prepare_block(mixed_input[:200_000], "2026-03-14T09:00:00Z", None)
    assert batch.values
    assert batch.rejected
    assert pickle.loads(pickle.dumps(batch)) == batch
    odd = PreparedBatch([(_Text("x"), 1, None)], ["0" * 64], read=1)
    crossed = pickle.loads(pickle.dumps(odd))
    assert crossed == odd
    assert type(crossed.values[0][0]) is _Text


def _fixed_clock() -> datetime:
    return datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
