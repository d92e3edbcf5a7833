"""Diffing a DataTable against fresh rows: stable keys, `update_cell` only where changed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist


def sync_rows(table: DataTable[Text], rows: Sequence[tuple[str, tuple[Text, ...]]]) -> bool:
    """Make `table` show `rows` (key, cells) in that order; returns True if anything changed.

    Rows whose key is known are updated cell by cell only where the text
    changed; unknown keys are added; keys no longer present are removed. When
    the order of known keys changes the table is rebuilt (rare: polls keep order).
    """
    wanted = [key for key, _cells in rows]
    existing = [str(row_key.value) for row_key in table.rows]
    kept = [key for key in existing if key in set(wanted)]
    if kept != [key for key in wanted if key in set(existing)]:
        table.clear()
        existing, kept = [], []
    changed = False
    for key in set(existing) - set(wanted):
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
                table.update_cell(key, column, cell)
                changed = True
    return changed
