"""Query options every write takes: dryRun and fieldValidation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import status
from .validation import FIELD_VALIDATION_VALUES

INT64_MAX = 2**63 - 1


def dry_run(query: Any, options_kind: str, body_values: Any = None) -> bool:
    """True for dryRun=All (query or DeleteOptions body); 422 for any other value."""
    values = [v for v in query.getall("dryRun", []) if v != ""]
    if isinstance(body_values, list):
        values += [str(v) for v in body_values]
    for value in values:
        if value != "All":
            raise status.invalid_option(options_kind, "dryRun", value, "All")
    return bool(values)


def field_validation(query: Mapping[str, str]) -> str:
    """Strict, Warn (the default) or Ignore; 400 for anything else."""
    value = query.get("fieldValidation") or "Warn"
    if value not in FIELD_VALIDATION_VALUES:
        raise status.bad_request(f'invalid fieldValidation value "{value}": must be one of '
                                 "Ignore, Warn, or Strict")
    return value


def is_true(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def non_negative_int(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise status.bad_request(f'invalid {name} "{text}": must be an integer') from None
    if value < 0:
        raise status.error(422, "Invalid", f"{name}: Invalid value: {value}: must be greater "
                                           "than or equal to 0")
    if value > INT64_MAX:  # the API server parses these as Go int64 (strconv: out of range)
        raise status.bad_request(f'invalid {name} "{text}": value out of range')
    return value
