"""The fast JSON paths give exactly what the stdlib gives, on generated and hostile input.

The record's rows and hashes must not depend on whether orjson did the work,
so every fast answer is compared with the stdlib's, type for type and byte
for byte; where the fast path declines, the stdlib path is what runs.
"""

from __future__ import annotations

import enum
import json
import math
import random
from dataclasses import astuple
from datetime import UTC, datetime
from typing import Any

from actions.falco import fast_json, parse
from actions.falco.alert import FalcoAlert
from actions.falco.fast_json import EXACT_DEPTH, dumps_compact, loads_exact

STDLIB_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

AWKWARD_CHARS = (
    [chr(code) for code in range(0x20)]
    + ['"', "\\", "/", "\x7f", "\x80", "\x9b", "\xa0", "é", "中", "\u2028", "\u2029", "\ufeff",
       "\uffff", "\U0001f600", "\U0010ffff", "<", "&", "'", "\u0301"]
)
BOUNDARY_INTS = (0, 1, -1, 2**31 - 1, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1,
                 2**64, -(2**63) - 1, 10**30, -(10**30))
FLOATS = (0.0, -0.0, 0.1, 1.5, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 123456789.125, -2.5)


def same(left: object, right: object) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 and dict order do not pass)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return repr(left) == repr(right)
    if isinstance(left, dict):
        assert isinstance(right, dict)
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)):
        assert isinstance(right, (list, tuple))
        return len(left) == len(right) and all(map(same, left, right))
    return left == right


def random_text(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randrange(0, 12)):
        roll = rng.random()
        if roll < 0.4:
            pieces.append(rng.choice(AWKWARD_CHARS))
        elif roll < 0.7:
            pieces.append(chr(rng.randrange(0x20, 0x7f)))
        else:
            code = rng.randrange(0x80, 0x110000)
            pieces.append(chr(code if not 0xD800 <= code <= 0xDFFF else code + 0x800))
    return "".join(pieces)


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.15:
        return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if depth < 4 and roll < 0.25:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if roll < 0.55:
        return random_text(rng)
    if roll < 0.7:
        return rng.choice(BOUNDARY_INTS) if rng.random() < 0.5 else rng.randrange(-10**6, 10**6)
    if roll < 0.8:
        return rng.choice(FLOATS) if rng.random() < 0.5 else rng.uniform(-1e9, 1e9)
    return rng.choice((True, False, None))


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def hostile_texts() -> list[str]:
    return [
        '{"a":123456789012345678901234}', '{"a":18446744073709551616}',
        '{"a":-9223372036854775809}',
        '{"a":18446744073709551615}', '{"a":1e400}', '{"a":NaN}', '{"a":-Infinity}',
        '{"a":"\\ud800"}', '{"a":"\\udc00x"}', '{"a":"\\ud83d\\ude00"}', '{"a":1,"a":2}',
        '{"a":1,"b":2,"a":3}', '{"a":-0}', '{"a":-0.0}', '{"a":1E5}', '{"a":"\x01"}',
        '{"a":1' + "0" * 5000 + "}", '{"a":00}', '{"a":[1,]}', '\ufeff{"a":1}', '{"a":1}\x00',
        '{"a":1} ', '{"a":1}\t\r\n', '{"a":"\\u0000"}', '{"\\u00e9":"\\/"}', "[]", "{}", '"x"',
        "12", "true", "null", '{"a":[' * 40 + "]}" * 40, json.dumps(nested(EXACT_DEPTH - 1)),
        json.dumps(nested(EXACT_DEPTH + 1)), "[" * 900 + "]" * 900, "[" * 1100 + "]" * 1100,
        '{"a":1.0}', '{"a":2.5e-324}', '{"a":0.30000000000000004}', '{"a":5.}', '{"a":.5}',
    ]


def check_loads(data: bytes) -> bool:
    """True when the fast path answered (and then it answered as the stdlib does)."""
    fast = loads_exact(data)
    if fast is None:
        return False
    expected = json.loads(data)  # the fast path answering means the stdlib accepts it too
    assert same(fast, expected), data[:200]
    return True


def test_decoding_matches_the_stdlib_on_generated_documents() -> None:
    rng = random.Random(5)
    answered = 0
    for _ in range(3000):
        value = random_value(rng)
        for text in (json.dumps(value, ensure_ascii=False), json.dumps(value),
                     json.dumps(value, indent=1)):
            answered += check_loads(text.encode("utf-8"))
    assert answered > 2000  # the fast path is really in use, not declining everything


def test_decoding_declines_or_matches_on_hostile_text() -> None:
    for text in hostile_texts():
        data = text.encode("utf-8", "surrogatepass")
        check_loads(data)
    assert loads_exact(b'{"a":123456789012345678901234}') is None  # orjson would give a float
    assert loads_exact(b'{"a":1.5}') is None  # floats always go to the stdlib
    assert loads_exact(json.dumps(nested(EXACT_DEPTH + 1)).encode()) is None
    assert loads_exact(b'{"a":"\xff"}') is None  # invalid UTF-8


def test_encoding_matches_the_stdlib_byte_for_byte() -> None:
    rng = random.Random(11)
    answered = 0
    for _ in range(4000):
        value = random_value(rng)
        assert dumps_compact(value) == STDLIB_DUMPS(value)
        answered += fast_json._encodes_exactly(value, 0)
    assert answered > 1000


def test_encoding_falls_back_for_what_only_the_stdlib_writes() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    moment = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    for value in ({"big": 2**64}, {"neg": -(2**63) - 1}, {"lone": "\ud800"}, {"f": 1e16},
                  {"nan": math.nan}, {1: "int key"}, {True: "bool key"}, {None: "null key"},
                  {"when": moment}, {"level": Level.HIGH}, {"name": Name("x")}, ("a", 1),
                  {Name("key"): 1}, {"a": 1, 2: "b"}, {"deep": {3: "int key"}},
                  nested(EXACT_DEPTH + 3), [{"k": [1, 2.5]}], {"bytes": b"x"}):
        assert dumps_compact(value) == STDLIB_DUMPS(value)


def test_every_code_point_is_encoded_as_the_stdlib_does() -> None:
    codes = [code for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    for start in range(0, len(codes), 512):
        text = "".join(map(chr, codes[start : start + 512]))
        assert dumps_compact({"k": [text]}) == STDLIB_DUMPS({"k": [text]})
        assert fast_json._encodes_exactly({"k": [text]}, 0)


def falco_line(rng: random.Random) -> bytes:
    fields = {random_text(rng) or "k": random_value(rng, 3) for _ in range(rng.randrange(6))}
    doc: dict[str, Any] = {
        "hostname": rng.choice(["node-a", random_text(rng), None, 7]),
        "output": rng.choice([f"09:00:01.5: Notice {random_text(rng)}", None, ["x"]]),
        "output_fields": rng.choice([fields, fields, "x", None]),
        "priority": rng.choice(["Notice", "WARNING", "info", "bogus", 3]),
        "rule": rng.choice(["Terminal shell in container", random_text(rng), None]),
        "source": rng.choice(["syscall", None, {"x": 1}]),
        "tags": rng.choice([["a", "b"], [], "t", [1, "x"], None]),
        "time": rng.choice(["2026-11-27T09:00:01.123456789Z", "2026-11-27T09:00:01.5+01:00",
                            "2026-02-30T09:00:01.1Z", "2026-11-27T25:00:01Z", "later", 5]),
    }
    for key in list(doc):
        if rng.random() < 0.08:
            del doc[key]
    if rng.random() < 0.2:
        doc["message"] = random_text(rng)
    body = json.dumps(doc, ensure_ascii=rng.random() < 0.3)
    prefix = rng.choice(["", "2026-11-27T09:00:01.123456789Z ", "2026-11-27T09:00:01.5Z ",
                         "2026-11-27T09:00:01Z ", "2026-13-27T09:00:01Z ", "2026-11-27T09:00:01Z  ",
                         "2026-11-27T09:00:01.1234567891Z ", "[pod/falco-a/falco] "])
    suffix = rng.choice(["", "", " ", "\x00", "\t", "}", "\ufeff"])
    return (prefix + body + suffix).encode("utf-8", "surrogatepass")


def test_the_fast_line_path_decides_as_the_general_parser_does() -> None:
    rng = random.Random(23)
    answered = 0
    for _ in range(4000):
        raw = falco_line(rng)
        fast = parse._fast_json_line(raw)
        if fast is None:
            continue
        answered += 1
        general = parse._parse_general(raw, None)
        assert type(fast) is type(general), raw
        assert same(astuple(fast), astuple(general)), raw
    assert answered > 800  # floats and hostile shapes decline; the rest must answer


def test_falco_lines_take_the_fast_path() -> None:
    line = (b'2026-11-27T09:00:01.5Z {"hostname":"n","output":"o","output_fields":{"evt.time":1},'
            b'"priority":"Notice","rule":"r","source":"syscall","tags":["a"],'
            b'"time":"2026-11-27T09:00:01.123456789Z"}')
    alert = parse._fast_json_line(line)
    assert isinstance(alert, FalcoAlert)
    assert alert.log_time == "2026-11-27T09:00:01.5Z"
    assert alert == parse.parse_line(line)
    assert fast_json.FAST  # orjson is installed: without it every line takes the slow path
