"""The NetworkPolicies pane: selector, types, rule counts, emergency flag and drift against the
desired-state file; the selected one's YAML (key y).

Fed by the war room's listing (`show_policies`, with manifests) and by the
live policies watch (`show_snapshot`) and drift source (`show_drift`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from store.wording import counted
from tui.safe import safe_text
from tui.views.cluster_views import PolicyRow, live_policy_rows, with_findings
from tui.widgets.pane import Pane
from tui.widgets.table_diff import DiffTable, sync_rows

if TYPE_CHECKING:
    from actions.policy.drift import DriftFinding
    from actions.sources.policies import DriftReport, PolicySnapshot

# What the drift column says for each value of `PolicyRow.drift`.
DRIFT_TEXT = {"": "ok", "?": "?", "not desired": "extra"}
DRIFTED = ("missing", "extra", "changed", "not desired")


class PolicyPane(Pane):
    """Rows are pushed in with `show_policies`; `show_state` says loading/absent/forbidden."""

    PANE_TITLE = "NetworkPolicies"
    COLUMNS: ClassVar[tuple[str, ...]] = ("policy", "selector", "types", "in/out", "emerg",
                                          "drift")
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
        """What the table shows, by `namespace/name`, drift applied."""
        self._base: list[PolicyRow] = []
        self._findings: tuple[DriftFinding, ...] | None = None
        self._namespace = ""
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text("loading"), id="policy-state", markup=False)
        table: DataTable[Text] = DiffTable(id="policy-table", cursor_type="row")
        table.add_columns(*self.COLUMNS)
        yield table
        yield Static("", id="policy-yaml", markup=False)

    def on_mount(self) -> None:
        # Flag colours come from the theme: redraw the cells when it changes.
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: object) -> None:
        if self._loaded:
            self._redraw()

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

    # --- what feeds it ---------------------------------------------------------------------------

    def show_state(self, message: str) -> None:
        self.query_one("#policy-state", Static).update(Text(message))
        self.set_class(True, "-empty")

    def show_policies(self, policies: Sequence[PolicyRow]) -> None:
        """A full listing (with manifests and drift) from the cluster."""
        self._base = list(policies)
        if policies:
            self._namespace = policies[0].namespace or self._namespace
        self._loaded = True
        self._redraw()

    def show_snapshot(self, snapshot: PolicySnapshot) -> None:
        """The live watch's policies after a change; known manifests are kept."""
        self._namespace = snapshot.namespace
        known = {row.key: row for row in self._base}
        self._base = live_policy_rows(snapshot, known)
        self._loaded = True
        self._redraw()

    def show_drift(self, report: DriftReport) -> None:
        """The drift source's findings: they decide every row's drift marker from now on."""
        self._namespace = report.namespace or self._namespace
        self._findings = report.findings
        self._redraw()

    def missing_manifests(self) -> list[str]:
        """Keys of shown policies whose YAML is not known yet (new since the last listing)."""
        return [row.key for row in self._base if not row.manifest and row.drift != "missing"]

    # --- drawing ---------------------------------------------------------------------------------

    def _rows(self) -> list[PolicyRow]:
        if self._findings is None:
            return self._base
        return with_findings(self._base, self._findings, self._namespace)

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        shown = self._rows()
        self.policies = {row.key: row for row in shown}
        rows = [(row.key, self._cells(row)) for row in shown]
        with self.app.batch_update():
            sync_rows(self.query_one(DataTable), rows)
        self.set_class(not rows, "-empty")
        self.query_one("#policy-state", Static).update(Text(self._summary(shown)))
        self._show_yaml()

    @staticmethod
    def _summary(rows: Iterable[PolicyRow]) -> str:
        rows = list(rows)
        if not rows:
            return "no NetworkPolicies in this namespace"
        drifted = sum(row.drift in DRIFTED for row in rows)
        emergency = sum(row.emergency for row in rows)
        parts = [counted(len(rows) - sum(row.drift == "missing" for row in rows), "policy")]
        if emergency:
            parts.append(f"{emergency} emergency")
        if drifted:
            parts.append(f"{drifted} drifted from the desired state")
        elif any(row.drift == "?" for row in rows):
            parts.append("drift unknown: no desired-state file")
        return ", ".join(parts)

    def _cells(self, row: PolicyRow) -> tuple[Text, ...]:
        colours = self.app.theme_variables
        warning = f"bold {colours.get('text-warning', 'yellow')}"
        error = f"bold {colours.get('text-error', 'red')}"
        drift_style = {"missing": error, "changed": warning, "extra": warning,
                       "not desired": warning}.get(row.drift, "")
        drift = DRIFT_TEXT.get(row.drift, row.drift)
        if row.drift in DRIFTED:
            drift = f"\N{WARNING SIGN} {drift}"
        rules = "-" if row.drift == "missing" else f"{row.ingress_rules}/{row.egress_rules}"
        return (
            Text(safe_text(row.name)),
            Text(safe_text(row.selector)),
            Text(safe_text(row.types)),
            Text(rules),
            Text("EMERG" if row.emergency else "", style=error if row.emergency else ""),
            Text(safe_text(drift), style=drift_style),
        )

    def action_toggle_yaml(self) -> None:
        self.toggle_class("-yaml")
        self._show_yaml()

    def _show_yaml(self) -> None:
        if not self.has_class("-yaml"):
            return
        self.query_one("#policy-yaml", Static).update(Text(yaml_text(self.selected)))

    @on(DataTable.RowHighlighted, "#policy-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_yaml()
        self.post_message(self.PolicySelected(self.selected))


def yaml_text(policy: PolicyRow | None) -> str:
    """The policy's YAML, after a comment saying how it drifted; literal, never markup."""
    if policy is None:
        return "no policy selected"
    head = ""
    if policy.drift in DRIFTED:
        drift = DRIFT_TEXT.get(policy.drift, policy.drift)
        head = f"# drift: {drift}: {policy.drift_detail or 'differs from the desired state'}\n"
    if policy.drift == "missing":
        return safe_text(f"{head}# not in the cluster", multiline=True)
    body: Any = policy.yaml() if policy.manifest else "# YAML not loaded yet"
    return safe_text(f"{head}{body}".rstrip("\n"), multiline=True)
