"""The audit chain: how an entry is hashed and linked to the one before it.

An entry's content hash is SHA-256 over its canonical JSON: the table name and
every non-NULL content column, keys sorted, no whitespace, UTF-8. Text is a
JSON string, an integer a JSON number (however large: store.schema keeps one
beyond SQLite's 64 bits as its decimal text, and hands it back as the integer),
and a BLOB the object `{"sha256": "<hex SHA-256 of its bytes>"}`, a form no
text and no number can take. Entries written before schema 4 wrote a BLOB as
the string `"sha256:<hex>"`, which the text of that string matched; they keep
that form (`typed_blobs=False`), and `verify` checks those BLOBs' types and
digests apart. Its link hash is SHA-256 over the previous entry's hash, its
position and its content hash. Editing, deleting, inserting or reordering any
entry breaks the link of that entry or the next.

`canonical_json` (the stdlib's encoder) is the definition. `content_hash`
encodes with orjson when every value is a str, an int or a bool (what the
record's columns hold) because orjson writes those byte for byte as the
definition does, several times faster; anything else, and anything orjson
refuses (an integer beyond 64 bits, a lone surrogate), takes the definition's
path. tests/test_store_chain_fast.py checks the equality over generated and
hostile values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the same hashes, from the stdlib
    orjson = None  # type: ignore[assignment]

GENESIS = "0" * 64

_FAST_TYPES: frozenset[type] = frozenset({str, int, bool})
_BLOB_TYPES = (bytes, bytearray, memoryview)
_BLOB_TYPE_SET: frozenset[type] = frozenset(_BLOB_TYPES)
_STR_ONLY: frozenset[type] = frozenset({str})
_NONE = type(None)


def blob_form(value: bytes | bytearray | memoryview, *, typed: bool = True) -> object:
    """What stands for a BLOB in the canonical JSON."""
    digest = hashlib.sha256(value).hexdigest()
    return {"sha256": digest} if typed else "sha256:" + digest


def canonical_json(table: str, content: Mapping[str, object], *, typed_blobs: bool = True) -> str:
    document: dict[str, object] = {"table": table}
    for key, value in content.items():
        if value is None:
            continue
        if isinstance(value, _BLOB_TYPES):
            value = blob_form(value, typed=typed_blobs)
        document[key] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(table: str, content: Mapping[str, object], *, typed_blobs: bool = True) -> str:
    encoded = _fast_canonical(table, content, typed_blobs)
    if encoded is None:
        encoded = canonical_json(table, content, typed_blobs=typed_blobs).encode(
            "utf-8", "surrogatepass"
        )
    return hashlib.sha256(encoded).hexdigest()


def _fast_canonical(
    table: str, content: Mapping[str, object], typed_blobs: bool = True
) -> bytes | None:
    """`canonical_json(...)` as UTF-8 by orjson, or None when only the stdlib may write it."""
    if orjson is None or type(table) is not str or "table" in content:
        return None
    document: dict[Any, object] = {"table": table}
    document.update(content)
    types = set(map(type, document.values()))
    if _NONE in types:
        document = {key: value for key, value in document.items() if value is not None}
        types.discard(_NONE)
    if not types <= _FAST_TYPES:
        if not types <= _FAST_TYPES | _BLOB_TYPE_SET:
            return None
        for key, value in document.items():
            if isinstance(value, _BLOB_TYPES):
                document[key] = blob_form(value, typed=typed_blobs)
    if not _STR_ONLY.issuperset(map(type, document)):
        return None
    try:
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None


# What a row tuple may hold for `values_hash` to write it itself (NoneType: a NULL, left out).
_VALUE_TYPES: frozenset[type] = frozenset({str, int, bool, _NONE})
# Per (table, column list): column lists come from the code (store.schema), never from input.
_KEY_ORDERS: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, int], ...] | None] = {}


def values_hash(table: str, columns: tuple[str, ...], values: Sequence[object]) -> str:
    """`content_hash(table, dict(zip(columns, values)))`, for a row given as a tuple.

    The hot path of ingest: the keys are sorted once per column list (as the
    definition sorts them), so orjson writes each row's members in the order
    given, with no dict of the row and no sort per row. Any other value, and
    anything orjson refuses, takes `content_hash`.
    """
    if orjson is not None and len(values) == len(columns) and _VALUE_TYPES.issuperset(
        map(type, values)
    ):
        order = _KEY_ORDERS.get((table, columns)) or _key_order(table, columns)
        if order is not None and (digest := _ordered_hash(table, order, values)) is not None:
            return digest
    return content_hash(table, dict(zip(columns, values, strict=True)))


def _ordered_hash(
    table: str, order: tuple[tuple[str, int], ...], values: Sequence[object]
) -> str | None:
    """The content hash of a row of str, int and None written by orjson in `order` (the
    definition's key order), or None when orjson refuses a value (an integer beyond 64
    bits, a lone surrogate: the stdlib writes those)."""
    assert orjson is not None
    row = (*values, table)
    document = {key: row[index] for key, index in order if row[index] is not None}
    try:
        return hashlib.sha256(orjson.dumps(document)).hexdigest()
    except orjson.JSONEncodeError:
        return None


def scalar_row_hasher(
    table: str, columns: tuple[str, ...]
) -> Callable[[Sequence[str | int | None]], str]:
    """`values_hash(table, columns, values)` as a function of `values` alone, for rows whose
    every value is a str, an int or None (the caller vouches: ingest's preparer builds each
    alert row itself from parsed text and integers).

    It skips `values_hash`'s look at each value's type, and its key order is found once,
    here: ingest hashes a million rows (8.4 -> 6.8 us a row). orjson still refuses what
    it cannot write as the definition does (an integer beyond 64 bits, a lone
    surrogate): those rows take `values_hash`.
    """
    order = _key_order(table, columns)
    if orjson is None or order is None:
        return partial(values_hash, table, columns)
    count = len(columns)

    def scalar_row_hash(values: Sequence[str | int | None]) -> str:
        if len(values) == count and (digest := _ordered_hash(table, order, values)) is not None:
            return digest
        return values_hash(table, columns, values)

    return scalar_row_hash


def _key_order(table: str, columns: tuple[str, ...]) -> tuple[tuple[str, int], ...] | None:
    """(key, index in the row tuple + the table last) in the definition's key order."""
    keys = (*columns, "table")
    if type(table) is not str or len(set(keys)) != len(keys):
        order = None  # a column named `table`, or twice: the definition decides
    else:
        order = tuple(sorted((key, index) for index, key in enumerate(keys)))
    _KEY_ORDERS[(table, columns)] = order
    return order


def link_hash(prev_hash: str, seq: int, content_sha: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{content_sha}".encode("ascii")).hexdigest()


def link_hashes(prev_hash: str, first_seq: int, content_shas: Iterable[str]) -> list[str]:
    """`link_hash` of each entry of a run appended after `prev_hash`, from position `first_seq`.

    The same bytes as `link_hash`, with the call inlined: ingest links a million
    entries in a row, and the call cost a fifth of the hashing.
    """
    sha256 = hashlib.sha256
    links: list[str] = []
    append = links.append
    seq = first_seq
    for content_sha in content_shas:
        prev_hash = sha256(f"{prev_hash}\n{seq}\n{content_sha}".encode("ascii")).hexdigest()
        append(prev_hash)
        seq += 1
    return links
