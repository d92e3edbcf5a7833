"""Diffing a DataTable against fresh rows: stable keys, `update_cell` only where changed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist


class DiffTable(DataTable[Text]):
    """A DataTable that redraws its lines once it has measured its columns.

    DataTable measures new cells when idle, but caches rendered lines by its update
    count only: a frame drawn between `add_row` and that idle (a loaded machine, a
    busy alert stream) stayed drawn at the header widths until the next change.
    """

    async def _on_idle(self, event: events.Idle) -> None:
        before = [column.content_width for column in self.columns.values()]
        await super()._on_idle(event)
        if [column.content_width for column in self.columns.values()] != before:
            self._update_count += 1  # the line caches are keyed by it: draw afresh
            self.refresh()


def _cursor_key(table: DataTable[Text]) -> str | None:
    if not table.row_count:
        return None
    try:
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    except (CellDoesNotExist, RowDoesNotExist):
        return None


def _first_of_each_key(rows: Sequence[tuple[str, tuple[Text, ...]]]
                       ) -> list[tuple[str, tuple[Text, ...]]]:
    # DataTable raises DuplicateKey on a second row with a key: a view that ever offers
    # one (two sources disagreeing for a moment) must cost a row, never the console.
    first = {key: cells for key, cells in reversed(rows)}  # the first of a key wins
    return [(key, first.pop(key)) for key, _cells in rows if key in first]


def sync_rows(table: DataTable[Text], rows: Sequence[tuple[str, tuple[Text, ...]]]) -> bool:
    """Make `table` show `rows` (key, cells) in that order; returns True if anything changed.

    Rows whose key is known are updated cell by cell only where the text
    changed; unknown keys are added; keys no longer present are removed. A
    DataTable only appends, so when the order changes or a new key belongs
    before a known one the table is rebuilt, and the cursor stays on its row.
    """
    rows = _first_of_each_key(rows)
    wanted = [key for key, _cells in rows]
    wanted_set = set(wanted)
    existing = [str(row_key.value) for row_key in table.rows]
    existing_set = set(existing)
    kept = [key for key in existing if key in wanted_set]
    in_order = kept == [key for key in wanted if key in existing_set]
    # New keys can only be appended: all of them must come after the last kept one.
    appendable = not kept or all(key in existing_set for key in wanted[: wanted.index(kept[-1])])
    if not (in_order and appendable):
        cursor = _cursor_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if cursor in wanted_set:
            table.move_cursor(row=wanted.index(cursor))
        return True
    changed = False
    for key in existing_set - wanted_set:
        table.remove_row(key)
        changed = True
    columns = list(table.columns)
    known = set(kept)
    for key, cells in rows:
        if key not in known:
            table.add_row(*cells, key=key)
            changed = True
            continue
        for column, cell in zip(columns, cells, strict=False):
            try:
                current = table.get_cell(key, column)
            except (CellDoesNotExist, RowDoesNotExist):
                current = None
            if (
                not isinstance(current, Text)
                or current.plain != cell.plain
                or current.style != cell.style
            ):
                table.update_cell(key, column, cell, update_width=True)  # text may grow
                changed = True
    return changed
