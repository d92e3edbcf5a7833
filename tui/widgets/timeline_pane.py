"""The Timeline pane: the incident's record entries, newest last, times relative to detection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Static

from store import TimelineEntry
from tui.safe import safe_text
from tui.widgets.clocks import duration
from tui.widgets.pane import Pane
from tui.widgets.table_diff import DiffTable, sync_rows


def relative(at: datetime, start: datetime | None) -> str:
    """`T+m:ss` from detection; `T-m:ss` for what happened before it."""
    if start is None:
        return at.strftime("%H:%M:%S")
    span = at - start
    sign = "-" if span.total_seconds() < 0 else "+"
    return f"T{sign}{duration(abs(span))}"


class TimelinePane(Pane):
    """Entries are pushed in by the screen with `show_entries`; the pane never reads the record."""

    PANE_TITLE = "Timeline"
    COLUMNS: ClassVar[tuple[str, ...]] = ("when", "kind", "who", "what")

    def compose(self) -> ComposeResult:
        yield Static(Text("loading"), id="timeline-state", markup=False)
        table: DataTable[Text] = DiffTable(
            id="timeline-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*self.COLUMNS)
        yield table

    @property
    def focus_target(self) -> Widget:
        return self.query_one(DataTable)

    def show_state(self, message: str) -> None:
        """Say why there is nothing to show ("loading", "no incident open")."""
        self.set_class(True, "-empty")
        self.query_one("#timeline-state", Static).update(Text(message))

    def show_entries(self, entries: Sequence[TimelineEntry], detected_at: datetime | None) -> None:
        """Show `entries` (record order); keeps the view at the end when it was there."""
        table = self.query_one(DataTable)
        at_end = table.cursor_row >= table.row_count - 1
        rows = [
            (
                str(entry.id),
                (
                    Text(relative(entry.at, detected_at)),
                    Text(safe_text(entry.kind)),
                    Text(safe_text(entry.actor or "-")),
                    Text(safe_text(entry.summary)),
                ),
            )
            for entry in entries
        ]
        with self.app.batch_update():
            changed = sync_rows(table, rows)
        self.set_class(not rows, "-empty")
        self.query_one("#timeline-state", Static).update(Text("no entries yet" if not rows else ""))
        if changed and at_end and table.row_count:
            table.move_cursor(row=table.row_count - 1)
