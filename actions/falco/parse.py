"""One line of a Falco stream in, one FalcoAlert or RejectedLine out; nothing raises.

The stream is what `kubectl logs` of a Falco pod gives: JSON alerts or text
alerts, Falco's own log and statistics lines, kubectl's `error:` lines, and
optionally kubectl's `[pod/NAME/CONTAINER] ` and RFC 3339 timestamp prefixes.
"""

from __future__ import annotations

import datetime
import json

from actions.falco.alert import PRIORITIES, FalcoAlert, RejectedLine
from actions.falco.fast_json import loads_exact
from actions.falco.json_form import JsonRejected, alert_from_json, decode_error_reason, json_type
from actions.falco.lines import MAX_LINE_BYTES, OverlongLine, iter_lines
from actions.falco.text_form import (
    TextRejected,
    alert_from_text,
    looks_like_text_alert,
    reason_for_text,
)
from actions.falco.times import NotATime, fast_rfc3339_to_ns, rfc3339_to_ns

__all__ = ["MAX_LINE_BYTES", "PRIORITIES", "iter_lines", "parse_line", "split_kubectl_prefixes"]

INTERNAL_ERROR = "internal parser error"
"""Start of the reason given if the parser itself failed; the fuzz test proves it never does."""

# A byte order mark (a file saved by an editor) counts as padding too.
_WHITESPACE_AND_NUL = " \t\r\n\x00\x0b\x0c\ufeff"
_JSON_SCALAR_STARTS = frozenset('"-0123456789tfn')
_SALVAGE_ATTEMPTS = 8


def parse_line(
    raw: bytes, *, reference_date: datetime.date | None = None
) -> FalcoAlert | RejectedLine | None:
    """Parse one line (without its newline) of Falco output.

    Returns None only for an empty or whitespace-only line. `reference_date`
    dates text-form times that carry none (`HH:MM:SS.nnnnnnnnn`); without it the
    date of a kubectl timestamp prefix is used, else today in UTC, with a warning.
    """
    try:
        return _parse(raw, reference_date)
    except Exception as error:  # noqa: BLE001 - a hostile line must never stop an ingest
        return RejectedLine(
            raw=bytes(raw), reason=f"{INTERNAL_ERROR}: {type(error).__name__}: {error}"[:300]
        )


def _parse(raw: bytes, reference_date: datetime.date | None) -> FalcoAlert | RejectedLine | None:
    if type(raw) is OverlongLine:
        return RejectedLine(
            raw=bytes(raw),
            reason=(
                f"line too long: {raw.real_length:,} bytes, more than the limit of "
                f"{len(raw):,} (only the first {len(raw):,} bytes kept)"
            ),
        )
    fast = _fast_json_line(raw)
    if fast is not None:
        return fast
    return _parse_general(raw, reference_date)


def _parse_general(
    raw: bytes, reference_date: datetime.date | None
) -> FalcoAlert | RejectedLine | None:
    """Every shape of line, hostile ones included; `_fast_json_line` must agree with it."""
    warnings: list[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Accept the alert anyway: a bad byte in a command line must not hide it.
        text = raw.decode("utf-8", "replace")
        warnings.append("invalid UTF-8 replaced by U+FFFD")

    if text[:1] == "{":
        # The hot path: a JSON alert as Falco writes it, no regex, one json.loads.
        return _from_json_text(raw, text, warnings, None, None)

    stripped = text.strip(_WHITESPACE_AND_NUL)
    if not stripped:
        if "\x00" in text:
            return RejectedLine(raw=bytes(raw), reason="line holds only NUL bytes")
        return None
    log_prefix, log_time, unstripped_body = split_kubectl_prefixes(stripped)
    body = unstripped_body.lstrip(_WHITESPACE_AND_NUL)
    if not body:
        return RejectedLine(
            raw=bytes(raw), reason="kubectl prefix without a line", log_time=log_time
        )
    if text[:1] == "\x00" or text[-1:] == "\x00":
        warnings.append("NUL bytes around the line removed")

    if body[0] == "{":
        return _from_json_text(raw, body, warnings, log_time, log_prefix)
    if body[0] == "[":
        try:
            doc = _loads(body)
        except json.JSONDecodeError:
            pass  # text that starts with a bracket: judged as text below
        except JsonRejected as error:
            return RejectedLine(raw=bytes(raw), reason=str(error), log_time=log_time)
        else:
            return _json_alert(raw, doc, body, warnings, log_time, log_prefix)

    match = looks_like_text_alert(body)
    if match is not None:
        log_time_ns = _log_time_ns(log_time)
        try:
            return alert_from_text(
                match,
                reference_date=reference_date,
                log_time_ns=log_time_ns,
                warnings=warnings,
                raw=raw,
                log_time=log_time,
                log_prefix=log_prefix,
            )
        except TextRejected as error:
            return RejectedLine(raw=bytes(raw), reason=str(error), log_time=log_time)

    if body[0] in _JSON_SCALAR_STARTS:
        try:
            scalar = json.loads(body)
        except (ValueError, RecursionError):
            pass
        else:
            return RejectedLine(
                raw=bytes(raw),
                reason=f"not a Falco alert: JSON {json_type(scalar)}, not an object",
                log_time=log_time,
            )
    # Statistics lines are told apart by their indentation, so judge the line unstripped.
    if log_prefix is None and log_time is None:
        unstripped_body = text.rstrip(_WHITESPACE_AND_NUL)
    return RejectedLine(raw=bytes(raw), reason=reason_for_text(unstripped_body), log_time=log_time)


def _fast_json_line(raw: bytes) -> FalcoAlert | RejectedLine | None:
    """The hot path: `{...}` or `<kubelet time> {...}` decoded by orjson, else None.

    None hands the line to the general path, which decides exactly as it
    always has; this path answers only where the answer is the same (see
    fast_json: no float, no deep nesting, valid UTF-8, nothing to strip).
    """
    first = raw[:1]
    if first == b"{":
        body, log_time = raw, None
    elif first.isdigit():
        # `2026-11-27T09:00:01.123456789Z {...}`: what split_kubectl_prefixes
        # would find, for the shapes the fast time parser vouches for.
        space = raw.find(b" ", 20, 32)
        if space == -1 or raw[space + 1 : space + 2] != b"{":
            return None
        stamp = raw[:space]
        if not stamp.isascii():
            return None
        log_time = stamp.decode("ascii")
        try:
            if fast_rfc3339_to_ns(log_time) is None:
                return None
        except NotATime:
            return None
        body = raw[space + 1 :]
    else:
        return None
    doc = loads_exact(body)
    if type(doc) is not dict:
        return None  # not decoded, or not an object: the general path says why
    try:
        # No lone surrogate survives orjson, so there is nothing to replace.
        return alert_from_json(doc, [], has_surrogates=False, raw=raw, log_time=log_time)
    except JsonRejected as error:
        return RejectedLine(raw=bytes(raw), reason=str(error), log_time=log_time)


def _json_alert(
    raw: bytes,
    doc: object,
    text: str,
    warnings: list[str],
    log_time: str | None,
    log_prefix: str | None,
) -> FalcoAlert | RejectedLine:
    try:
        return alert_from_json(
            doc,
            warnings,
            # One memchr for a backslash first: most alert lines have no escape at all.
            has_surrogates="\\" in text and ("\\ud" in text or "\\uD" in text),
            raw=raw,
            log_time=log_time,
            log_prefix=log_prefix,
        )
    except JsonRejected as error:
        return RejectedLine(raw=bytes(raw), reason=str(error), log_time=log_time)


def _parse_broken_json(
    raw: bytes,
    text: str,
    warnings: list[str],
    log_time: str | None,
    log_prefix: str | None,
) -> FalcoAlert | RejectedLine:
    """The slow path for JSON that json.loads refused: what can be read honestly, is."""
    cleaned = text.strip(_WHITESPACE_AND_NUL)
    if cleaned != text.strip() and "NUL bytes around the line removed" not in warnings:
        warnings.append("NUL bytes around the line removed")
    try:
        try:
            doc = _loads(cleaned)
        except json.JSONDecodeError:
            # Falco escapes control characters; raw ones (NUL, ESC) inside strings
            # mean the line went through something else, but the alert is still there.
            doc = _loads(cleaned, strict=False)
            warnings.append("raw control characters inside JSON strings accepted")
    except json.JSONDecodeError as error:
        salvaged = _salvage(raw, cleaned, warnings, log_time, log_prefix)
        if salvaged is not None:
            return salvaged
        return RejectedLine(raw=bytes(raw), reason=decode_error_reason(error), log_time=log_time)
    except JsonRejected as error:
        return RejectedLine(raw=bytes(raw), reason=str(error), log_time=log_time)
    return _json_alert(raw, doc, cleaned, warnings, log_time, log_prefix)


def _from_json_text(
    raw: bytes,
    text: str,
    warnings: list[str],
    log_time: str | None,
    log_prefix: str | None,
) -> FalcoAlert | RejectedLine:
    try:
        doc = _loads(text)
    except json.JSONDecodeError:
        return _parse_broken_json(raw, text, warnings, log_time, log_prefix)
    except JsonRejected as error:
        return RejectedLine(raw=bytes(raw), reason=str(error), log_time=log_time)
    return _json_alert(raw, doc, text, warnings, log_time, log_prefix)


def _loads(text: str, *, strict: bool = True) -> object:
    """json.loads, with its other failures turned into reasons; JSONDecodeError passes."""
    try:
        return json.loads(text) if strict else json.loads(text, strict=False)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise JsonRejected("JSON nested too deeply") from None
    except ValueError as error:
        # int() refuses numbers of more than 4300 digits (CVE-2020-10735 limit).
        raise JsonRejected(f"invalid JSON ({str(error).split(':')[0]})") from None


def _salvage(
    raw: bytes,
    text: str,
    warnings: list[str],
    log_time: str | None,
    log_prefix: str | None,
) -> FalcoAlert | None:
    """An alert that follows the cut-off start of another line, as after a crash mid-write.

    A writer killed mid-line leaves no newline, so the next alert is glued to
    the fragment: `{"hostname":"n","outp{"hostname":...}`. Inside a valid JSON
    string a quote is always escaped, so a raw `{"` starts an object.
    """
    start = 0
    for _ in range(_SALVAGE_ATTEMPTS):
        start = text.find('{"', start + 1)
        if start == -1:
            return None
        try:
            doc = json.loads(text[start:], strict=False)
        except (ValueError, RecursionError):
            continue
        if type(doc) is dict and type(doc.get("rule")) is str:
            warnings.append(
                f"{start:,} characters before the alert skipped (the end of a cut-off line?)"
            )
            alert = _json_alert(raw, doc, text[start:], warnings, log_time, log_prefix)
            return alert if isinstance(alert, FalcoAlert) else None
    return None


def split_kubectl_prefixes(line: str) -> tuple[str | None, str | None, str]:
    """(pod prefix, RFC 3339 timestamp, rest) of a `kubectl logs --prefix --timestamps` line.

    `[pod/falco-x2k/falco] 2026-11-27T03:12:01.123456789Z {...}` gives
    ("pod/falco-x2k/falco", "2026-11-27T03:12:01.123456789Z", "{...}"). Either
    prefix may be absent. Falco's own ISO times end in `:` and are left alone.
    """
    log_prefix = None
    if line.startswith("[pod/"):
        end = line.find("] ")
        if end != -1:
            log_prefix = line[1:end]
            line = line[end + 2 :]
    log_time = None
    if len(line) > 20 and line[4] == "-" and line[10] == "T" and line[:4].isdigit():
        space = line.find(" ", 19, 48)
        if space != -1 and line[space - 1] != ":":
            candidate = line[:space]
            try:
                rfc3339_to_ns(candidate, [])
            except NotATime:
                pass
            else:
                log_time = candidate
                line = line[space + 1 :]
    return log_prefix, log_time, line


def _log_time_ns(log_time: str | None) -> int | None:
    if log_time is None:
        return None
    try:
        return rfc3339_to_ns(log_time, [])
    except NotATime:
        return None
