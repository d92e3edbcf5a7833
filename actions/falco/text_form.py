"""Falco's text output (json_output: false) and the other text that shares its stream.

Shapes (falcosecurity/falco userspace/falco/falco_outputs.cpp, formats.cpp):
- rules 4+:     `09:12:01.004518233: Notice Unexpected connection ... | connection=... k=v`
- rules 1.x-3.x: `09:12:01.004518233: Warning Sensitive file opened ... (user=root k=v)`
- ISO 8601 time: `2025-03-14T09:12:01.004518233+0000: Notice ...`
- internal:     `09:12:01.004518233: Debug Falco internal: syscall event drop. ... (k="v")`
Text values are neither quoted nor escaped, so k=v pairs are split best effort.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import re

from actions.falco.alert import FalcoAlert, canonical_priority
from actions.falco.times import NotATime, clock_to_ns, rfc3339_to_ns

_ALERT_PREFIX = re.compile(
    r"(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+"
    r"|[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})): "
    r"(?P<priority>[A-Za-z]+) (?P<rest>.*)",
    re.ASCII | re.DOTALL,
)
# A key as rule authors write them: `connection=`, `fd.sip=`, `proc.aname[2]=`, `k8s_ns_name=`.
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_.\[\]-]*)=", re.ASCII)
_FIELDS_IN_PARENS = re.compile(r" \((?=[A-Za-z_][A-Za-z0-9_.\[\]-]*=)", re.ASCII)

_INTERNAL_PREFIX = "Falco internal: "
_NOT_AVAILABLE = "<NA>"
RULE_INFERRED = "text form: rule name inferred from the message"
MAX_TEXT_FIELDS = 512
_EPOCH = datetime.date(1970, 1, 1)
_NS_PER_DAY = 86_400 * 1_000_000_000


class TextRejected(ValueError):
    """The line has the shape of a text alert but cannot be one (its time is not a time)."""


def looks_like_text_alert(text: str) -> re.Match[str] | None:
    """The match of Falco's `<time>: <Priority> ` prefix, or None."""
    return _ALERT_PREFIX.match(text)


def alert_from_text(
    match: re.Match[str],
    *,
    reference_date: datetime.date | None,
    log_time_ns: int | None,
    warnings: list[str],
    raw: bytes,
    log_time: str | None = None,
    log_prefix: str | None = None,
) -> FalcoAlert:
    """Build the alert from a matched text line; raises TextRejected for an impossible time.

    The raw line is kept on the alert only when decoding it lost something
    (`lossy`): otherwise the output is the line itself.
    """
    lossy = bool(warnings)
    raw_time, priority, rest = match.group("time", "priority", "rest")
    rest = rest.rstrip()
    time_ns = _text_time_ns(raw_time, reference_date, log_time_ns, warnings)
    message, fields_text, in_parens = _split_message(rest)
    if canonical_priority(priority) is None:
        if not fields_text:
            # A time and a word are too little to call a line an alert: Falco's
            # own alerts always carry k=v fields after " | " or " (".
            raise TextRejected("not a Falco alert: unknown priority and no fields")
        warnings.append(f"unknown priority {ascii(priority)}")
    internal = message.startswith(_INTERNAL_PREFIX)
    output_fields = _parse_fields(fields_text, in_parens=in_parens, json_values=internal)
    warnings.append(RULE_INFERRED)
    return FalcoAlert(
        time=raw_time,
        time_ns=time_ns,
        rule=_infer_rule(message, internal),
        priority=priority,
        source="internal" if internal else None,
        hostname=None,
        tags=(),
        output=f"{raw_time}: {priority} {rest}",
        output_fields=output_fields,
        form="text",
        warnings=tuple(warnings),
        log_time=log_time,
        log_prefix=log_prefix,
        raw=bytes(raw) if lossy else None,
    )


def _text_time_ns(
    raw_time: str,
    reference_date: datetime.date | None,
    log_time_ns: int | None,
    warnings: list[str],
) -> int | None:
    try:
        if "T" in raw_time:
            return rfc3339_to_ns(raw_time, warnings)
        if reference_date is not None:
            return clock_to_ns(raw_time, reference_date, warnings)
        if log_time_ns is not None:
            near = _clock_near(raw_time, log_time_ns, warnings)
            if near is not None:
                return near
        today = datetime.datetime.now(datetime.UTC).date()
        warnings.append("text form: no date in the line, assumed today (UTC)")
        return clock_to_ns(raw_time, today, warnings)
    except NotATime as error:
        raise TextRejected(str(error)) from None


def _clock_near(raw_time: str, log_time_ns: int, warnings: list[str]) -> int | None:
    """The clock time on the date of the kubectl timestamp, the day before if that is closer.

    kubectl stamps a line when the kubelet reads it, just after Falco wrote it,
    so an alert at 23:59:59.9 may be stamped 00:00:00.1 on the next day.
    None when that date is at the edge of what datetime can hold.
    """
    try:
        day = _EPOCH + datetime.timedelta(days=log_time_ns // _NS_PER_DAY)
        candidate = clock_to_ns(raw_time, day, warnings)
        if candidate - log_time_ns > _NS_PER_DAY // 2:
            candidate = clock_to_ns(raw_time, day - datetime.timedelta(days=1), warnings)
    except OverflowError:
        return None
    warnings.append("text form: date taken from the kubectl timestamp")
    return candidate


def _split_message(rest: str) -> tuple[str, str, bool]:
    """(message, fields text, fields opened by a parenthesis).

    Whichever separator comes first wins: a value after it (a command line)
    may itself contain ` | ` or ` (k=v`.
    """
    pipe = rest.find(" | ")
    paren = _FIELDS_IN_PARENS.search(rest, 0, pipe if pipe != -1 else len(rest))
    if paren is not None:
        return rest[: paren.start()], rest[paren.end() :], True
    if pipe != -1:
        return rest[:pipe], rest[pipe + 3 :], False
    return rest, "", False


def _infer_rule(message: str, internal: bool) -> str:
    """The rule name as far as the text tells it: the message, or the internal rule's name."""
    if internal:
        # "Falco internal: syscall event drop. 132 system calls dropped ..." is the
        # rule "Falco internal: syscall event drop" followed by a sentence.
        sentence_end = message.find(". ")
        if sentence_end != -1:
            return message[:sentence_end]
        return message.removesuffix(".")
    return message


def _parse_fields(text: str, *, in_parens: bool, json_values: bool) -> dict[str, object]:
    """Best-effort k=v pairs; a value runs until the next ` key=`; `<NA>` becomes None.

    At most MAX_TEXT_FIELDS pairs: the rest stays readable in the output only,
    so that a hostile line of "a=a=a=..." costs no more memory than its text.
    """
    fields: dict[str, object] = {}
    paren_open = in_parens
    previous: re.Match[str] | None = None
    for key_match in itertools.chain(_KEY.finditer(text), (None,)):
        if previous is not None:
            end = key_match.start() if key_match is not None else len(text)
            value = text[previous.end() : end].rstrip()
            if paren_open:
                closed = _cut_at_closing_paren(value)
                if closed is not None:
                    value, paren_open = closed, False
            key = previous.group(1)
            if key not in fields:
                fields[key] = _field_value(value, json_values)
                if len(fields) >= MAX_TEXT_FIELDS:
                    break
        previous = key_match
    return fields


def _cut_at_closing_paren(value: str) -> str | None:
    """The value up to the `)` that closes the fields' opening `(`, or None if none closes it."""
    if ")" not in value:
        return None
    depth = 0
    for position, char in enumerate(value):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return value[:position]
    return None


def _field_value(value: str, json_values: bool) -> object:
    if value == _NOT_AVAILABLE:
        return None
    if json_values:
        # Internal events write each value with nlohmann's dump(): "132", 1, true.
        try:
            decoded: object = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(decoded, str):
            try:
                decoded.encode("utf-8")
            except UnicodeEncodeError:
                return value  # a lone surrogate escape: keep the text as written
            return decoded
        if isinstance(decoded, int | bool) or decoded is None:
            return decoded
        if isinstance(decoded, float) and math.isfinite(decoded):
            return decoded
    return value


_CTIME_LOG = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}: ",
    re.ASCII,
)
_ISO_LOG = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}: ", re.ASCII
)
_STATS_LINE = re.compile(
    r"(?:Events detected: [0-9]+|Rule counts by severity:|Triggered rules by rule name:"
    r"|Syscall event drop monitoring:|\s+- .*: [0-9]+ occurrences|\s+- num times actions taken: .*"
    r"|\s+[A-Z]+: [0-9]+|\s+.+: [0-9]+)\s*",
    re.ASCII | re.DOTALL,
)


def reason_for_text(text: str) -> str:
    """Why a line that is neither JSON nor a text alert is not a Falco alert."""
    if text.startswith("error: "):
        return "not a Falco alert: kubectl error line"
    if _CTIME_LOG.match(text) or _ISO_LOG.match(text):
        return "not a Falco alert: Falco log line"
    if _STATS_LINE.fullmatch(text):
        return "not a Falco alert: Falco statistics line"
    return "not a Falco alert: unrecognised text"
