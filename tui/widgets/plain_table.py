"""A read-only table of plain text, drawn a line at a time (Textual's Line API).

The `?` screen's ~45 rows of four columns were a DataTable, which on its first draw
renders every cell through Rich (a padding, a crop and a style per cell): half of the
help's opening (bench/dialogs.py's profile, `DataTable._render_cell`). A table that is
only read needs none of that: each row is laid out once as one padded string, and a line
is drawn by cutting it at the scroll position. The header stays on top while the rows
scroll (arrow keys, page keys, the mouse wheel). Cells are shown as plain text, never as
markup, with unsafe characters replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.safe import safe_text


def laid_out(rows: Sequence[Sequence[str]]) -> list[str]:
    """The rows as lines of columns as wide as their widest cell, one space either side."""
    cells = [[safe_text(cell) for cell in row] for row in rows]
    widths = [max((cell_len(row[n]) for row in cells if n < len(row)), default=0)
              for n in range(max((len(row) for row in cells), default=0))]
    return ["".join(f" {cell}{' ' * (width - cell_len(cell))} " for cell, width in
                    zip(row, widths, strict=False)) for row in cells]


class PlainTable(ScrollView, can_focus=True):
    """A header and rows of plain text; the rows scroll under the header."""

    # Styled in tui/styles/dialogs.tcss, which the console loads at start: a DEFAULT_CSS
    # here would be added on the first opening, and Textual re-parses the whole stylesheet.
    COMPONENT_CLASSES: ClassVar[set[str]] = {"plain-table--header"}

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[str]], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.header, *self.lines = laid_out([header, *rows])
        width = max(cell_len(line) for line in (self.header, *self.lines))
        self.virtual_size = Size(width, len(self.lines) + 1)  # the header is a line too
        self._styles: tuple[Style, Style] | None = None  # the rows', the header's, while drawn

    def _line_styles(self) -> tuple[Style, Style]:
        style = self.rich_style
        return style, style + self.get_component_rich_style("plain-table--header")

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles once a draw, not once a line: a widget's rich_style walks its ancestors.
        self._styles = self._line_styles()
        try:
            return super().render_lines(crop)
        finally:
            self._styles = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        style, header_style = self._styles or self._line_styles()
        if y == 0:
            text, style = self.header, header_style
        else:
            row = scroll_y + y - 1
            text = self.lines[row] if row < len(self.lines) else ""
        width = self.scrollable_content_region.width  # less the scrollbars
        return Strip([Segment(text, style)]).crop_extend(scroll_x, scroll_x + width, style)
