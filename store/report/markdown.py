"""Escaping untrusted text for markdown: the one function every report value goes through.

Alert fields, pod names, DNS names, notes and the free text written in the
console are data. Whatever they contain must come out as the same visible
characters and never as markdown structure: no heading, list, quote, table
cell boundary, link, image, HTML tag, code span or emphasis, and no control
byte that would drive the terminal of whoever `cat`s the report.

The approach: backslash-escape every ASCII punctuation character that can
start or end markdown structure (CommonMark lets any ASCII punctuation be
escaped, GFM honours `\\|` inside table cells), escape the colon of a URL's
scheme, the dot of "www." and of a top-level domain, and "@", so no bare
URL, domain or address becomes a link, replace control, bidi and invisible characters with visible
markers (`store.safe_text.describe`), and fold line breaks so a value stays
on its line (a table row, a list item, a `**Field**:` line).
"""

from __future__ import annotations

import re

from store.safe_text import UNSAFE, UNSAFE_CLASS, describe

# Punctuation that can open or close markdown structure anywhere in a line:
# code spans, emphasis, strikethrough, links/images, HTML and autolinks,
# entities, table cells, the backslash itself, and "@" (GFM links bare e-mail
# addresses).
_INLINE_SPECIAL = re.compile(r"[\\`*_~\[\]<>|&!@]")

# What cmark-gfm links as an e-mail address (its autolink extension's rule).
_EMAIL = re.compile(r"[A-Za-z0-9.+_-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")

# Bare URLs and domains become links: GFM's autolink extension links
# "http://x", "ftp://x" and "www.x", and linkify renderers (markdown-it with
# linkify, as in VS Code's preview) also "x.com" and "x.io" when the last
# label is one of linkify-it's default TLDs (the generic ones below and every
# two-letter code). A backslash before the scheme's colon, after "www" and
# before such a TLD keeps the text from linking (an escaped character is never
# part of a link) and shows the same characters; so does one before the first
# slash of a scheme-less "//host". E-mail addresses are shown as code instead
# (`_with_addresses_as_code`).
_AUTOLINK = re.compile(  # each branch starts with its character, for the regex's fast scan
    r":(?<=[A-Za-z0-9]:)(?=//)|:(?<=(?i:mailto):)|:(?<=(?i:xmpp):)|\.(?<=(?i:www)\.)|/(?<!:/)(?=/)"
    r"|\.(?<=[A-Za-z0-9]\.)(?=(?i:[a-z]{2}|com|net|org|edu|gov|biz|pro|web|xxx|aero|asia"
    r"|coop|info|museum|name|shop|рф)(?![A-Za-z0-9_]))"
)

# What is structure only at the start of a line: headings, block quotes,
# list markers, thematic breaks and setext underlines, ordered lists.
_LINE_START = re.compile(r"^(\s*)([#>+=\-])")
_ORDERED_LIST = re.compile(r"^(\s*\d{1,9})([.)])(?=\s|$)")

# The characters never written raw (controls, bidi and invisible characters,
# lone surrogates; `store.safe_text`). Line breaks are folded before this runs.
_CONTROL = UNSAFE
_NEWLINES = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
LINE_BREAK_MARK = " \u21b5 "  # "↵": where a single-line value had a line break
# Anything `escape` would change; most values (IDs, times, plain words) have
# none, and the report escapes tens of thousands of them: `_needs_work` checks
# ASCII text with set operations and uses this only for the rest.
_NEEDS_WORK = re.compile(
    rf"[\\`*_~\[\]<>|&!@{UNSAFE_CLASS}]|[A-Za-z0-9][.:][A-Za-z/р]|//"
    r"|^\s*(?:[#>+=\-]|\d{1,9}[.)])|^\s|\s$"
)


_INLINE_CHARS = frozenset("\\`*_~[]<>|&!@")
_ASCII_CONTROLS = frozenset(map(chr, [*range(0x20), 0x7F]))
_ASCII_SPECIAL = _INLINE_CHARS | _ASCII_CONTROLS
_BLOCK_START = re.compile(r"[#>+=\-]|\d{1,9}[.)]")


def _backslashed(match: re.Match[str]) -> str:
    # A function, not the template r"\\\1": re expands templates in Python, slower.
    return "\\" + match.group()


def _marker(match: re.Match[str]) -> str:
    return describe(match.group())


def _escape_line(line: str) -> str:
    if "@" in line:
        line = _with_addresses_as_code(line)
    else:
        line = _escape_inline(line)
    # Only after inline escaping: a leading "\#" is already harmless, but "#",
    # ">", "-", "+", "=" and "1." are not, so they get their own backslash.
    if line[:1].isspace() or _BLOCK_START.match(line):
        line = _LINE_START.sub(r"\1\\\2", line, count=1)
        line = _ORDERED_LIST.sub(r"\1\\\2", line, count=1)
    # Leading spaces would make an indented code block or nest a list item.
    return line.lstrip(" \t")


def _escape_inline(text: str) -> str:
    # Each step only where it has something to do: most values need one at most.
    if not _INLINE_CHARS.isdisjoint(text):
        text = _INLINE_SPECIAL.sub(_backslashed, text)
    if "." in text or ":" in text or "/" in text:
        text = _AUTOLINK.sub(_backslashed, text)
    if not (text.isascii() and _ASCII_CONTROLS.isdisjoint(text)):
        text = _CONTROL.sub(_marker, text)
    return text


def _needs_work(value: str) -> bool:
    """Whether `escape` would change `value` (which most values, plain ASCII, skip fast)."""
    if not value.isascii():
        return _NEEDS_WORK.search(value) is not None
    if not _ASCII_SPECIAL.isdisjoint(value) or value[:1].isspace() or value[-1:].isspace():
        return True
    if _BLOCK_START.match(value):
        return True
    return ("." in value or ":" in value or "/" in value) and _AUTOLINK.search(value) is not None


def _with_addresses_as_code(line: str) -> str:
    """E-mail addresses as code spans, the rest escaped.

    cmark-gfm (GitHub's renderer) links `a@b.c` even when its "@" and dots are
    backslash-escaped; inside a code span nothing is linked, and an address
    has no backtick or pipe that could end the span or a table cell.
    """
    parts: list[str] = []
    position = 0
    for match in _EMAIL.finditer(line):
        parts += [_escape_inline(line[position : match.start()]), f"`{match.group()}`"]
        position = match.end()
    parts.append(_escape_inline(line[position:]))
    return "".join(parts)


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
    if not _needs_work(value):
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
