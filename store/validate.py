"""What a value in the record may be: the rules every writer of warroom keeps.

The live path writes only through `store` (incidents.py checks enums, times are
`iso()` of aware datetimes, JSON columns are `json.dumps` of objects). An
imported file was written by someone else, so its rows are held to the same
rules here before one of them enters the record, and `verify` holds each
incident's replayed state to them too: a value no writer produces would end in a
traceback in every reader (`incidents`, `metrics`, `report`) instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from store.alert_links import LINK_BASES
from store.models import DECISIONS, PHASES, SEVERITIES, STATUSES
from store.schema import INCIDENT_FIELDS, REASON_KEY

INCIDENT_ID = re.compile(r"NSI-([0-9]{4})-([0-9]{2})-([0-9]{2})-([0-9]{3,6})", re.ASCII)
# Every time the record holds is compared, subtracted and moved by deadlines of
# days: years far from today (year 9999 plus 72 h overflows) are refused.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_MAX_JSON_DEPTH = 64

Check = Callable[[Any], str | None]


def incident_id_problem(value: Any) -> str | None:
    """Why `value` is not an incident ID `NSI-YYYY-MM-DD-NNN`, or None."""
    if type(value) is not str:
        return f"incident ID {_shown(value)} is not text"
    match = INCIDENT_ID.fullmatch(value)
    if match is None:
        return f"incident ID {_shown(value)} is not NSI-YYYY-MM-DD-NNN"
    year, month, day = (int(part) for part in match.groups()[:3])
    try:
        datetime(year, month, day)  # noqa: DTZ001 - only the date's existence is checked
    except ValueError:
        return f"incident ID {_shown(value)} names a date that does not exist"
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return f"incident ID {_shown(value)} is dated outside {EARLIEST_YEAR}-{LATEST_YEAR}"
    return None


def time_problem(value: Any) -> str | None:
    """Why `value` is not an ISO 8601 time with an offset, within the years allowed."""
    if type(value) is not str:
        return f"{_shown(value)} is not a time (not text)"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"{_shown(value)} is not an ISO 8601 time"
    if moment.tzinfo is None:
        return f"{_shown(value)} has no UTC offset"
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        return f"{_shown(value)} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}"
    return None


def _text(value: Any) -> str | None:
    return None if type(value) is str else f"{_shown(value)} is not text"


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        if value in choices and type(value) is str:
            return None
        return f"{_shown(value)} is not one of {', '.join(choices)}"

    return check


def _integer(value: Any) -> str | None:
    return None if type(value) is int else f"{_shown(value)} is not an integer"


def _flag(value: Any) -> str | None:
    return None if type(value) is int and value in (0, 1) else f"{_shown(value)} is not 0 or 1"


def _hex64(value: Any) -> str | None:
    ok = type(value) is str and _HEX64.fullmatch(value)
    return None if ok else f"{_shown(value)} is not a SHA-256 in hex"


def _json_of(kind: type) -> Check:
    def check(value: Any) -> str | None:
        if type(value) is not str:
            return f"{_shown(value)} is not JSON text"
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return f"{_shown(value)} is not JSON"
        if type(decoded) is not kind:
            return f"{_shown(value)} is not a JSON {'object' if kind is dict else 'array'}"
        if _too_deep(decoded):
            return f"{_shown(value)} is nested more than {_MAX_JSON_DEPTH} levels deep"
        return None

    return check


def _too_deep(value: Any) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_JSON_DEPTH:
            return True
        if type(item) is dict:
            stack.extend((child, depth + 1) for child in item.values())
        elif type(item) is list:
            stack.extend((child, depth + 1) for child in item)
    return False


def _blob(value: Any) -> str | None:
    return None if type(value) is bytes else f"{_shown(value)} is not bytes"


_TIME = time_problem
_ID = _optional(incident_id_problem)
_OPT_TEXT = _optional(_text)
_OPT_OBJECT = _optional(_json_of(dict))

# Per chained table, each content column's rule (a column not named may be NULL or text).
COLUMN_RULES: dict[str, dict[str, Check]] = {
    "alerts": {
        "incident_id": _ID, "dedupe_key": _text, "time": _text,
        "time_ns": _optional(_integer), "rule": _text, "priority": _text,
        "output": _text, "severity": _optional(_one_of(SEVERITIES)),
        "tags": _optional(_json_of(list)), "output_fields": _OPT_OBJECT,
        "received_at": _optional(_TIME), "warnings": _optional(_json_of(list)),
    },
    "rejected_inputs": {
        "received_at": _TIME, "line_no": _optional(_integer), "reason": _text, "raw": _blob,
        "raw_size": _integer, "raw_sha256": _hex64,
    },
    "timeline": {
        "incident_id": _ID, "at": _TIME, "kind": _text, "summary": _OPT_TEXT, "data": _OPT_OBJECT,
    },
    "actions": {
        "incident_id": _ID, "action_id": _text, "entry": _one_of(("intent", "outcome")),
        "action": _text, "params": _OPT_OBJECT, "status": _text, "at": _TIME,
        "data": _OPT_OBJECT,
    },
    "evidence": {
        "incident_id": _ID, "name": _text, "content": _blob, "sha256": _hex64, "size": _integer,
        "at": _TIME,
    },
    "checklist": {
        "incident_id": _ID, "phase": _one_of(PHASES), "item": _text, "checked": _flag,
        "at": _TIME,
    },
    "decisions": {
        "incident_id": _ID, "decision": _one_of(DECISIONS), "at": _TIME, "data": _OPT_OBJECT,
    },
    "alert_links": {
        "incident_id": _ID, "alert_seq": _integer, "basis": _one_of(LINK_BASES),
        "actor": _OPT_TEXT, "at": _TIME,
    },
    "outbox": {
        "incident_id": _ID, "channel": _text, "event": _text, "dedup_key": _text,
        "payload": _json_of(dict), "created_at": _TIME,
    },
}  # fmt: skip

INCIDENT_RULES: dict[str, Check] = {
    "title": _text,
    "severity": _one_of(SEVERITIES),
    "status": _one_of(STATUSES),
    "phase": _one_of(PHASES),
    "opened_at": _TIME,
    "detected_at": _optional(_TIME),
    "acknowledged_at": _optional(_TIME),
    "contained_at": _optional(_TIME),
    "recovered_at": _optional(_TIME),
    "closed_at": _optional(_TIME),
    "drill": _optional(_flag),
    "false_positive": _optional(_flag),
    "data_breach": _optional(_flag),
    "category": _OPT_TEXT,
    "commander": _OPT_TEXT,
    "cluster_context": _OPT_TEXT,
    "namespace": _OPT_TEXT,
    "resolution": _OPT_TEXT,
}


def row_problem(table: str, content: Mapping[str, Any]) -> str | None:
    """The first value of a chained row that no warroom writes, said in words; None if none."""
    for column, check in COLUMN_RULES[table].items():
        problem = check(content.get(column))
        if problem is not None:
            return f"{column} {problem}"
    if table == "timeline" and content.get("kind") in INCIDENT_EVENTS:
        problem = incident_event_problem(content.get("data"))
        if problem is not None:
            return f"{content['kind']} {problem}"
    return None


INCIDENT_EVENTS = ("incident.opened", "incident.updated")


def incident_event_problem(data: Any) -> str | None:
    """What is wrong with the fields an `incident.opened`/`incident.updated` entry sets."""
    try:
        fields = json.loads(data) if isinstance(data, str) else None
    except (ValueError, RecursionError):
        fields = None
    if not isinstance(fields, dict):
        return "its data is not a JSON object of incident fields"
    for field_name, value in fields.items():
        if field_name == REASON_KEY:  # why the change was made, beside what changed
            problem = _text(value)
            if problem is not None:
                return f"{field_name} {problem}"
            continue
        if field_name not in INCIDENT_FIELDS or field_name == "id":
            return f"unknown incident field {_shown(field_name)}"
        check = INCIDENT_RULES.get(field_name)
        problem = check(value) if check is not None else None
        if problem is not None:
            return f"{field_name} {problem}"
    return None


def incident_problem(incident_id: Any, state: Mapping[str, Any]) -> str | None:
    """What is wrong with an incident as its chained entries describe it; None if nothing."""
    problem = incident_id_problem(incident_id)
    if problem is not None:
        return problem
    for field_name, check in INCIDENT_RULES.items():
        problem = check(state.get(field_name))
        if problem is not None:
            return f"{field_name} {problem}"
    unknown = sorted(set(state) - set(INCIDENT_FIELDS))
    if unknown:
        return f"unknown incident field {_shown(unknown[0])}"
    return None


def _shown(value: Any) -> str:
    """A short, printable rendering of a hostile value for a message."""
    text = ascii(value)
    return text if len(text) <= 60 else text[:57] + "..."
