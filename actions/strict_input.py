"""Strict checks on a parsed TOML or YAML document: types, choices, bounds, unknown keys.

The configuration file (`actions/config.py`, TOML: it stops at the first problem)
and drill scenarios (`actions/drill/scenario.py`, YAML: it collects every problem
with its line) both check values here, so the same mistake reads the same in
both: what was expected, then what was found. Each check returns the problem as
text, or None when the value is good; the caller says where (`file: key:` or
`path (line N):`) and whether to stop.

A found value is named by its kind ("text", "a number"), never echoed, except a
refused choice (a short word the user typed): a value in the wrong place may be
a secret.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# TOML calls a mapping a table; YAML a mapping. The caller passes its word.
TABLE = "a table"
MAPPING = "a mapping"


def type_name(value: Any, *, mapping: str = MAPPING) -> str:
    """The kind of a parsed value, in the words of the messages: "text", "a number", ..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):  # before int: True is an int to Python
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return mapping
    return type(value).__name__


def choice_problem(value: str, choices: Iterable[str]) -> str | None:
    allowed = tuple(choices)
    if allowed and value not in allowed:
        return f"{value!r} is not one of {', '.join(allowed)}"
    return None


def text_problem(
    value: Any, *, choices: Iterable[str] = (), non_empty: bool = False, mapping: str = MAPPING
) -> str | None:
    wanted = "non-empty text" if non_empty else "text"
    if not isinstance(value, str):
        return f"expected {wanted}, got {type_name(value, mapping=mapping)}"
    if non_empty and not value.strip():
        return f"expected {wanted}, got {'an empty text' if not value else 'only spaces'}"
    return choice_problem(value, choices)


def number_problem(
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    integer: bool = False,
    mapping: str = MAPPING,
) -> str | None:
    """A finite number (a whole one if `integer`), at least `minimum`, at most `maximum`,
    above 0 if `positive`. TOML and YAML both read `inf` and `nan` (and 1e309 overflows to
    inf): never a count, a port or a wait."""
    wrong_kind = not isinstance(value, int) if integer else not isinstance(value, int | float)
    if isinstance(value, bool) or wrong_kind:
        wanted = "a whole number" if integer else "a number"
        return f"expected {wanted}, got {type_name(value, mapping=mapping)}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value}"
    if positive and value <= 0:
        return f"must be greater than 0, got {value}"
    if minimum is not None and value < minimum:
        return f"must be at least {minimum:g}, got {value:g}"
    if maximum is not None and value > maximum:
        return f"must be at most {maximum:g}, got {value:g}"
    return None


# Kubernetes names (k8s.io/apimachinery/pkg/util/validation): a namespace is an RFC 1123
# label (IsDNS1123Label), a Service an RFC 1035 label (IsDNS1035Label); both at most 63.
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
NAME_RULES = {
    "namespace": (DNS1123_LABEL, "an RFC 1123 label: lower-case letters, digits and '-', "
                                 "starting and ending with a letter or digit"),
    "service": (DNS1035_LABEL, "an RFC 1035 label: lower-case letters, digits and '-', "
                               "starting with a letter and ending with a letter or digit"),
}


def name_problem(value: Any, kind: str, *, mapping: str = MAPPING) -> str | None:
    """A Kubernetes `kind` name ("namespace", "service") as the API server would accept it.

    The refused name is echoed (shortened, quoted): a name is a short word the user
    typed, and the message must show what is wrong with it."""
    if problem := text_problem(value, non_empty=True, mapping=mapping):
        return problem
    pattern, rule = NAME_RULES[kind]
    if len(value) > 63 or not pattern.fullmatch(value):
        found = repr(value[:63] + ("..." if len(value) > 63 else ""))
        return f"a {kind} name is {rule}, at most 63 characters; got {found}"
    return None


def flag_problem(value: Any, *, mapping: str = MAPPING) -> str | None:
    if not isinstance(value, bool):
        return f"expected true or false, got {type_name(value, mapping=mapping)}"
    return None


def unknown_keys(mapping: Mapping[Any, Any], known: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(key, problem) for each key not in `known`, suggesting the closest known one."""
    names = sorted(known)
    for key in mapping:
        name = str(key)
        if name in names:
            continue
        hint = difflib.get_close_matches(name, names, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        yield name, f"unknown key{suggestion}; known keys here: {', '.join(names)}"
