"""store.report.markdown.escape: untrusted text shows as its own characters, never as structure."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from store.report.markdown import code, escape

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def rendered(markdown: str) -> tuple[list[str], str]:
    """(token types other than paragraph/inline/text/softbreak/hardbreak, the plain text)."""
    kinds: list[str] = []
    text: list[str] = []
    for token in MD.parse(markdown):
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "text":
                    text.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    text.append("\n")
                else:
                    kinds.append(child.type)
        elif token.type not in ("paragraph_open", "paragraph_close"):
            kinds.append(token.type)
    return kinds, "".join(text)


@pytest.mark.parametrize(
    "hostile",
    [
        "# heading",
        "## also a heading",
        "| pipe |",
        "[link](javascript:x)",
        "![img](x)",
        "<script>alert(1)</script>",
        "<a href='x'>y</a>",
        "`code` and ``more``",
        "**bold** __b__ *em* _em_ ~~strike~~",
        "> quote",
        "- list",
        "+ list",
        "* list",
        "1. ordered",
        "2) ordered",
        "---",
        "===",
        "    indented code",
        "&lt;entity&gt; &amp; &#x41;",
        "<https://example.com>",
        "[ref]: http://x",
        "a\\",
        "[/oops] [red]x",
    ],
)
def test_hostile_line_renders_as_its_own_characters(hostile: str) -> None:
    kinds, text = rendered(escape(hostile))
    assert kinds == []
    assert text == hostile.strip()


def test_newlines_stay_on_one_line_with_a_visible_mark() -> None:
    value = "first\n# second\r\n| third |\rfourth"
    out = escape(value)
    assert "\n" not in out
    assert "\r" not in out
    kinds, text = rendered(out)
    assert kinds == []
    assert text == "first ↵ # second ↵ | third | ↵ fourth"


def test_inside_a_table_cell_a_pipe_stays_in_its_cell() -> None:
    table = f"| a | b |\n|---|---|\n| {escape('x | y | z')} | {escape('2nd')} |\n"
    cells = [t for t in MD.parse(table) if t.type == "inline"]
    assert [c.content for c in cells[2:]] == ["x | y | z", "2nd"]


@pytest.mark.parametrize(
    ("control", "marker"),
    [
        ("\x1b[31m", "␛[31m"),
        ("\x00", "␀"),
        ("\x07", "␇"),
        ("\x7f", "␡"),
        ("\x9b2J", "⟨U+009B⟩2J"),
        ("\u202eevil", "⟨U+202E⟩evil"),
        ("\x1b]52;c;aGk=\x07", "␛]52;c;aGk=␇"),
    ],
)
def test_control_characters_become_visible_markers(control: str, marker: str) -> None:
    out = escape(control)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert rendered(out)[1] == marker


def test_lone_surrogate_cannot_break_writing_the_report() -> None:
    out = escape("bad \udc80 byte")
    out.encode("utf-8")
    assert rendered(out)[1] == "bad \ufffd byte"


def test_multiline_keeps_lines_and_paragraphs_without_structure() -> None:
    text = "# not a heading\n- not a list\n\n\n1. not ordered\n> not a quote"
    kinds, plain = rendered(escape(text, multiline=True))
    assert kinds == []
    assert plain == "# not a heading\n- not a list1. not ordered\n> not a quote"
    assert escape(text, multiline=True).count("\n\n") == 1


def test_limit_cuts_and_says_how_much() -> None:
    out = escape("x" * 50, limit=10)
    assert out == "x" * 10 + " … (40 more characters)"


def test_ordinary_text_is_left_readable() -> None:
    assert escape("10.0.0.1 payment-api-7d9f") == "10.0.0.1 payment-api-7d9f"
    assert escape(None) == ""


def test_code_span_cannot_be_closed_early() -> None:
    kinds, _ = rendered(code("a` <b> [c](d)"))
    assert kinds == ["code_inline"]
    children = MD.parseInline(code("a` <b>"))[0].children
    assert children is not None
    token = children[0]
    assert token.type == "code_inline"
    assert "<b>" in token.content


GFM = MarkdownIt("gfm-like")  # linkify on: bare URLs, "www." and domains become links


@pytest.mark.parametrize(
    "bare",
    [
        "http://evil.example/login?next=x",
        "HTTPS://EVIL.EXAMPLE",
        "ftp://files.evil.example/x",
        "see www.evil.example now",
        "c2.evil.example",
        "exfil.x7f3.tunnel.evil.io/path",
        "admin@evil.example",
        "mailto:admin@evil.example",
        "xmpp:bot@evil.example",
        "user:pass@evil.example",
        "//evil.example/x",
    ],
)
def test_bare_urls_domains_and_addresses_never_become_links(bare: str) -> None:
    """cmark-gfm (GitHub) links URLs, "www." and e-mail addresses; linkify also domains.

    Checked by hand with cmark-gfm too: escaped colons and dots stop its URL and
    "www." links, and an address as a code span stops its e-mail links.
    """
    out = escape(bare)
    tokens = [c for t in GFM.parse(out) for c in t.children or []]
    assert [t.type for t in tokens if t.type not in ("text", "code_inline")] == []
    assert "".join(t.content for t in tokens) == bare


def test_invisible_and_bidi_characters_are_marked() -> None:
    assert escape("a\u061cb\u200bc\u200dd\ufeffe\U000e0041") == (
        "a⟨U+061C⟩b⟨U+200B⟩c⟨U+200D⟩d⟨U+FEFF⟩e⟨U+E0041⟩"
    )


def test_a_nul_does_not_cut_a_pod_name() -> None:
    assert rendered(escape("orchestrator\x00-evil"))[1] == "orchestrator␀-evil"
