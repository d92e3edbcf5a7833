"""The NetworkPolicies pane: selector, types, emergency flag and drift; the selected one's YAML."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.safe import safe_text
from tui.widgets.cluster_views import PolicyRow
from tui.widgets.pane import Pane
from tui.widgets.table_diff import sync_rows


class PolicyPane(Pane):
    """Rows are pushed in with `show_policies`; `show_state` says loading/absent/forbidden."""

    PANE_TITLE = "NetworkPolicies"
    COLUMNS: ClassVar[tuple[str, ...]] = ("policy", "selector", "types", "emerg", "drift")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "toggle_yaml", "YAML", id="policies.yaml",
                tooltip="Show the selected policy's YAML"),
    ]

    class PolicySelected(Message):
        def __init__(self, policy: PolicyRow | None) -> None:
            super().__init__()
            self.policy = policy

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.policies: dict[str, PolicyRow] = {}
        self._last: Sequence[PolicyRow] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("loading"), id="policy-state", markup=False)
        table: DataTable[Text] = DataTable(id="policy-table", cursor_type="row")
        table.add_columns(*self.COLUMNS)
        yield table
        yield Static("", id="policy-yaml", markup=False)

    def on_mount(self) -> None:
        # Flag colours come from the theme: redraw the cells when it changes.
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: object) -> None:
        if self._last is not None:
            self.show_policies(self._last)

    @property
    def focus_target(self) -> Widget:
        return self.query_one(DataTable)

    @property
    def selected(self) -> PolicyRow | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.policies.get(str(key))

    def show_state(self, message: str) -> None:
        self.query_one("#policy-state", Static).update(Text(message))
        self.set_class(True, "-empty")

    def show_policies(self, policies: Sequence[PolicyRow]) -> None:
        self._last = policies
        self.policies = {row.key: row for row in policies}
        rows = [(row.key, self._cells(row)) for row in policies]
        with self.app.batch_update():
            sync_rows(self.query_one(DataTable), rows)
        self.set_class(not rows, "-empty")
        self.query_one("#policy-state", Static).update(
            Text("" if rows else "no NetworkPolicies in this namespace")
        )
        self._show_yaml()

    def _cells(self, row: PolicyRow) -> tuple[Text, ...]:
        warning = f"bold {self.app.theme_variables.get('warning', 'yellow')}"
        drift_style = warning if row.drift and row.drift != "?" else ""
        return (
            Text(safe_text(row.name)),
            Text(safe_text(row.selector)),
            Text(safe_text(row.types)),
            Text("EMERG" if row.emergency else "", style=warning if row.emergency else ""),
            Text(safe_text(row.drift or "ok"), style=drift_style),
        )

    def action_toggle_yaml(self) -> None:
        self.toggle_class("-yaml")
        self._show_yaml()

    def _show_yaml(self) -> None:
        if not self.has_class("-yaml"):
            return
        policy = self.selected
        text = safe_text(policy.yaml(), multiline=True) if policy else "no policy selected"
        self.query_one("#policy-yaml", Static).update(Text(text))

    @on(DataTable.RowHighlighted, "#policy-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_yaml()
        self.post_message(self.PolicySelected(self.selected))
