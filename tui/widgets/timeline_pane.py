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
from tui.widgets.table_diff import DiffTable


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

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown_ids: list[int] = []  # entry ids in the table, in order
        self._detected_at: datetime | None = None  # what the relative times count from
        self._state_known = False  # False while a state message ("loading") is up

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
        self._state_known = False
        self.query_one("#timeline-state", Static).update(Text(message))

    def show_entries(self, entries: Sequence[TimelineEntry], detected_at: datetime | None) -> None:
        """Show `entries` (record order); keeps the view at the end when it was there.

        Costs O(new entries): when `entries` only extends what is shown, just the
        tail is added; when nothing changed, the table is not touched at all. Any
        other change (another incident, a new detection time, a replay moving back)
        replaces the rows.
        """
        table = self.query_one(DataTable)
        ids = [entry.id for entry in entries]
        shown = len(self._shown_ids)
        extends = (
            detected_at == self._detected_at
            and table.row_count == shown
            and len(ids) >= shown
            and ids[:shown] == self._shown_ids
        )
        if extends and len(ids) == shown and self._state_known:
            return
        at_end = table.cursor_row >= table.row_count - 1
        fresh = entries[shown:] if extends else entries
        with self.app.batch_update():
            if not extends:
                table.clear()
            for entry in fresh:
                table.add_row(*self._cells(entry, detected_at), key=str(entry.id))
        self._shown_ids = ids
        self._detected_at = detected_at
        self._state_known = True
        self.set_class(not ids, "-empty")
        self.query_one("#timeline-state", Static).update(Text("no entries yet" if not ids else ""))
        if fresh and at_end and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    @staticmethod
    def _cells(entry: TimelineEntry, detected_at: datetime | None) -> tuple[Text, ...]:
        """One row's cells: literal text, terminal escapes stripped."""
        return (
            Text(relative(entry.at, detected_at)),
            Text(safe_text(entry.kind)),
            Text(safe_text(entry.actor or "-")),
            Text(safe_text(entry.summary)),
        )
