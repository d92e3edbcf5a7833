"""The one sanitiser for text an attacker may control, with a mode for each place it goes.

Alert fields, pod and DNS names, imported incidents and receivers' answers can
hold characters that drive a terminal (ESC, CSI 0x9b, BEL: `ESC ] 0 ;` retitles
it, `ESC ] 52 ;` writes the clipboard), hide or reorder what a reader sees
(bidi overrides and marks such as U+202E and U+061C, zero-width and other
invisible characters, Unicode tag characters), cut a C string (NUL), or
cannot be written as UTF-8 (lone surrogates). `UNSAFE` is the one definition
of those characters; each output has its own way to make them harmless:

- `terminal()`: a line (or block) for a terminal: each becomes a visible
  replacement character, so nothing is interpreted and the reader sees that
  something was there.
- `json_text()`: a JSON document a machine reads: each becomes a `\\uXXXX`
  escape, so the document stays valid and lossless (`json.loads` gives back
  the exact value) and nothing raw reaches the terminal that shows it.
- `describe()`: a self-explaining marker (the control picture "␛" for ESC,
  "⟨U+202E⟩" for the others) for the report's markdown (`store.report.markdown`).

Receivers have their own syntax on top (`actions.notify.neutralise`) and the
console its own markup (`tui.safe`); both build on this module. Pure Python:
`store`, `actions` and `tui` all use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MARKER = "\N{REPLACEMENT CHARACTER}"

# C0 controls but tab and line feed, which a caller may keep (see `_WITH_LINES`).
_C0_BUT_TAB_AND_NEWLINE = r"\x00-\x08\x0b-\x1f"
# Everything else that is never shown raw: DEL and C1; Unicode's format characters
# (category Cf: soft hyphen, Arabic letter mark U+061C and the other bidi marks,
# overrides and isolates U+202A-U+202E and U+2066-U+2069, zero-width space, joiners,
# word joiner, BOM, interlinear annotations, tag characters U+E0000-U+E007F, and the
# prepended concatenation marks); the line and paragraph separators (category Zl/Zp);
# lone surrogates (category Cs); and characters that draw nothing although they
# are letters or marks (combining grapheme joiner, Hangul fillers, Khmer inherent
# vowels, Mongolian and other variation selectors, which also smuggle bytes).
# tests/test_safe_text.py checks every Cc, Cf, Cs, Zl and Zp character of this
# Python's Unicode database is here.
_OTHERS = (
    r"\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    r"\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    r"\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    r"\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
UNSAFE_CLASS = rf"\x09\x0a{_C0_BUT_TAB_AND_NEWLINE}{_OTHERS}"
"""The character class (without brackets) of every unsafe character, tab and newline too."""

UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")
_WITH_LINES = re.compile(f"[{_C0_BUT_TAB_AND_NEWLINE}{_OTHERS}]")  # keeps \t and \n


def replace_unsafe(
    value: object,
    replacement: str | Callable[[str], str] = MARKER,
    *,
    multiline: bool = False,
) -> str:
    """`value` as text with every unsafe character replaced.

    `replacement` is a string, or a function of the character. With `multiline`,
    tab and line feed are kept (a carriage return is not: it rewrites a line).
    """
    text = value if isinstance(value, str) else str(value)
    pattern = _WITH_LINES if multiline else UNSAFE
    if not pattern.search(text):
        return text
    if isinstance(replacement, str):
        return pattern.sub(replacement, text)
    return pattern.sub(lambda match: replacement(match.group()), text)


def terminal(value: object, *, multiline: bool = False) -> str:
    """Text safe to print on a terminal: unsafe characters become a visible marker."""
    return replace_unsafe(value, MARKER, multiline=multiline)


def describe(char: str) -> str:
    """A visible, self-explaining stand-in for one unsafe character.

    C0 controls become Unicode's control pictures ("␛" for ESC, "␀" for NUL),
    DEL "␡", a lone surrogate the replacement character, anything else its code
    point ("⟨U+202E⟩"), so a reviewer sees what was hidden there.
    """
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if 0xD800 <= code <= 0xDFFF:
        return MARKER
    return f"\u27e8U+{code:04X}\u27e9"


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(document: Any, *, indent: int | None = 2, **options: Any) -> str:
    """`document` as JSON whose unsafe characters are `\\u` escapes: valid and lossless.

    Readable text (accents, CJK, emoji) stays as it is. The JSON encoder already
    escapes C0 controls inside strings, so a raw line feed in its output is only
    the indentation's, which is kept. `options` go to `json.dumps`.
    """
    options.setdefault("default", str)
    text = json.dumps(document, ensure_ascii=False, indent=indent, **options)
    if not _WITH_LINES.search(text):
        return text
    return _WITH_LINES.sub(lambda match: _json_escape(match.group()), text)
