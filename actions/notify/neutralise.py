"""Hostile text made inert for each channel.

Alert fields, pod names and incident titles come from an attacker as often as
not. Each channel has its own control syntax: Slack mrkdwn parses `<!channel>`,
`<@U123>` and `<url|label>`; an e-mail header ends at CR/LF; a syslog SD-PARAM
value ends at `"`. Each function here makes text plain data for one of them.
"""

from __future__ import annotations

import re

from store.safe_text import MARKER, replace_unsafe

_LINE_BREAKS = re.compile("\r\n|[\r\n\t\u2028\u2029\x85]")
_SLACK_MARKUP = str.maketrans({"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"})
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
ELLIPSIS = "\u2026"


def without_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Unsafe characters (`store.safe_text`: controls, bidi and invisible characters)
    replaced by a visible marker; line breaks kept or made spaces."""
    text = str(text)
    if keep_newlines:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    else:
        text = _LINE_BREAKS.sub(" ", text)
    return replace_unsafe(text, MARKER, multiline=keep_newlines)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """A single line of plain text: controls and line breaks gone, at most `limit` long."""
    return truncate(" ".join(without_controls(text).split()), limit)


def slack_mrkdwn(text: str, limit: int = 3000, *, multiline: bool = False) -> str:
    """Text shown literally in a Slack mrkdwn field.

    `&`, `<`, `>` become entities (Slack's documented escapes), which defuses
    `<!channel>`, `<@U123>` and `<http://x|y>`; the mrkdwn markers `* _ ~ \\``
    become their full-width look-alikes, since mrkdwn has no escape for them.
    The limit counts the escaped text, and an entity is never cut in half.
    """
    clean = without_controls(text, keep_newlines=multiline).translate(_SLACK_MARKUP)
    pieces = [_SLACK_ESCAPES.get(char, char) for char in clean]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    out: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + ELLIPSIS


def slack_plain(text: str, limit: int) -> str:
    """Text for a Slack `plain_text` object (a header): one line, no angle-bracket tokens."""
    return one_line(text, limit).replace("<", "\u2039").replace(">", "\u203a")


def email_header(text: str, limit: int = 200) -> str:
    """A header value that cannot start a new header: no CR, LF or other controls."""
    return one_line(text, limit)


def email_body(text: str) -> str:
    return without_controls(text, keep_newlines=True)


def pagerduty_text(text: str, limit: int = 1024) -> str:
    """PagerDuty's summary: one line of at most 1024 characters."""
    return one_line(text, limit)


def syslog_sd_value(text: str) -> str:
    """An RFC 5424 PARAM-VALUE: `"`, `\\` and `]` escaped with a backslash, controls gone."""
    clean = one_line(text, 1024)
    return clean.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_token(text: str, limit: int) -> str:
    """An RFC 5424 header field (HOSTNAME, APP-NAME, MSGID): printable US-ASCII, no spaces."""
    token = "".join(c if 33 <= ord(c) <= 126 else "_" for c in str(text))[:limit]
    return token or "-"


def syslog_sd_name(text: str) -> str:
    """An RFC 5424 SD-NAME (SD-ID or PARAM-NAME): printable US-ASCII but `= ] "`, 32 at most."""
    return syslog_token("".join("_" if c in '="]' else c for c in str(text)), 32)
