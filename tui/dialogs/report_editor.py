"""The editor of one free-text report section: a TextArea that saves with ctrl+s.

The editor does not touch the record: it is given a `save(text)` coroutine
(the report screen's, which writes through `WarRoomApp.in_record`) and stays
open with the error if saving fails, so nothing typed is lost. Escape closes
it, and asks first when there are unsaved changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from store.report.sections import MAX_SECTION_CHARS
from tui.dialogs.forms import AskScreen
from tui.safe import safe_text
from tui.screens.styled_once import StyledOnce
from tui.widgets.key_footer import KeyFooter

SaveSection = Callable[[str], Awaitable[None]]
REPORT_STYLES = Path(__file__).parent.parent / "styles" / "report.tcss"


class SectionEditor(StyledOnce, ModalScreen[bool]):
    """Edit one section's text; dismisses True once saved, False when cancelled."""

    CSS_PATH = REPORT_STYLES
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="report.section.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="report.section.cancel"),
    ]

    def __init__(self, heading: str, text: str, save: SaveSection) -> None:
        super().__init__()
        self.heading = heading
        # Controls in saved text would reach the terminal through the editor.
        self.original = safe_text(text, multiline=True)
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog section-editor"):
            yield Label(
                Text(f"Report section: {self.heading}"), classes="dialog-title", markup=False
            )
            yield Label(
                Text(
                    "Plain text, kept as written: markdown in it is shown, never applied. "
                    f"Up to {MAX_SECTION_CHARS:,} characters; an empty text clears the section."
                ),
                classes="section-editor-hint",
                markup=False,
            )
            yield TextArea(self.original, soft_wrap=True, id="section-text")
            yield Static("", classes="dialog-error", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @property
    def changed(self) -> bool:
        return self.text.strip() != self.original.strip()

    def error(self, message: str) -> None:
        self.query_one(".dialog-error", Static).update(Text(message))

    @work(exclusive=True, group="section-save", exit_on_error=False)
    async def action_save(self) -> None:
        if len(self.text) > MAX_SECTION_CHARS:
            self.error(
                f"{len(self.text):,} characters: keep it under {MAX_SECTION_CHARS:,} "
                "(nothing was saved; your text is still here)"
            )
            return
        try:
            await self._save(self.text)
        except (ValueError, sqlite3.Error, OSError) as failure:
            self.error(f"not saved: {safe_text(failure)} (your text is still here)")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        if not self.changed:
            self.dismiss(False)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(False)

        self.app.push_screen(
            AskScreen(f"Discard your changes to {self.heading}?", "y discards, n keeps editing"),
            answered,
        )
