"""store.safe_text: one definition of unsafe characters, a mode for each output."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from actions.notify.neutralise import without_controls
from store.report.markdown import escape
from store.safe_text import MARKER, UNSAFE, describe, json_text, terminal
from tui.safe import safe_text

HOSTILE = [
    "\x1b]0;PWNED\x07",
    "\x1b]52;c;cHduZWQ=\x07",
    "\x9b2J",
    "pod\x00name",
    "\u202eexe.txt",
    "\u061cx",
    "a\u200bb",
    "zero\u200dwidth\u2060joiner\ufeff",
    "tag \U000e0041\U000e0042 smuggled",
    "variation \ufe0f\U000e0100",
    "line\u2028separator",
    "lone \udc80 surrogate",
    "soft\u00adhyphen",
]


def test_every_control_format_separator_and_surrogate_is_unsafe() -> None:
    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        and not UNSAFE.match(chr(code))
    ]
    assert missing == []


@pytest.mark.parametrize("ordinary", ["10.0.0.1", "payment-api-7d9f", "Zürich 東京 🙂", "[red]x"])
def test_ordinary_text_is_untouched(ordinary: str) -> None:
    assert terminal(ordinary) == ordinary
    assert json.loads(json_text(ordinary)) == ordinary
    assert json_text(ordinary) == json.dumps(ordinary, ensure_ascii=False)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_terminal_mode_leaves_nothing_unsafe_and_marks_where(hostile: str) -> None:
    shown = terminal(hostile)
    assert not UNSAFE.search(shown)
    assert MARKER in shown
    shown.encode("utf-8")  # a lone surrogate cannot stop the print
    assert safe_text(hostile) == shown  # the console's name for the same thing
    assert not UNSAFE.search(without_controls(hostile))  # and the receivers'


def test_terminal_multiline_keeps_tabs_and_newlines_only() -> None:
    assert terminal("a\tb\nc\rd\x1b", multiline=True) == f"a\tb\nc{MARKER}d{MARKER}"
    assert terminal("a\tb\nc") == f"a{MARKER}b{MARKER}c"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_json_mode_is_valid_lossless_and_escaped(hostile: str) -> None:
    document = {hostile: [hostile, {"nested": hostile}], "n": 1}
    for indent in (2, None):
        text = json_text(document, indent=indent)
        assert not UNSAFE.search(text.replace("\n", ""))
        assert json.loads(text) == document  # the exact values come back
        text.encode("utf-8")


def test_json_mode_keeps_its_own_indentation() -> None:
    assert json_text({"a": "\u202e"}) == '{\n  "a": "\\u202e"\n}'
    assert json_text(["\U000e0041"], indent=None) == '["\\udb40\\udc41"]'


@pytest.mark.parametrize(
    ("char", "shown"),
    [("\x1b", "\u241b"), ("\x00", "\u2400"), ("\x7f", "\u2421"), ("\x9b", "\u27e8U+009B\u27e9"),
     ("\u061c", "\u27e8U+061C\u27e9"), ("\u200b", "\u27e8U+200B\u27e9"),
     ("\U000e0041", "\u27e8U+E0041\u27e9"), ("\udc80", MARKER)],
)  # fmt: skip
def test_describe_says_what_was_there(char: str, shown: str) -> None:
    assert describe(char) == shown
    assert escape(f"x{char}y") == f"x{shown}y"  # the report uses the same markers
