"""The Mesh pane: which mesh and how it was found, proxy sync, mTLS, AuthorizationPolicies,
traffic sparklines per workload and the namespace's Warning events.

Fed from two places: the war room's first listing (`show_mesh`) and the live
sources (`show_snapshot`, `add_traffic`, `add_event`), each cheap: rows are
plain `MeshRow`s and the table is diffed, never rebuilt, on an update.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Static

from actions.sources.series import TrafficSeries
from store.wording import counted
from tui.safe import safe_text
from tui.views.cluster_views import (
    GOOD_STATES,
    SPARK_WIDTH,
    MeshRow,
    MeshView,
    TrafficRow,
    event_rows,
    snapshot_view,
    traffic_rows,
)
from tui.widgets.pane import Pane
from tui.widgets.table_diff import DiffTable, sync_rows

if TYPE_CHECKING:
    from actions.sources.mesh import MeshSnapshot
    from actions.sources.traffic import TrafficSample
    from actions.sources.warning_events import WarningEvent

MESH_NAMES = {"istio": "Istio", "linkerd": "Linkerd"}
EVENTS_SHOWN = 30  # the pane keeps the newest Warning events; the record keeps them all


class MeshPane(Pane):
    """Fed with `show_mesh(MeshView)` or live items; `show_state` explains an empty pane."""

    PANE_TITLE = "Mesh"
    # State before the name: a side pane cuts the last columns, and long proxy names
    # (pod.namespace) pushed "⚠ STALE" out of sight.
    COLUMNS: ClassVar[tuple[str, ...]] = ("what", "state", "name", "detail")
    TRAFFIC_COLUMNS: ClassVar[tuple[str, ...]] = ("traffic", "now", "last 6 min", "")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._view: MeshView | None = None
        self._problem = ""  # why the mesh itself is unknown (forbidden, absent...)
        self._received = TrafficSeries(length=SPARK_WIDTH)
        self._mtls = TrafficSeries(length=SPARK_WIDTH)
        self._plaintext: dict[str, float] = {}
        self._events: deque[WarningEvent] = deque(maxlen=EVENTS_SHOWN)
        self.rows: tuple[MeshRow, ...] = ()
        """What the mesh table shows, in order."""
        self.traffic: tuple[TrafficRow, ...] = ()
        """What the traffic table shows: a sparkline per workload."""

    def compose(self) -> ComposeResult:
        yield Static(Text("loading"), id="mesh-state", markup=False)
        table: DataTable[Text] = DiffTable(id="mesh-table", cursor_type="row")
        table.add_columns(*self.COLUMNS)
        yield table
        # The traffic table comes with the first traffic (`_traffic_table`).

    def on_mount(self) -> None:
        # Flag colours come from the theme: redraw the cells when it changes.
        self.app.theme_changed_signal.subscribe(self, self._restyle)

    def _restyle(self, _theme: object) -> None:
        self._redraw()

    @property
    def focus_target(self) -> Widget:
        return self.query_one(DataTable)

    # --- what feeds it ---------------------------------------------------------------------------

    def show_state(self, message: str) -> None:
        """Why the mesh is unknown ("absent: no cluster connection", "forbidden: ...")."""
        self._problem = message
        self._redraw()

    def show_mesh(self, view: MeshView) -> None:
        """A listing of the mesh (the war room's first load, or a live snapshot)."""
        self._view, self._problem = view, ""
        self._redraw()

    def show_snapshot(self, snapshot: MeshSnapshot) -> None:
        """One refresh of the live mesh monitor."""
        self.show_mesh(snapshot_view(snapshot))

    def add_traffic(self, sample: TrafficSample) -> None:
        """One Prometheus poll: the sparklines move one step."""
        self._received.add(sample.received_bytes)
        self._mtls.add(sample.mtls_failures)
        self._plaintext = dict(sample.plaintext)
        self._redraw()

    def add_event(self, event: WarningEvent) -> None:
        """A Warning event of the namespace (a repeat replaces the earlier count)."""
        same = event.uid or f"{event.namespace}/{event.name}"
        for kept in list(self._events):
            if (kept.uid or f"{kept.namespace}/{kept.name}") == same:
                self._events.remove(kept)
        self._events.append(event)
        self._redraw()

    # --- drawing ---------------------------------------------------------------------------------

    def _summary(self, rows: tuple[MeshRow, ...]) -> str:
        if self._problem and self._view is None:
            return self._problem
        view = self._view
        if view is None:
            mesh = "loading the mesh"
        else:
            name = MESH_NAMES.get(view.mesh or "", view.mesh or "no mesh")
            mesh = f"{name} ({view.detail})" if view.detail else name
        proxies = [row for row in rows if row.kind == "proxy"]
        parts = [safe_text(mesh)]
        if proxies:
            stale = sum(row.state == "STALE" for row in proxies)
            not_sent = sum(row.state == "NOT SENT" for row in proxies)
            sync = counted(len(proxies), "proxy")
            if stale or not_sent:
                sync += f": {stale} STALE, {not_sent} NOT SENT"
            parts.append(sync)
        flagged = sum(row.flagged for row in rows)
        if flagged:
            parts.append(f"{flagged} flagged")
        if self._problem:
            parts.append(safe_text(self._problem))
        return " \N{MIDDLE DOT} ".join(parts)

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        rows = (*(self._view.rows if self._view else ()), *event_rows(self._events))
        traffic = tuple(traffic_rows(
            {k: list(v) for k, v in self._received.series.items()},
            {k: list(v) for k, v in self._mtls.series.items()}, self._plaintext))
        self.rows, self.traffic = rows, traffic
        self.query_one("#mesh-state", Static).update(Text(self._summary(rows)))
        flagged = any(row.flagged for row in rows) or any(row.flagged for row in traffic)
        self.set_class(flagged, "-flagged")
        self.set_class(not rows, "-empty")
        self.set_class(bool(traffic), "-traffic")
        keys: dict[str, int] = {}
        cells = []
        for row in rows:  # two rows with one key (a repeated Linkerd check) must not collide
            keys[row.key] = keys.get(row.key, 0) + 1
            key = row.key if keys[row.key] == 1 else f"{row.key}#{keys[row.key]}"
            cells.append((key, self._cells(row)))
        traffic_table = self._traffic_table(create=bool(traffic))
        with self.app.batch_update():
            sync_rows(self.query_one("#mesh-table", DataTable), cells)
            if traffic_table is not None:
                sync_rows(traffic_table, [(row.key, self._traffic_cells(row)) for row in traffic])

    def _traffic_table(self, *, create: bool) -> DataTable[Text] | None:
        """The traffic table, mounted with the first traffic (`create`): hidden until then, it
        cost the console's first frame a table to build and style (bench/drill_launch.py)."""
        table = next(iter(self.query("#mesh-traffic").results(DataTable)), None)
        if table is None and create:
            table = DiffTable(id="mesh-traffic", cursor_type="row")
            table.add_columns(*self.TRAFFIC_COLUMNS)
            self.mount(table)  # in the tree at once: its rows can be set before it is mounted
        return table

    def _traffic_cells(self, row: TrafficRow) -> tuple[Text, ...]:
        colours = self.app.theme_variables
        bad = f"bold {colours.get('text-error', 'red')}"
        spark = colours.get("text-error" if row.kind == "mtls-fail" else "text-primary", "")
        return (
            Text(safe_text(row.name), style=bad if row.flagged else ""),
            Text(row.rate, style=bad if row.flagged else ""),
            Text(row.spark, style=spark),
            Text(safe_text(row.plaintext), style=bad if row.flagged else ""),
        )

    def _cells(self, row: MeshRow) -> tuple[Text, ...]:
        # The theme's text colours (text-error...) are the ones readable on both themes.
        colours = self.app.theme_variables
        if row.flagged:
            style = f"bold {colours.get('text-error', 'red')}"
            state = f"\N{WARNING SIGN} {row.state}"
        elif row.caution:
            style, state = f"bold {colours.get('text-warning', 'yellow')}", row.state
        elif row.state in GOOD_STATES:
            style, state = colours.get("text-success", "green"), row.state
        else:
            style, state = "", row.state
        return (
            Text(row.kind, style="dim"),
            Text(safe_text(state), style=style),
            Text(safe_text(row.name)),
            Text(safe_text(row.detail)),
        )
