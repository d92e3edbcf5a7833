"""One sanitiser for every string that comes from a cluster or an alert.

C0 and C1 control characters (ESC, CSI 0x9b, BEL, NUL...) are replaced with a
visible marker so no terminal escape sequence from an attacker ever reaches
the screen. Newlines and tabs are kept only where the caller allows them.
Pure Python, no Textual: the command line uses it too.
"""

from __future__ import annotations

import re

MARKER = "\N{REPLACEMENT CHARACTER}"
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROLS_AND_NEWLINES = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional overrides can make displayed text lie about its order.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def safe_text(value: object, *, multiline: bool = False) -> str:
    """`value` as text that is safe to print: controls replaced, bidi overrides removed."""
    text = value if isinstance(value, str) else str(value)
    pattern = _CONTROLS if multiline else _CONTROLS_AND_NEWLINES
    text = pattern.sub(MARKER, text)
    return _BIDI.sub(MARKER, text)
