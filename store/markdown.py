"""Escaping untrusted text for markdown: the one function every report value goes through.

Alert fields, pod names, DNS names, notes and the free text written in the
console are data. Whatever they contain must come out as the same visible
characters and never as markdown structure: no heading, list, quote, table
cell boundary, link, image, HTML tag, code span or emphasis, and no control
byte that would drive the terminal of whoever `cat`s the report.

The approach: backslash-escape every ASCII punctuation character that can
start or end markdown structure (CommonMark lets any ASCII punctuation be
escaped, GFM honours `\\|` inside table cells), replace control and bidi
characters with visible markers, and fold line breaks so a value stays on
its line (a table row, a list item, a `**Field**:` line).
"""

from __future__ import annotations

import re

# Punctuation that can open or close markdown structure anywhere in a line:
# code spans, emphasis, strikethrough, links/images, HTML and autolinks,
# entities, table cells, and the backslash itself.
_INLINE_SPECIAL = re.compile(r"([\\`*_~\[\]<>|&!])")

# What is structure only at the start of a line: headings, block quotes,
# list markers, thematic breaks and setext underlines, ordered lists.
_LINE_START = re.compile(r"^(\s*)([#>+=\-])")
_ORDERED_LIST = re.compile(r"^(\s*\d{1,9})([.)])(?=\s|$)")

# C0 controls except none: newlines are folded before this runs. DEL, C1,
# bidi overrides/isolates (they reorder what a reader sees), lone surrogates
# (they cannot be written as UTF-8) and the line/paragraph separators.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NEWLINES = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
LINE_BREAK_MARK = " \u21b5 "  # "↵": where a single-line value had a line break
# Anything `escape` would change; most values (IDs, times, plain words) have
# none, and the report escapes tens of thousands of them.
_NEEDS_WORK = re.compile(
    r"[\\`*_~\[\]<>|&!\t\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
    r"|^\s*(?:[#>+=\-]|\d{1,9}[.)])|^\s|\s$"
)


def _marker(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␛ for ESC, ␀ for NUL
    if code == 0x7F:
        return "\u2421"  # ␡
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"\u27e8U+{code:04X}\u27e9"  # ⟨U+009B⟩


def _escape_line(line: str) -> str:
    line = _INLINE_SPECIAL.sub(r"\\\1", line)
    line = _CONTROL.sub(_marker, line)
    # Only after inline escaping: a leading "\#" is already harmless, but "#",
    # ">", "-", "+", "=" and "1." are not, so they get their own backslash.
    line = _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", line, count=1)
    line = _ORDERED_LIST.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", line, count=1)
    # Leading spaces would make an indented code block or nest a list item.
    return line.lstrip(" \t")


def escape(text: object, *, multiline: bool = False, limit: int | None = None) -> str:
    """Markdown-safe text showing exactly the characters of `text`.

    Single-line (the default) folds every line break into a visible "↵" so
    the value stays inside its table cell, list item or field line. With
    `multiline`, lines are kept as hard breaks ("  \\n") and blank lines as
    paragraph breaks, each line escaped as if it started a block. `limit`
    cuts text longer than that many characters and says how much was cut.
    None becomes the empty string; anything else is shown through `str()`.
    """
    if text is None:
        return ""
    value = str(text)
    cut = 0
    if limit is not None and len(value) > limit:
        cut = len(value) - limit
        value = value[:limit]
    tail = f" \u2026 ({cut} more characters)" if cut else ""
    if not _NEEDS_WORK.search(value):
        return value + tail
    if not multiline:
        value = _NEWLINES.sub(LINE_BREAK_MARK, value).replace("\t", " ")
        return _escape_line(value.strip()) + tail
    paragraphs: list[list[str]] = [[]]
    for raw_line in _NEWLINES.split(value.replace("\t", "    ")):
        line = raw_line.strip()
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        paragraphs[-1].append(_escape_line(line))
    text_out = "\n\n".join("  \n".join(lines) for lines in paragraphs if lines)
    return text_out + tail


def code(text: object, *, in_table: bool = False) -> str:
    """A value shown as inline code (hashes, IDs, commands) that stays a single code span.

    Backticks inside are replaced with a look-alike so the span cannot be
    closed early; controls are marked as in `escape`; inside a table cell
    pipes are escaped (GFM splits cells before it reads code spans).
    """
    value = "" if text is None else str(text)
    value = _NEWLINES.sub(LINE_BREAK_MARK, value).replace("`", "\u02cb")
    value = _CONTROL.sub(_marker, value)
    if in_table:
        value = value.replace("|", "\\|")
    return f"`{value}`" if value.strip() else ""
