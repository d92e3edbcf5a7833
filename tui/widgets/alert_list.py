"""The Falco alert list: a Line-API view over a bounded window, fed by a drained deque.

Producers call `push_alerts(batch)`, which only appends the batch to a deque
(one atomic append, safe from any thread). A 10 Hz timer drains the deque into
the `AlertBuffer`, so thousands of alerts a second cost one refresh per tick
rather than one message per alert. Only visible rows are rendered, each from
a strip cache keyed by the row's sequence number, sized to what is on screen:
under a flood every drain brings new rows, and cached strips that live for
seconds only feed the garbage collector (see `tui/collector.py`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.events import Click, Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from actions.sources.batches import AlertBatch
from actions.sources.rates import AlertRates
from tui.views.alert_buffer import AlertBuffer, AlertFilter
from tui.views.alert_rows import AlertRow, rank_and_rule
from tui.widgets.component_styles import ComponentStyles

DRAIN_INTERVAL = 0.1  # 10 Hz: newest alert on screen well within 250 ms, one refresh per tick
MAX_PENDING_BATCHES = 2_000  # beyond this the UI is behind; older batches are counted, not shown
# Rows kept for scrolling back; the record keeps every alert. Bounded so memory stays
# flat and a filter change re-indexes quickly under a flood.
DEFAULT_CAPACITY = 2000
TIME_WIDTH, SEVERITY_WIDTH = 8, 2
# What `push_alerts` takes: a live source's commit (its fresh alerts) or alerts oldest first,
# each of a kind `AlertRow.of` reads.
Alerts = AlertBatch | Iterable[Any]
STRIP_CACHE_MIN = 64  # rows cached: twice the rows on screen (plain and cursor), at least this


def column_widths(width: int) -> tuple[int, int, int]:
    """Widths of the rule, pod and summary columns for a line `width` cells wide."""
    free = max(width - TIME_WIDTH - SEVERITY_WIDTH - 4, 0)
    rule = min(30, max(free * 3 // 10, 8))
    pod = min(28, max(free // 4, 6))
    return rule, pod, max(free - rule - pod, 0)


def _cell(value: str, width: int) -> str:
    """`value` padded or cut to exactly `width` terminal cells (wide characters count twice)."""
    if value.isascii():
        if len(value) <= width:
            return value.ljust(width)
        return value[: max(width - 1, 0)] + "\N{HORIZONTAL ELLIPSIS}"
    if cell_len(value) <= width:
        return set_cell_size(value, width)
    return set_cell_size(value, max(width - 1, 0)) + "\N{HORIZONTAL ELLIPSIS}"


def _time_ns(item: Any) -> int | None:
    """The alert's own time, read without building its row (for the rate sparkline)."""
    if isinstance(item, dict):
        value = item.get("time_ns")
    else:
        value = getattr(getattr(item, "alert", item), "time_ns", None)
    return value if isinstance(value, int) else None


def header_text(width: int) -> Text:
    """The column titles, aligned with the rows."""
    rule, pod, summary = column_widths(width)
    return Text(
        " ".join(
            (
                _cell("TIME", TIME_WIDTH),
                "P ",
                _cell("RULE", rule),
                _cell("POD", pod),
                _cell("SUMMARY", summary),
            )
        ),
        no_wrap=True,
        end="",
    )


def _batch_items(batch: Alerts) -> list[Any]:
    """The alerts of one pushed batch; an `AlertBatch` contributes only its fresh alerts."""
    if isinstance(batch, AlertBatch):
        return list(batch.fresh)
    return list(batch)


class AlertList(ScrollView, can_focus=True):
    """Newest alert on top; the cursor row is the selected alert."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "alert-list--p0",
        "alert-list--p1",
        "alert-list--p2",
        "alert-list--p3",
        "alert-list--unknown",
        "alert-list--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="alerts.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="alerts.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="alerts.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="alerts.page_down"),
        Binding("home", "newest", "Newest", show=False, id="alerts.newest"),
    ]

    class AlertSelected(Message):
        """The cursor moved onto another alert (None: the list is empty)."""

        def __init__(self, row: AlertRow | None) -> None:
            super().__init__()
            self.row = row

    class Drained(Message):
        """A drain added rows; posted at most once per tick, for counters and sparklines."""

        def __init__(self, added: int) -> None:
            super().__init__()
            self.added = added

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, AlertList.Drained)

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        severity_of: Callable[[Any], str] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.buffer = AlertBuffer(
            capacity,
            convert=lambda item: AlertRow.of(item, severity_of),
            key=lambda item: rank_and_rule(item, severity_of),
        )
        self.rates = AlertRates(window_seconds=120)
        self.received = 0
        self.not_shown = 0
        self.cursor = 0
        self._intake: deque[Alerts] = deque()
        self._severity_of = severity_of
        self._strips: LRUCache[tuple[int, int, bool], Strip] = LRUCache(STRIP_CACHE_MIN)
        self._style = ComponentStyles(self)
        self._selected_seq: int | None = None
        self.follow = True
        """Keep the cursor on the newest alert while it is at the top (off while reading one)."""

    # --- feeding --------------------------------------------------------------------------------

    def push_alerts(self, batch: Alerts) -> None:
        """Queue a batch (oldest first) for the next drain; never touches the screen."""
        self._intake.append(batch)
        while len(self._intake) > MAX_PENDING_BATCHES:
            try:
                dropped = self._intake.popleft()
            except IndexError:
                break
            self.not_shown += len(_batch_items(dropped))

    def on_mount(self) -> None:
        self.set_interval(DRAIN_INTERVAL, self.drain, name="alert-drain")

    def drain(self) -> int:
        """Move queued alerts into the window; returns how many rows were added."""
        items: list[Any] = []
        while True:
            try:
                items.extend(_batch_items(self._intake.popleft()))
            except IndexError:
                break
        if not items:
            return 0
        self.received += len(items)
        capacity = self.buffer.capacity
        if len(items) > capacity:
            self.not_shown += len(items) - capacity
            items = items[-capacity:]
        add_rate = self.rates.add
        for item in items:
            if (time_ns := _time_ns(item)) is not None:
                add_rate("all", time_ns)
        shown = self.buffer.extend(items)
        self._after_change(shown)
        self.post_message(self.Drained(len(items)))
        return len(items)

    def clear(self) -> None:
        """Empty the window and its counts (a replay going back in time); the filter stays."""
        self._intake.clear()
        self.buffer.clear()
        self.rates = AlertRates(window_seconds=self.rates.window_seconds)
        self.received = self.not_shown = 0
        self.follow = True
        self._show_from_newest()

    # --- filtering ------------------------------------------------------------------------------

    @property
    def filter(self) -> AlertFilter:
        return self.buffer.filter

    def set_filter(self, new_filter: AlertFilter) -> None:
        """Show only rows `new_filter` lets through; the cursor goes back to the newest."""
        self.buffer.set_filter(new_filter)
        self._show_from_newest()

    def _show_from_newest(self) -> None:
        """Redraw a window whose rows all changed, the cursor on the newest."""
        self.cursor = 0
        self._strips.clear()
        self.virtual_size = Size(self.size.width, self.buffer.visible_count)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._announce_selection(force=True)
        self.refresh()

    # --- cursor ---------------------------------------------------------------------------------

    @property
    def selected(self) -> AlertRow | None:
        found = self.buffer.visible(self.cursor)
        return found[1] if found else None

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, pages: int) -> None:
        self._move_to(self.cursor + pages * max(self.scrollable_content_region.height - 1, 1))

    def action_newest(self) -> None:
        self._move_to(0)

    def _move_to(self, position: int) -> None:
        count = self.buffer.visible_count
        self.cursor = max(0, min(position, count - 1)) if count else 0
        height = self.scrollable_content_region.height
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif height and self.cursor >= self.scroll_y + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self._announce_selection()
        self.refresh()

    def _after_change(self, shown: int) -> None:
        count = self.buffer.visible_count
        following = self.follow and self.cursor == 0 and self.scroll_y == 0
        self.virtual_size = Size(self.size.width, count)
        if not following and shown:
            # Keep what the reader is looking at still while newer rows arrive above it.
            self.cursor = min(self.cursor + shown, max(count - 1, 0))
            self.scroll_to(y=self.scroll_y + shown, animate=False, immediate=True)
        elif count and self.cursor >= count:
            self.cursor = count - 1
        self._announce_selection()
        self.refresh()

    def _announce_selection(self, *, force: bool = False) -> None:
        found = self.buffer.visible(self.cursor)
        seq = found[0] if found else None
        if force or seq != self._selected_seq:
            self._selected_seq = seq
            self.post_message(self.AlertSelected(found[1] if found else None))

    # --- drawing --------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._strips = LRUCache(max(2 * event.size.height, STRIP_CACHE_MIN))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._style.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        position = scroll_y + y
        width = self.scrollable_content_region.width
        found = self.buffer.visible(position)
        if found is None:
            return Strip.blank(width, self.rich_style)
        seq, row = found
        is_cursor = position == self.cursor and self.has_focus
        key = (seq, width, is_cursor)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._render_row(row, width, is_cursor)
            self._strips[key] = strip
        return strip.apply_offsets(scroll_x, position)

    def _render_row(self, row: AlertRow, width: int, is_cursor: bool) -> Strip:
        rule, pod, summary = column_widths(width)
        known = row.severity_rank < 4
        severity_class = f"alert-list--{row.severity.lower()}" if known else "alert-list--unknown"
        # Segments straight from the sanitised strings: no markup is ever parsed here.
        if is_cursor:
            plain = self._style("alert-list--cursor")
            severe = plain + self.get_component_rich_style(severity_class)
        else:
            plain, severe = self._style(""), self._style(severity_class)
        segments = [
            Segment(_cell(row.time, TIME_WIDTH) + " ", plain),
            Segment(_cell(row.severity, SEVERITY_WIDTH) + " ", severe),
            Segment(_cell(row.rule, rule) + " ", severe),
            Segment(_cell(row.pod, pod) + " ", plain),
            Segment(_cell(row.summary, summary), plain),
        ]
        drawn = TIME_WIDTH + SEVERITY_WIDTH + rule + pod + summary + 4
        if drawn == width:  # the columns fill the line exactly: no second Strip to crop
            return Strip(segments, width)
        return Strip(segments, drawn).crop_extend(0, width, plain)

    def on_click(self, event: Click) -> None:
        """A click selects the row under the pointer."""
        offset = event.get_content_offset(self)
        if offset is not None:
            self.focus()
            self._move_to(self.scroll_offset.y + offset.y)

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()
