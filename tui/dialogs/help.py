"""The `?` screen: every binding of the console, grouped by where it applies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Label

from tui.textual_workarounds import StyledOnce
from tui.widgets.plain_table import PlainTable

HelpRow = tuple[str, str, str, str]  # where, keys, what, binding id


def typed(key: str) -> str:
    """A key as the commander types it: `?`, `!`, `+`, `ctrl+p`, `esc`, `enter`, `↑`.

    Textual names keys (`question_mark`, `plus`); its `format_key` gives the character,
    except for enter, which reads better spelt out than as a symbol.
    """
    return "enter" if key == "enter" else format_key(key)


def typed_keys(keys: str) -> str:
    """`question_mark,f1` as the commander types them: `?, f1`."""
    return ", ".join(typed(part.strip()) for part in keys.split(","))


def binding_rows(where: str, bindings: Iterable[BindingType]) -> list[HelpRow]:
    """Rows for the bindings of one widget class (tuples are turned into Bindings)."""
    rows = []
    for item in bindings:
        binding = item if isinstance(item, Binding) else Binding(*item)
        if binding.system:
            continue
        rows.append((where, typed_keys(binding.key), binding.description or binding.action,
                     binding.id or ""))
    return rows


class HelpScreen(StyledOnce, ModalScreen[None]):
    """A table of (keys, what, id, where); escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, rows: Sequence[HelpRow], keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        remap = keymap or {}
        # The configuration's [keymap] replaces a binding's keys: show the ones that work.
        self.rows = [(where, typed_keys(remap[binding_id]) if binding_id in remap else keys,
                      what, binding_id) for where, keys, what, binding_id in rows]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help-dialog"):
            yield Label("Keys (remap one by its id in the configuration's [keymap])",
                        classes="dialog-title", markup=False)
            # The id before the group: what [keymap] needs must fit 80 columns; the group
            # reads from the neighbouring rows anyway.
            yield PlainTable(("keys", "what", "id", "where"),
                             [(keys, what, binding_id, where)
                              for where, keys, what, binding_id in self.rows],
                             id="help-table")
