"""A row of tabs drawn by one widget: the titles on a line, a bar under the active one.

The checklist's phases were Textual's Tabs: a Tabs, three containers, a Tab per phase
and an underline, eleven widgets to mount, style and lay out, and a restyle when the
active tab is marked: a sixth of the checklist's opening (bench/dialogs.py, measured by
taking them out). The row only shows which phase is open and takes a click on another,
so one widget draws both lines. It never takes focus; the screen's own keys move it.
Titles are shown as plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui.safe import safe_text

BAR, BEFORE, AFTER = "\N{BOX DRAWINGS HEAVY HORIZONTAL}", "\N{BOX DRAWINGS HEAVY LEFT}", \
    "\N{BOX DRAWINGS HEAVY RIGHT}"  # as Textual's Tabs draw their underline


class TabRow(Widget):
    """Tabs by id, one active; `TabRow.Chosen` when another becomes active."""

    # Styled by the screen that uses it (tui/styles/checklist.tcss): a DEFAULT_CSS would be
    # added to the stylesheet on the first opening, which makes Textual re-parse all of it.
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tab-row--tab", "tab-row--active", "tab-row--bar", "tab-row--bar-active",
    }  # fmt: skip

    active: reactive[str] = reactive("")

    class Chosen(Message):
        """Another tab is active (a click, or `active` set)."""

        def __init__(self, row: TabRow, tab: str) -> None:
            super().__init__()
            self.row = row
            self.tab = tab

        @property
        def control(self) -> TabRow:
            return self.row

    def __init__(self, tabs: Sequence[tuple[str, str]], *, active: str,
                 id: str | None = None) -> None:
        """`tabs`: (id, title) in order."""
        super().__init__(id=id)
        self._spans: dict[str, tuple[int, int]] = {}  # id -> its title's cells [start, end)
        self._titles: list[tuple[str, str]] = []
        x = 0
        for tab, title in tabs:
            shown = f" {safe_text(title)} "
            self._titles.append((tab, shown))
            self._spans[tab] = (x + 1, x + cell_len(shown) - 1)
            x += cell_len(shown)
        self.set_reactive(TabRow.active, active)

    def offset_of(self, tab: str) -> int:
        """The first cell of `tab`'s title, from the row's left edge."""
        return self._spans[tab][0]

    def watch_active(self, before: str, after: str) -> None:
        self.refresh()
        if after != before:
            self.post_message(self.Chosen(self, after))

    def on_click(self, event: events.Click) -> None:
        for tab, (start, end) in self._spans.items():
            if start - 1 <= event.x <= end:  # the title or the space either side of it
                event.stop()
                self.active = tab
                return

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        if y == 0:
            tab, active = (base + self.get_component_rich_style(name) for name in
                           ("tab-row--tab", "tab-row--active"))
            segments = [Segment(shown, active if name == self.active else tab)
                        for name, shown in self._titles]
        elif y == 1:
            bar, lit = (base + self.get_component_rich_style(name) for name in
                        ("tab-row--bar", "tab-row--bar-active"))
            start, end = self._spans.get(self.active, (0, 0))
            segments = [Segment(BAR * max(start - 1, 0), bar)]
            if end > start:
                segments += [Segment(BEFORE, bar), Segment(BAR * (end - start), lit),
                             Segment(AFTER, bar)]
            segments.append(Segment(BAR * max(width - end - 1, 0), bar))
        else:
            segments = []
        return Strip(segments).crop_extend(0, width, base)
