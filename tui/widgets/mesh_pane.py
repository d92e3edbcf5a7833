"""The Mesh pane: which mesh, proxy sync, mTLS per namespace/workload, AuthorizationPolicies."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.safe import safe_text
from tui.widgets.cluster_views import MeshRow, MeshView
from tui.widgets.pane import Pane
from tui.widgets.table_diff import sync_rows


class MeshPane(Pane):
    """Fed with `show_mesh(MeshView)`; `show_state` explains an empty pane."""

    PANE_TITLE = "Mesh"
    COLUMNS: ClassVar[tuple[str, ...]] = ("what", "name", "state", "detail")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._last: MeshView | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("loading"), id="mesh-state", markup=False)
        table: DataTable[Text] = DataTable(id="mesh-table", cursor_type="row")
        table.add_columns(*self.COLUMNS)
        yield table

    def on_mount(self) -> None:
        # Flag colours come from the theme: redraw the cells when it changes.
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: object) -> None:
        if self._last is not None:
            self.show_mesh(self._last)

    @property
    def focus_target(self) -> Widget:
        return self.query_one(DataTable)

    def show_state(self, message: str) -> None:
        self.query_one("#mesh-state", Static).update(Text(message))
        self.set_class(True, "-empty")

    def show_mesh(self, view: MeshView) -> None:
        self._last = view
        mesh = safe_text(view.mesh or "no mesh detected")
        detail = f": {safe_text(view.detail)}" if view.detail else ""
        flagged = sum(row.flagged for row in view.rows)
        warning = f", {flagged} flagged" if flagged else ""
        self.query_one("#mesh-state", Static).update(Text(f"{mesh}{detail}{warning}"))
        self.set_class(bool(flagged), "-flagged")
        self.set_class(not view.rows, "-empty")
        rows = [(row.key, self._cells(row)) for row in view.rows]
        with self.app.batch_update():
            sync_rows(self.query_one(DataTable), rows)

    def _cells(self, row: MeshRow) -> tuple[Text, ...]:
        style = f"bold {self.app.theme_variables.get('error', 'red')}" if row.flagged else ""
        state = f"\N{WARNING SIGN} {row.state}" if row.flagged else row.state
        return (
            Text(row.kind),
            Text(safe_text(row.name)),
            Text(safe_text(state), style=style),
            Text(safe_text(row.detail)),
        )
