"""JSON at alert rates: orjson where it provably gives what the stdlib gives, else the stdlib.

Every Falco line is decoded once and two of its values are encoded again for
the record, thousands of times a second; orjson does both several times
faster. But the record's bytes must not depend on which library ran, so each
function here answers with orjson only inside a domain where orjson's result
is the stdlib's, byte for byte (tests/test_falco_fast_json.py checks that over
generated and hostile values), and otherwise hands the value to the stdlib:

- decoding: no float anywhere (orjson turns integers beyond 64 bits into
  floats, where the stdlib keeps exact ints) and no nesting deeper than
  `EXACT_DEPTH` (the stdlib may hit its recursion limit where orjson does not);
  everything orjson refuses (NaN, lone surrogates, bad UTF-8, control
  characters) is left to the stdlib path, which explains it as it always did.
- encoding: only str, int, bool, None, lists and str-keyed dicts, no deeper
  than `EXACT_DEPTH`; integers beyond 64 bits, which orjson refuses, go to
  the stdlib.

Without orjson installed every call takes the stdlib path: same results, slower.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the same results, from the stdlib
    orjson = None  # type: ignore[assignment]

EXACT_DEPTH = 32
"""Deeper values are left to the stdlib (Falco's output_fields are flat)."""

_SCALARS: frozenset[type] = frozenset({str, int, bool, type(None)})
_STR_ONLY: frozenset[type] = frozenset({str})

# What the record has always stored: compact, non-ASCII kept, str() for the odd object.
_stdlib_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

FAST = orjson is not None
"""Whether orjson is doing the work (the results are the same either way)."""


def loads_exact(data: bytes) -> object | None:
    """`json.loads(data)` by orjson, or None when orjson cannot vouch for the stdlib's answer.

    None means "ask the stdlib": orjson is missing, refused the text, or the
    result holds a float or deep nesting, where the two may differ.
    """
    if orjson is None:
        return None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    kind = type(doc)
    if kind is dict:
        # An alert's object always holds an object and an array (output_fields, tags):
        # one look at all its values' types would only fail first (0.6 us an alert).
        return doc if _each_decoded_exactly(doc.values(), 1) else None
    if kind is list:
        return doc if _decoded_exactly(doc, 1) else None
    return doc if kind in _SCALARS else None


def _decoded_exactly(values: Iterable[Any], depth: int) -> bool:
    # A flat object or array (an alert's output_fields, its tags) is told in C.
    return _SCALARS.issuperset(map(type, values)) or _each_decoded_exactly(values, depth)


def _each_decoded_exactly(values: Iterable[Any], depth: int) -> bool:
    for value in values:
        kind = type(value)
        if kind in _SCALARS:
            continue
        if depth >= EXACT_DEPTH:
            return False
        if kind is dict:
            children = value.values()
        elif kind is list:
            children = value
        else:
            return False  # a float
        if not _decoded_exactly(children, depth + 1):
            return False
    return True


def dumps_compact(value: object) -> str:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)`, faster."""
    if orjson is not None:
        kind = type(value)
        if kind is dict:
            mapping: dict[Any, Any] = value  # type: ignore[assignment]
            # A flat object of strings, numbers and nulls (output_fields) is told in C. Its
            # keys are not looked at: orjson refuses any key but an exact str (the stdlib
            # then writes it), and this saves 0.7 us an alert.
            exact = _SCALARS.issuperset(map(type, mapping.values())) or _all_exact(
                mapping.values(), 0
            )
        else:
            exact = _encodes_exactly(value, 0)
        if exact:
            try:
                return orjson.dumps(value).decode("utf-8")
            except orjson.JSONEncodeError:
                pass  # an integer beyond 64 bits or a lone surrogate: the stdlib writes it
    return _stdlib_dumps(value)


def _encodes_exactly(value: object, depth: int) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth >= EXACT_DEPTH:
        return False
    if kind is dict:
        mapping: dict[Any, Any] = value  # type: ignore[assignment]
        return set(map(type, mapping)) <= _STR_ONLY and _all_exact(mapping.values(), depth)
    if kind is list:
        return _all_exact(value, depth)  # type: ignore[arg-type]
    return False


def _all_exact(values: Iterable[object], depth: int) -> bool:
    if _SCALARS.issuperset(map(type, values)):
        return True
    return all(_encodes_exactly(item, depth + 1) for item in values)
