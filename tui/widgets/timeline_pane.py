"""The Timeline pane: the incident's record entries, newest last, times relative to detection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from store import TimelineEntry
from tui.safe import safe_text
from tui.views.clocks import duration
from tui.widgets.component_styles import ComponentStyles
from tui.widgets.pane import Pane

LAST_COLUMN_FLOOR = 24  # cells of "what" a narrow pane still shows before cutting kind and who
MIDDLE_FLOOR = 8


def relative(at: datetime, start: datetime | None) -> str:
    """`T+m:ss` from detection; `T-m:ss` for what happened before it."""
    if start is None:
        return at.strftime("%H:%M:%S")
    span = at - start
    sign = "-" if span.total_seconds() < 0 else "+"
    return f"T{sign}{duration(abs(span))}"


def fit(value: str, width: int) -> str:
    """`value` padded or cut to exactly `width` terminal cells (wide characters count twice)."""
    if cell_len(value) <= width:
        return set_cell_size(value, width)
    return set_cell_size(value, max(width - 1, 0)) + "\N{HORIZONTAL ELLIPSIS}"


class TimelineList(ScrollView, can_focus=True):
    """The timeline's rows through the Line API: drawing costs O(visible rows), not O(entries).

    A pinned header line, then one line per entry, newest last. Rows are plain
    (sanitised) strings drawn as Segments, so no markup is ever parsed; each
    drawn line is cached by (row, width, cursor).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline-list--header",
        "timeline-list--even-row",
        "timeline-list--cursor",
    }
    DEFAULT_CSS = """
    TimelineList {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .timeline-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .timeline-list--header { background-tint: $foreground 5%; }
        }
        &:dark > .timeline-list--even-row { background: $surface-darken-1 40%; }
        & > .timeline-list--header { text-style: bold; background: $panel; color: $foreground; }
        & > .timeline-list--even-row { background: $surface-lighten-1 50%; }
        & > .timeline-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="timeline.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="timeline.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="timeline.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="timeline.page_down"),
        Binding("ctrl+home,home", "first", "First", show=False, id="timeline.first"),
        Binding("ctrl+end,end", "last", "Last", show=False, id="timeline.last"),
        Binding("enter", "open", "Open entry", id="timeline.open",
                tooltip="The highlighted entry in full: its whole text and data"),
    ]

    class Chosen(Message):
        """Enter on a row: the pane opens that entry."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def __init__(self, columns: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self._rows: list[tuple[str, ...]] = []
        self._widths = [cell_len(label) for label in self.columns]
        self.cursor_row = 0
        self._strips: LRUCache[tuple[int, int, bool], Strip] = LRUCache(512)
        self._style = ComponentStyles(self)

    # --- the rows -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def get_row_at(self, index: int) -> tuple[Text, ...]:
        """The cells of row `index` (0 is the oldest), as literal Text."""
        return tuple(Text(cell) for cell in self._rows[index])

    def clear(self) -> None:
        """Drop every row."""
        self._rows.clear()
        self._strips.clear()
        self._widths = [cell_len(label) for label in self.columns]
        self.cursor_row = 0
        self._changed()

    def append_rows(self, rows: Iterable[tuple[str, ...]]) -> int:
        """Add rows (oldest first) after the last; returns how many were added."""
        before = len(self._rows)
        widths = self._widths
        for row in rows:
            self._rows.append(row)
            for column, cell in enumerate(row):
                width = len(cell) if cell.isascii() else cell_len(cell)
                if width > widths[column]:
                    widths[column] = width
                    self._strips.clear()
        self._changed()
        return len(self._rows) - before

    def _changed(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)
        if self.cursor_row >= len(self._rows):
            self.cursor_row = max(len(self._rows) - 1, 0)
        self.refresh()

    # --- the cursor -----------------------------------------------------------------------------

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on `row` (clamped) and scroll it into view."""
        self.cursor_row = max(0, min(row, len(self._rows) - 1)) if self._rows else 0
        height = max(self.scrollable_content_region.height - 1, 1)  # the header is pinned
        if self.cursor_row < self.scroll_y:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= self.scroll_y + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)
        self.refresh()

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, pages: int) -> None:
        step = max(self.scrollable_content_region.height - 2, 1)
        self.move_cursor(row=self.cursor_row + pages * step)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._rows) - 1)

    def action_open(self) -> None:
        if self._rows:
            self.post_message(self.Chosen(self.cursor_row))

    def on_resize(self) -> None:
        self._changed()
        if self._rows:
            self.move_cursor(row=self.cursor_row)

    # --- drawing --------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._style.clear()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._render_cells(self.columns, width, self._style("timeline-list--header"))
        position = self.scroll_offset.y + y - 1
        if position >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        is_cursor = position == self.cursor_row and self.has_focus
        key = (position, width, is_cursor)
        strip = self._strips.get(key)
        if strip is None:
            if is_cursor:
                style = self._style("timeline-list--cursor")
            elif position % 2:
                style = self._style("timeline-list--even-row")
            else:
                style = self._style("")
            strip = self._render_cells(self._rows[position], width, style)
            self._strips[key] = strip
        return strip

    def _render_cells(self, cells: Sequence[str], width: int, style: Style) -> Strip:
        """One line: each cell padded by a space on both sides to its column's width."""
        widths = self.fitted_widths(width)
        text = "".join(f" {fit(cell, w)} " for cell, w in zip(cells, widths, strict=False))
        return Strip([Segment(text, style)], cell_len(text)).crop_extend(0, width, style)

    def fitted_widths(self, width: int) -> list[int]:
        """The columns' widths in `width` cells: the last column (what happened) keeps at least
        half the line; the middle ones (kind, who) give way to it, widest first, down to
        MIDDLE_FLOOR cells, cut with an ellipsis. The first (when) is never cut."""
        widths = list(self._widths)
        wanted_last = min(widths[-1], max(LAST_COLUMN_FLOOR, width // 2))
        middle = range(1, len(widths) - 1)
        while sum(w + 2 for w in widths[:-1]) + wanted_last + 2 > width:
            widest = max(middle, key=lambda column: widths[column], default=None)
            if widest is None or widths[widest] <= MIDDLE_FLOOR:
                break
            widths[widest] -= 1
        return widths

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()


class TimelinePane(Pane):
    """Entries are pushed in by the screen with `show_entries`; the pane never reads the record."""

    PANE_TITLE = "Timeline"
    COLUMNS: ClassVar[tuple[str, ...]] = ("when", "kind", "who", "what")

    class EntryOpened(Message):
        """The commander asked to read `entry` in full."""

        def __init__(self, entry: TimelineEntry, detected_at: datetime | None) -> None:
            super().__init__()
            self.entry = entry
            self.detected_at = detected_at

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # Empty ("loading") from the start: set on mount, the class restyled the pane's widgets
        # before the first frame.
        self.add_class("-empty", update=False)
        self._entries: list[TimelineEntry] = []  # the entries in the table, in order
        self._shown_ids: list[int] = []  # their ids
        self._detected_at: datetime | None = None  # what the relative times count from
        self._state_known = False  # False while a state message ("loading") is up

    def compose(self) -> ComposeResult:
        yield Static(Text("loading"), id="timeline-state", markup=False)
        yield TimelineList(self.COLUMNS, id="timeline-table")

    @property
    def focus_target(self) -> Widget:
        return self.query_one(TimelineList)

    def show_state(self, message: str) -> None:
        """Say why there is nothing to show ("loading", "no incident open")."""
        self.set_class(True, "-empty")
        self._state_known = False
        self.query_one("#timeline-state", Static).update(Text(message))

    def show_entries(self, entries: Sequence[TimelineEntry], detected_at: datetime | None) -> None:
        """Show `entries` (record order); keeps the view at the end when it was there.

        Costs O(new entries): when `entries` only extends what is shown, just the
        tail is added; when nothing changed, the list is not touched at all. Any
        other change (another incident, a new detection time, a replay moving back)
        replaces the rows.
        """
        table = self.query_one(TimelineList)
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
        if not extends:
            table.clear()
        table.append_rows(self._cells(entry, detected_at) for entry in fresh)
        self._entries = list(entries)
        self._shown_ids = ids
        self._detected_at = detected_at
        if not self._state_known or self.has_class("-empty") != (not ids):
            # Restyling costs a layout: only when the message (or its absence) changes.
            self.set_class(not ids, "-empty")
            self.query_one("#timeline-state", Static).update(
                Text("no entries yet" if not ids else "")
            )
        self._state_known = True
        if fresh and at_end and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def on_timeline_list_chosen(self, event: TimelineList.Chosen) -> None:
        event.stop()
        if 0 <= event.row < len(self._entries):
            self.post_message(self.EntryOpened(self._entries[event.row], self._detected_at))

    @staticmethod
    def _cells(entry: TimelineEntry, detected_at: datetime | None) -> tuple[str, ...]:
        """One row's cells: literal text on one line, terminal escapes stripped."""
        return (
            relative(entry.at, detected_at),
            safe_text(entry.kind),
            safe_text(entry.actor or "-"),
            safe_text(entry.summary),
        )
