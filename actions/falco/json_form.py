"""Falco's JSON output (json_output: true), every version's shape.

- 0.39+: nlohmann::json, keys sorted, compact; `message` optional (0.39+),
  `output_fields` optional (0.41+), `output`/`tags` optional by configuration.
- 0.38 and earlier: jsoncpp, then `, "output_fields": {...}}` grafted last.
- internal events: no `tags`, every `output_fields` value a string.
- falcosidekick's webhook body: an extra `uuid`, a trimmed time fraction.
json.loads reads them all; what differs is which keys exist and their types.
"""

from __future__ import annotations

import json
import math
from typing import cast

from actions.falco.alert import PRIORITIES, FalcoAlert, canonical_priority
from actions.falco.times import NotATime, falco_time_ns, rfc3339_to_ns

# Deeper values in output_fields are refused: Falco writes scalars only, and a
# value nested near the interpreter's recursion limit would make every later
# json.dumps of the alert (the record, the audit chain) fail.
MAX_FIELD_DEPTH = 32

_JSON_TYPE_NAMES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


_CHECKED_TYPES: frozenset[type] = frozenset({dict, list, float})
_JUST_STRINGS: frozenset[type] = frozenset({str})
_FALCO_PRIORITIES = frozenset(PRIORITIES)


class JsonRejected(ValueError):
    """The line is JSON but not a usable Falco alert; the message says why."""


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type ("object", "array", "number"...)."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def decode_error_reason(error: json.JSONDecodeError) -> str:
    """`truncated JSON (...)` when the text stops early, else `invalid JSON (...)`."""
    truncated = error.pos >= len(error.doc) - 1 or error.msg.startswith("Unterminated string")
    kind = "truncated JSON" if truncated else "invalid JSON"
    return f"{kind} ({error.msg} at column {error.colno})"


def alert_from_json(
    doc: object,
    warnings: list[str],
    *,
    has_surrogates: bool,
    raw: bytes,
    log_time: str | None = None,
    log_prefix: str | None = None,
) -> FalcoAlert:
    """Build the alert from a decoded line; raises JsonRejected with the reason.

    `warnings` holds what was already tolerated while decoding; `has_surrogates`
    says the text had `\\ud...` escapes, which may decode to lone surrogates
    that no UTF-8 encoder (SQLite, files, the terminal) accepts. The raw line is
    kept on the alert whenever something was tolerated.
    """
    if type(doc) is not dict:
        raise JsonRejected(f"not a Falco alert: JSON {json_type(doc)}, not an object")
    get = doc.get
    rule = get("rule")
    time = get("time")
    priority = get("priority")
    output = get("output")
    if type(rule) is not str:
        raise JsonRejected(_missing_or_wrong("rule", rule, doc))
    if type(time) is not str:
        raise JsonRejected(_missing_or_wrong("time", time, doc))
    if type(priority) is not str:
        raise JsonRejected(_missing_or_wrong("priority", priority, doc))
    if output is not None and type(output) is not str:
        raise JsonRejected(f"output is not a string (got {json_type(output)})")

    # Each value is first checked for what Falco writes, inline (this runs for every
    # alert); anything else goes to the function that judges it and says why.
    time_ns = falco_time_ns(time)
    if time_ns is None:
        try:
            time_ns = rfc3339_to_ns(time, warnings)
        except NotATime as error:
            raise JsonRejected(str(error)) from None
    if priority not in _FALCO_PRIORITIES and canonical_priority(priority) is None:
        warnings.append(f"unknown priority {ascii(priority)}")

    output_fields = get("output_fields")
    if type(output_fields) is not dict or not _CHECKED_TYPES.isdisjoint(
        map(type, output_fields.values())
    ):
        output_fields = _output_fields(output_fields, "output_fields" in doc, warnings)
    tags = get("tags")
    if type(tags) is list and _JUST_STRINGS.issuperset(map(type, tags)):
        tags = tuple(tags)
    else:
        tags = _tags(tags, "tags" in doc, warnings)
    source = get("source")
    if source is not None and type(source) is not str:
        source = _optional_string(source, "source", warnings)
    hostname = get("hostname")
    if hostname is not None and type(hostname) is not str:
        hostname = _optional_string(hostname, "hostname", warnings)
    if output is None:
        output = _output_without_output_property(get("message"), rule, output_fields, warnings)

    if has_surrogates:
        parts = (rule, time, priority, output, source, hostname, tags, output_fields)
        fixed = _replace_surrogates(parts)
        if fixed is not None:
            rule, time, priority, output, source, hostname, tags, output_fields = cast(
                "tuple[str, str, str, str, str | None, str | None, tuple[str, ...], "
                "dict[str, object]]",
                fixed,
            )
            warnings.append("lone UTF-16 surrogate escapes replaced by U+FFFD")

    # Positional: keyword arguments cost a microsecond per alert on the hot path.
    return FalcoAlert(
        time,
        time_ns,
        rule,
        priority,
        source,
        hostname,
        tags,
        output,
        output_fields,
        "json",
        tuple(warnings),
        log_time,
        log_prefix,
        bytes(raw) if warnings else None,
    )


def _missing_or_wrong(key: str, value: object, doc: dict[str, object]) -> str:
    if key not in doc:
        if key == "rule":
            return "not a Falco alert: JSON object without a 'rule' key"
        return f"no {key!r} key"
    return f"{key} is not a string (got {json_type(value)})"


def _output_fields(value: object, present: bool, warnings: list[str]) -> dict[str, object]:
    if type(value) is dict:
        # Falco writes strings, integers and nulls: look closer only at anything else.
        if not _CHECKED_TYPES.isdisjoint(map(type, value.values())):
            problem = _field_problem(list(value.values()))
            if problem is not None:
                raise JsonRejected(f"output_fields {problem}")
        return value
    if present:
        warnings.append(f"output_fields is not an object (got {json_type(value)}): ignored")
    return {}


def _field_problem(values: list[object]) -> str | None:
    """What makes these values unfit for the record, walking without recursion.

    Nesting beyond MAX_FIELD_DEPTH, and NaN or Infinity (json.loads reads them,
    and 1e999 overflows to Infinity, but no JSON document can carry them).
    """
    stack: list[tuple[object, int]] = [(item, 1) for item in values]
    while stack:
        item, depth = stack.pop()
        if type(item) is float:
            if not math.isfinite(item):
                return "holds NaN or Infinity, which JSON cannot carry"
        elif depth > MAX_FIELD_DEPTH:
            return f"nested more than {MAX_FIELD_DEPTH} levels deep"
        elif type(item) is dict:
            stack.extend((child, depth + 1) for child in item.values())
        elif type(item) is list:
            stack.extend((child, depth + 1) for child in item)
    return None


def _tags(value: object, present: bool, warnings: list[str]) -> tuple[str, ...]:
    if type(value) is list:
        tags = tuple(value)
        if _JUST_STRINGS.issuperset(map(type, tags)):
            return tags
        warnings.append("tags holds values that are not strings: written as JSON")
        return tuple(tag if type(tag) is str else _as_json_text(tag) for tag in tags)
    if not present:
        return ()
    warnings.append(f"tags is not an array (got {json_type(value)}): coerced")
    if value is None:
        return ()
    if type(value) is str:
        return (value,)
    return (_as_json_text(value),)


def _optional_string(value: object, key: str, warnings: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    warnings.append(f"{key} is not a string (got {json_type(value)}): written as JSON")
    return _as_json_text(value)


def _as_json_text(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (ValueError, RecursionError):
        return repr(type(value).__name__)


def _output_without_output_property(
    message: object, rule: str, output_fields: dict[str, object], warnings: list[str]
) -> str:
    """json_include_output_property: false leaves no `output`; say what the alert was."""
    if type(message) is str:
        warnings.append("no 'output' property: using 'message'")
        return message
    warnings.append("no 'output' property: output rebuilt from the rule and output_fields")
    pairs = " ".join(f"{key}={_as_text_value(value)}" for key, value in output_fields.items())
    return f"{rule} | {pairs}" if pairs else rule


def _as_text_value(value: object) -> str:
    if value is None:
        return "<NA>"
    if type(value) is str:
        return value
    return _as_json_text(value)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _fix_text(text: str) -> str:
    return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)


def _replace_surrogates(value: object) -> object | None:
    """A copy of `value` with lone surrogates replaced, or None when there were none."""
    changed = False

    def walk(item: object) -> object:
        nonlocal changed
        if type(item) is str:
            if _has_surrogate(item):
                changed = True
                return _fix_text(item)
            return item
        if type(item) is dict:
            return {walk(key): walk(child) for key, child in item.items()}
        if type(item) is list:
            return [walk(child) for child in item]
        if type(item) is tuple:
            return tuple(walk(child) for child in item)
        return item

    result = walk(value)
    return result if changed else None
