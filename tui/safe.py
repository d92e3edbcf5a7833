"""Text from a cluster or an alert, made safe for the console and the command line.

The characters that are never shown raw (terminal controls, bidi and invisible
characters, lone surrogates) are defined once, in `store.safe_text`; this is
its terminal mode under the name the console and the commands use. Textual
markup is the widgets' business: they show this text as `Text`/`Content` or
with `markup=False`, never as a markup string. Pure Python, no Textual: the
command line uses it too.
"""

from __future__ import annotations

from store.safe_text import MARKER, terminal

__all__ = ["MARKER", "safe_text"]


def safe_text(value: object, *, multiline: bool = False) -> str:
    """`value` as text that is safe to print: unsafe characters become a visible marker.

    Tab and line feed are kept only with `multiline`.
    """
    return terminal(value, multiline=multiline)
