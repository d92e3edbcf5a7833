"""content_hash's orjson path hashes exactly the bytes of the stdlib's canonical JSON.

`canonical_json` (stdlib) is the definition that `warroom verify` and any
other implementation follow; these tests compare the fast path with it over
generated and hostile values of every type a row can hold, and check that
the fast path really answers for the values the record stores.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

import pytest

from store import Record, chain
from store.chain import canonical_json, content_hash
from store.schema import CHAINED_TABLES
from store.verify import verify_chain

AWKWARD = ([chr(code) for code in range(0x20)]
           + ['"', "\\", "/", "\x7f", "\x85", "\xa0", "é", "中", "\u2028", "\u2029", "\ufeff",
              "\uffff", "\U0001f600", "\U0010ffff", "table", "seq", ""])
INTS = (0, -1, 7, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1,
        10**40, 253_402_300_799 * 10**9)


def reference_hash(table: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json(table, content).encode("utf-8", "surrogatepass")).hexdigest()


def random_text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randrange(0, 10)):
        if rng.random() < 0.5:
            out.append(rng.choice(AWKWARD))
        else:
            code = rng.randrange(0x20, 0x110000)
            out.append(chr(code if not 0xD800 <= code <= 0xDFFF else code - 0x1000))
    return "".join(out)


def random_row(rng: random.Random, *, hostile: bool) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for _ in range(rng.randrange(1, 18)):
        roll = rng.random()
        value: Any
        if roll < 0.45:
            value = random_text(rng)
        elif roll < 0.65:
            value = rng.choice(INTS) if rng.random() < 0.4 else rng.randrange(-10**12, 10**12)
        elif roll < 0.72:
            value = rng.choice((True, False))
        elif roll < 0.8:
            value = None
        elif roll < 0.88:
            value = rng.choice((b"", b"\x00raw\xff", bytearray(b"x" * 9), memoryview(b"mv")))
        elif hostile:
            value = rng.choice((1.5, -0.0, 1e16, math.inf, math.nan, "\ud800", "a\udfffb",
                                [1, "x"], {"k": 2}, ("t",)))
        else:
            value = random_text(rng)
        row[random_text(rng) or "k"] = value
    return row


def test_generated_rows_hash_as_the_definition_says() -> None:
    rng = random.Random(3)
    fast_answers = 0
    for _ in range(5000):
        row = random_row(rng, hostile=False)
        table = rng.choice(("alerts", "timeline", "rejected_inputs", random_text(rng)))
        assert content_hash(table, row) == reference_hash(table, row)
        fast_answers += chain._fast_canonical(table, row) is not None
    assert fast_answers > 3500  # orjson really answers for plain rows (not big ints)


def test_hostile_values_hash_as_the_definition_says() -> None:
    rng = random.Random(8)
    for _ in range(3000):
        row = random_row(rng, hostile=True)
        assert content_hash("alerts", row) == reference_hash("alerts", row)
    for row in ({"table": "spoofed"}, {"table": None}, {"x": 2**64}, {"x": "\ud800"},
                {"x": 1.0}, {"x": b"\x00"}, {"": ""}, {"z": 1, "a": 2, "é": 3, "\U0001f600": 4}):
        assert content_hash("alerts", row) == reference_hash("alerts", row)


def test_rows_given_as_tuples_hash_as_the_definition_says() -> None:
    """values_hash (ingest's path: a row tuple, keys ordered once) against the definition."""
    rng = random.Random(5)
    for number in range(4000):
        row = random_row(rng, hostile=number % 2 == 1)
        table = rng.choice(("alerts", "timeline", random_text(rng)))
        columns, values = tuple(row), tuple(row.values())
        assert chain.values_hash(table, columns, values) == reference_hash(table, row), row
    alerts = tuple(CHAINED_TABLES["alerts"])
    for values in (tuple(None for _ in alerts), tuple("\ud800" for _ in alerts),
                   tuple(2**64 if c == "time_ns" else "x" for c in alerts)):
        content = dict(zip(alerts, values, strict=True))
        assert chain.values_hash("alerts", alerts, values) == reference_hash("alerts", content)
    assert chain.values_hash("t", ("table", "b"), ("spoofed", 1)) == reference_hash(
        "t", {"table": "spoofed", "b": 1})


def test_scalar_rows_hash_as_the_definition_says() -> None:
    """scalar_row_hasher (ingest's preparer: rows of str, int and None) against the definition."""
    rng = random.Random(11)
    alerts = tuple(CHAINED_TABLES["alerts"])
    hash_alert = chain.scalar_row_hasher("alerts", alerts)
    fast = 0
    for _ in range(3000):
        values = tuple(
            None if roll < 0.2 else random_text(rng) if roll < 0.75
            else rng.choice(INTS) if roll < 0.85 else rng.randrange(-10**12, 10**12)
            for roll in (rng.random() for _ in alerts)
        )
        expected = reference_hash("alerts", dict(zip(alerts, values, strict=True)))
        assert hash_alert(values) == expected, values
        fast += chain._fast_canonical("alerts", dict(zip(alerts, values, strict=True))) is not None
    assert fast > 1000  # the rows orjson writes, not only those it refuses
    for values in (tuple(None for _ in alerts), tuple("\ud800" for _ in alerts),
                   tuple(2**64 if c == "time_ns" else "x" for c in alerts), ("short",)):
        content = dict(zip(alerts, values, strict=False))
        if len(values) == len(alerts):
            assert hash_alert(values) == reference_hash("alerts", content)
        else:
            with pytest.raises(ValueError, match="shorter"):
                hash_alert(values)  # as values_hash: a row of the wrong length is refused
    spoofed = chain.scalar_row_hasher("t", ("table", "b"))
    assert spoofed(("spoofed", 1)) == reference_hash("t", {"table": "spoofed", "b": 1})


def test_every_code_point_hashes_as_the_definition_says() -> None:
    codes = [code for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    for start in range(0, len(codes), 1024):
        text = "".join(map(chr, codes[start : start + 1024]))
        row = {"output": text, text[:3]: start}
        assert chain._fast_canonical("alerts", row) is not None
        assert content_hash("alerts", row) == reference_hash("alerts", row)


def test_alerts_written_on_the_fast_path_check_out_against_the_definition(tmp_path: Any) -> None:
    from actions.falco.ingest import ingest_stream
    from bench.falco_lines import falco_lines

    source = tmp_path / "falco.jsonl"
    source.write_text("".join(line + "\n" for line in falco_lines(300)), encoding="utf-8")
    with Record.open(tmp_path / "record.db") as record:
        with source.open("rb") as stream:
            assert ingest_stream(record, stream, workers=1).accepted == 300
        assert verify_chain(record.conn).ok
        prev = chain.GENESIS
        for row in record.query("SELECT * FROM alerts ORDER BY seq"):
            content = {column: row[column] for column in CHAINED_TABLES["alerts"]}
            expected = chain.link_hash(prev, row["seq"], reference_hash("alerts", content))
            assert row["hash"] == expected
            prev = row["hash"]


# ----- verify's path: the canonical JSON written by SQLite (store/chain_walk.py) -----------------

# Text that could pass for the markers `_drop_nulls` looks for, or for a member.
MARKER_TEXT = (',"":null', '{"":null,', '","":null', '":null', 'null', '"', "\\", "",
               ',"table":"alerts"', "\\u0000", "\x00")


def _sqlite_canonical(conn: Any, table: str) -> dict[int, bytes]:
    from store.chain_walk import _drop_nulls, _select_canonical

    rows = conn.execute(_select_canonical(table, 0), (1, 2**62)).fetchall()
    return {row[0]: _drop_nulls(row[5]) for row in rows}


def _stored_row(rng: random.Random, table: str) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, kind in CHAINED_TABLES[table].items():
        roll = rng.random()
        if roll < 0.3:
            row[column] = None
        elif kind is int:
            row[column] = rng.choice(INTS) if rng.random() < 0.5 else rng.randrange(-10**6, 10**6)
        elif roll < 0.5:
            row[column] = rng.choice(MARKER_TEXT) + random_text(rng)
        else:
            row[column] = random_text(rng)
    return row


def test_the_canonical_json_sqlite_writes_for_verify_is_the_definitions(tmp_path: Any) -> None:
    """Every stored value SQLite can encode as the definition does, it does, NULLs dropped;
    the rest (an integer beyond 64 bits, kept as text) takes the definition's path."""
    rng = random.Random(11)
    rows = {table: [_stored_row(rng, table) for _ in range(400)]
            for table in ("alerts", "timeline", "actions")}
    rows["alerts"].append(dict.fromkeys(CHAINED_TABLES["alerts"]))  # only the table member
    rows["alerts"].append({column: "x" for column in CHAINED_TABLES["alerts"]} | {"time_ns": 1})
    for number, row in enumerate(rows["alerts"]):
        row["dedupe_key"] = f"{number}{row['dedupe_key'] or ''}"  # unique, as the index wants
    with Record.open(tmp_path / "record.db") as record:
        with record.write() as txn:
            for table, contents in rows.items():
                txn.append(table, contents)
        for table, contents in rows.items():
            made = _sqlite_canonical(record.conn, table)
            seqs = sorted(made)
            fast = 0
            for seq, content in zip(seqs, contents, strict=True):
                definition = canonical_json(table, content).encode("utf-8")
                big = any(type(v) is int and not -(2**63) <= v < 2**63 for v in content.values())
                assert (made[seq] == definition) != big, (table, content)
                fast += not big
            assert fast > len(contents) * 0.7
        assert verify_chain(record.conn).ok

