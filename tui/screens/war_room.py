"""The war-room screen: header, phase bar, four panes (tabs when small) and the incident keys.

Attributes down, messages up: the screen reads the record in workers and sets
what each pane shows; panes post messages (`AlertPane.AlertSelected`) and
never call the screen. Every record read or write runs off the event loop
(`WarRoomApp.in_record`), so the UI never waits on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.events import DescendantFocus, Key, Resize
from textual.message import Message
from textual.widgets import Label, Tab, Tabs

from actions.sources.batches import AlertBatch
from actions.sources.health import SourceHealth
from store import PHASES, Incident, TimelineEntry
from store.alert_summary import first_received_time
from store.errors import RecordError
from tui.safe import safe_text
from tui.screens.keys.alerting import AlertingKeys
from tui.screens.keys.checklist import ChecklistKeys
from tui.screens.keys.cluster import ClusterKeys
from tui.screens.keys.facilitator import FacilitatorKeys
from tui.screens.keys.feeds import LiveFeeds
from tui.screens.keys.incident import IncidentKeys
from tui.screens.keys.replay import ReplayKeys
from tui.screens.keys.report import ReportKeys
from tui.screens.war_room_base import SourceItem, WarRoomBase
from tui.textual_workarounds import LateCallbacksChecked, bindings_for_key
from tui.widgets.alert_list import AlertList
from tui.widgets.alert_pane import AlertPane
from tui.widgets.drill_strip import DrillStrip
from tui.widgets.header import NO_INCIDENT, NO_INCIDENT_READ_ONLY, WarRoomHeader
from tui.widgets.key_footer import KeyFooter
from tui.widgets.mesh_pane import MeshPane
from tui.widgets.pane import Pane
from tui.widgets.phase_bar import PhaseBar
from tui.widgets.policy_pane import PolicyPane
from tui.widgets.timeline_pane import TimelineList, TimelinePane

if TYPE_CHECKING:
    from tui.dialogs.help import HelpRow
    from tui.services import LiveSource

PANES: tuple[tuple[str, str], ...] = (
    ("alerts", "1 Falco"),
    ("mesh", "2 Mesh"),
    ("policies", "3 Policies"),
    ("timeline", "4 Timeline"),
)
# Below this size the four panes become tabs: at 80x24 a quarter pane is unreadable.
NARROW_WIDTH, NARROW_HEIGHT = 120, 34
CLOCK_INTERVAL = 1.0  # the header clocks tick at 1 Hz from the injected clock
# Other writers (the follower, `warroom act`, a second console) change the record
# too: the incident and its timeline are re-read this often.
RECORD_POLL_INTERVAL = 2.0
# Review replays the record, offline by design: the cluster panes are not missing, just unused.
NOT_READ_IN_REVIEW = "not read in review: the record replays the incident, not the cluster"


def _narrow(width: int, height: int) -> bool:
    """Too small for four panes at once: they collapse into tabs."""
    return width < NARROW_WIDTH or height < NARROW_HEIGHT


# Bases in reverse footer order: Textual merges bindings from the most basic class up.
class WarRoomScreen(
    ReplayKeys,
    FacilitatorKeys,
    ReportKeys,
    ChecklistKeys,
    AlertingKeys,
    ClusterKeys,
    IncidentKeys,
    LiveFeeds,
    LateCallbacksChecked,
    WarRoomBase,
):
    """One incident, everything the runbook asks to look at, every key the runbook needs."""

    KEY_GROUP: ClassVar[str] = "panes"
    AUTO_FOCUS = "#alert-list"  # the Falco list first, so the footer is built once with its keys

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("z", "zoom", "Zoom", id="pane.zoom", tooltip="Zoom the focused pane"),
        Binding("1", "show_pane('alerts')", "Falco", show=False, id="pane.alerts"),
        Binding("2", "show_pane('mesh')", "Mesh", show=False, id="pane.mesh"),
        Binding("3", "show_pane('policies')", "Policies", show=False, id="pane.policies"),
        Binding("4", "show_pane('timeline')", "Timeline", show=False, id="pane.timeline"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    class IncidentChanged(Message):
        """The incident on screen was (re)loaded from the record."""

        def __init__(self, incident: Incident | None) -> None:
            super().__init__()
            self.incident = incident

    def __init__(self) -> None:
        # The mode and size classes from the start: added on mount, each restyled every widget.
        services = self.war_app.services
        width, height = self.app.size
        classes = [f"-{services.mode}"]
        classes += ["-readonly"] if services.readonly else []
        classes += ["-narrow"] if _narrow(width, height) else []
        super().__init__()
        self.add_class(*classes, update=False)  # not mounted yet: styled once, on mount
        self._loaded_once = False
        self._warmed = False  # the dialogs' first openings readied (warm_up), once
        self._shown: Incident | None = None  # what the header last showed
        # When warroom received the first alert of the incident as last read (the clocks' start).
        self._first_received_for: Incident | None = None
        self._first_received: datetime | None = None
        # The incident's whole timeline as last read, so a poll reads only newer entries.
        self._timeline_for: str | None = None
        self._timeline: list[TimelineEntry] = []
        self._record_problem: str | None = None  # why the record could not be read, if it could not

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        services = self.war_app.services
        yield WarRoomHeader(
            mode=services.mode, context=services.context, namespace=services.namespace, id="header"
        )
        yield PhaseBar(id="phase-bar")
        if services.drill is not None:
            yield DrillStrip(services.drill.scenario_name)
        yield Label(services.readonly_reason, id="readonly-banner", markup=False)
        yield Label("", id="cluster-problem", markup=False)
        yield Label("", id="record-problem", markup=False)
        if self.has_class("-narrow"):
            yield self._pane_tabs("alerts")
        with Container(id="panes"):
            yield AlertPane(id="alerts", classes="-active", severity_of=self.war_app.severity_of)
            yield MeshPane(id="mesh")
            yield PolicyPane(id="policies")
            yield TimelinePane(id="timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_interval(CLOCK_INTERVAL, self._tick, name="header-clock")
        self.set_interval(RECORD_POLL_INTERVAL, self._poll_record, name="record-poll")
        self.load_incident()
        self.connect_and_start()

    @work(exclusive=True, group="setup", exit_on_error=False)
    async def connect_and_start(self) -> None:
        """Run the app's setup hook (connecting in this event loop), then panes and sources."""
        # After the first frame: starting a drill cluster and importing kubernetes take the
        # interpreter for a while. A worker from the start, so waiting on workers includes it.
        await self.war_app.first_frame.wait()
        await self.war_app.run_setup()
        services = self.war_app.services
        shown = self.incident
        if services.drill_cluster and shown is not None and services.incident_id is None \
                and not services.incident_scope.admits(shown):
            # `live` on the drill cluster takes the drill's incidents (cli/console.py): a real
            # one picked before it knew must not get the drill's actions.
            self.incident = None
            await self.refresh_from_record()
        self.refresh_bindings()  # the cluster keys apply once setup gave an actions handle
        if services.mode != "review":  # a review shows where its incident was recorded
            self.query_one(WarRoomHeader).set_where(services.context, services.namespace)
        if services.drill_cluster:  # a team drill's participant: drill incidents, drill badge
            self.query_one(WarRoomHeader).set_mode("drill")
        if services.cluster_problem:
            self.show_cluster_problem(services.cluster_problem)
            for pane in (self.query_one(PolicyPane), self.query_one(MeshPane)):
                pane.show_state(f"unavailable: {services.cluster_problem}")
            return
        if services.cluster is not None:
            from actions.runbook.status import access_problem

            # Said at once, as `warroom status` says it, rather than after the panes' own
            # (10 s) timeouts; the panes and sources still start: it may be passing.
            problem = await access_problem(
                services.cluster, services.namespace, mesh=self.war_app.settings.mesh.provider
            )
            if problem:
                self.show_cluster_problem(problem)
        self.load_cluster()
        source_or_list = self.war_app.services.source
        sources = source_or_list if isinstance(source_or_list, list | tuple) else [source_or_list]
        for source in sources:
            if source is not None:
                self.run_source(source)

    def show_record_problem(self, problem: str | None) -> None:
        """Say the record cannot be read (a banner, and a toast when it starts), or clear it."""
        banner = self.query_one("#record-problem", Label)
        if problem is None:
            banner.remove_class("-shown")
            self._record_problem = None
            return
        said = f"warroom cannot read the record {self.war_app.services.record.path}: {problem}"
        if said != self._record_problem:
            self.notify(safe_text(f"{said}. `warroom verify` says more."), severity="error",
                        title="Record", markup=False, timeout=30)
        self._record_problem = said
        banner.update(Text(safe_text(f"{said} (warroom verify)")))
        banner.add_class("-shown")

    def show_cluster_problem(self, problem: str | None) -> None:
        """Say why the cluster cannot be used (a banner and a toast), or clear it (None)."""
        banner = self.query_one("#cluster-problem", Label)
        shown = banner.has_class("-shown")
        if problem is None:
            if shown:
                banner.remove_class("-shown")
            return
        banner.update(Text(f"Cluster: {safe_text(problem)}"))
        banner.add_class("-shown")
        self.notify(safe_text(problem), title="Cluster", severity="error", timeout=20,
                    markup=False)

    def pane(self, key: str) -> Pane:
        return self.query_one(f"#{key}", Pane)

    @property
    def alert_pane(self) -> AlertPane:
        return self.query_one(AlertPane)

    def current_pane(self) -> Pane:
        focused = self.focused
        while focused is not None and not isinstance(focused, Pane):
            focused = focused.parent  # type: ignore[assignment]
        if isinstance(focused, Pane):
            return focused
        return next(iter(self.query(".pane.-active").results(Pane)), self.alert_pane)

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        self._update_narrow()

    def _update_narrow(self) -> None:
        width, height = self.app.size
        narrow = _narrow(width, height)
        if narrow and not self.query("#pane-tabs"):
            active = next(iter(self.query(".pane.-active").results(Pane)), self.alert_pane)
            self.mount(self._pane_tabs(active.id or "alerts"), before="#panes")
        self.set_class(narrow, "-narrow")

    @staticmethod
    def _pane_tabs(active: str) -> Tabs:
        """The panes as tabs, for a screen too small for four panes. A screen that starts
        wide mounts them when it first becomes small: they took an eighth of the CPU of
        the war room's first frame (48 ms), hidden (bench/drill_launch.py)."""
        return Tabs(*(Tab(title, id=f"tab-{key}") for key, title in PANES), id="pane-tabs",
                    active=f"tab-{active}")

    def _activate(self, key: str) -> None:
        for pane_key, _title in PANES:
            self.pane(pane_key).set_class(pane_key == key, "-active")
        for tabs in self.query("#pane-tabs").results(Tabs):  # none yet on a wide screen
            if tabs.active != f"tab-{key}":
                tabs.active = f"tab-{key}"

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        key = (event.tab.id or "tab-alerts").removeprefix("tab-")
        pane = self.pane(key)
        if not pane.has_class("-active"):
            self._activate(key)
            pane.focus_pane()

    @on(DescendantFocus)
    def _focus_moved(self, event: DescendantFocus) -> None:
        pane = self.current_pane()
        if pane.id and not pane.has_class("-active"):
            self._activate(pane.id)
        if self.has_class("-zoomed") and not pane.has_class("-zoomed"):
            for other in self.query(".pane.-zoomed"):
                other.remove_class("-zoomed", update=False)
            pane.add_class("-zoomed", update=False)
            self._restyle_zoom()

    def action_show_pane(self, key: str) -> None:
        self._activate(key)
        self.pane(key).focus_pane()

    def action_zoom(self) -> None:
        pane = self.current_pane()
        zoomed = not self.has_class("-zoomed")
        for other in self.query(".pane"):
            other.set_class(zoomed and other is pane, "-zoomed", update=False)
        self.set_class(zoomed, "-zoomed", update=False)
        self._restyle_zoom()

    def _restyle_zoom(self) -> None:
        """Restyle what `-zoomed` changes (war_room.tcss): #panes, its panes and the tabs.

        A class set on the screen would restyle every widget on it (~100 ms under
        an alert flood); the zoom rules touch only these.
        """
        panes = self.query_one("#panes")
        self.app.stylesheet.update_nodes([panes, *panes.children, *self.query("#pane-tabs")])

    def action_help(self) -> None:
        # Imported on first use (and by the warm-up, tui/warmup.py): not before the first frame.
        from tui.dialogs.help import HelpScreen

        self.app.push_screen(HelpScreen(self.help_rows(), dict(self.war_app.settings.keymap)))

    def help_rows(self) -> list[HelpRow]:
        from tui.dialogs.help import binding_rows, typed

        rows = binding_rows("everywhere", self.app.BINDINGS)
        rows.append(("everywhere", typed(self.app.COMMAND_PALETTE_BINDING), "Command palette",
                     "app.command_palette"))
        for group, bindings in self.key_groups():
            # What this mode hides from the footer (review changes nothing; a drill's score
            # key is not review's), the help leaves out too; a dimmed key stays listed.
            shown = [b for b in bindings
                     if self.check_action(b.action.partition("(")[0], ()) is not False]
            rows += binding_rows(group.KEY_GROUP, shown)
        rows += binding_rows("Falco pane", AlertPane.BINDINGS)
        rows += binding_rows("Falco list", AlertList.BINDINGS)
        rows += binding_rows("Policies pane", PolicyPane.BINDINGS)
        rows += binding_rows("Timeline", TimelineList.BINDINGS)
        return rows

    # --- what may run ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "review_score":
            return self.review_can_score()
        review = self.war_app.services.mode == "review"
        if review and (action == "cluster_action" or action in self.write_actions
                       or action.startswith("drill_")):
            return False  # review changes nothing: its footer offers only what works there
        if action == "cluster_action":
            return None if self.why_disabled(action) else True
        if action in self.write_actions and self.war_app.services.readonly:
            return None  # shown dimmed; the banner says why
        if action in self.incident_actions and self.incident is None:
            return None
        if action == "decision" and self.incident is not None and not self.incident.is_open:
            return None
        if (
            action == "next_phase"
            and self.incident is not None
            and (self.incident.phase == PHASES[-1] or not self.incident.is_open)
        ):
            return None
        return True

    def why_disabled(self, action: str) -> str | None:
        """Why `action` cannot run now, in words (None when it can)."""
        if action == "cluster_action":
            services = self.war_app.services
            if services.readonly:
                return services.readonly_reason
            if services.actions is None:
                return "no cluster connection: the cluster actions need one"
            return None
        if action in self.write_actions and self.war_app.services.readonly:
            return self.war_app.services.readonly_reason
        if action in self.incident_actions and self.incident is None:
            return "no incident on screen: press o to open one"
        if self.check_action(action, ()) is None and self.incident is not None:
            return f"{self.incident.id} is {self.incident.status} in {self.incident.phase}"
        return None

    def on_key(self, event: Key) -> None:
        """A dimmed key says why it does nothing instead of staying silent."""
        explained = self.write_actions | self.incident_actions
        for binding in bindings_for_key(self, event.key):
            name = binding.action.partition("(")[0]
            if name in explained and (reason := self.why_disabled(name)):
                event.stop()
                self.notify(reason, title="Not available", severity="warning")
                return

    # --- reading the record ---------------------------------------------------------------------

    def _tick(self) -> None:
        self.query_one(WarRoomHeader).tick(self.war_app.clock())

    def _poll_record(self) -> None:
        """Re-read the record unless the last read is still running.

        On a busy machine a read can outlast the interval: cancelling it for a new
        one would never finish a read; skipping a beat shows the same data later.
        """
        if not any(w.group == "load" and not w.is_finished for w in self.workers):
            self.load_incident()

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load_incident(self) -> None:
        await self.refresh_from_record()
        if not self._warmed:
            self._warmed = True
            self.call_after_refresh(self.warm_up)  # in the screen's context: it builds widgets

    @work(group="warm-up", exit_on_error=False)
    async def warm_up(self) -> None:
        """After the first screen: ready what the dialogs' first openings would pay for."""
        from tui.warmup import import_dialogs, style_steps

        await self.war_app.first_frame.wait()  # nothing here delays the first frame
        await asyncio.to_thread(import_dialogs)
        for step in style_steps(self.app):
            step()
            await asyncio.sleep(0)  # a class at a time: keys and alerts go in between
        if self.war_app.on_warmed is not None:
            self.war_app.on_warmed()

    def incident_timeline(self) -> list[TimelineEntry]:
        shown = self.incident.id if self.incident else None
        return self._timeline if shown is not None and self._timeline_for == shown else []

    async def refresh_from_record(self) -> None:
        """Reload the incident and its timeline from the record (off the event loop)."""
        app = self.war_app
        record = app.services.record
        wanted = self.incident.id if self.incident else app.services.incident_id

        known_for, known = self._timeline_for, self._timeline

        def read() -> tuple[Incident | None, list[Any], datetime | None]:
            incident = record.incidents.get(wanted) if wanted else None
            if incident is None and wanted is None:
                incident = record.incidents.pick(app.services.incident_scope)
            if incident is None:
                return None, [], None
            # The clocks' first sign (store.response_times), read again when the incident
            # changed: alerts received later never move it earlier.
            first = self._first_received
            if incident != self._first_received_for:
                first = first_received_time(record, incident.id)
            if incident.id != known_for or not known:
                return incident, record.timeline.for_incident(incident.id), first
            # Only what other writers added since the last poll: the record is append-only.
            after = known[-1].seq
            return incident, known + record.timeline.for_incident(incident.id, after=after), first

        try:
            incident, entries, first_received = await app.in_record(read)
        except (RecordError, sqlite3.DatabaseError) as error:
            # Said, never shown as "no incident": the last incident read stays on screen.
            self.show_record_problem(f"{error}")
            return
        # An incident row no warroom writes is skipped by the pick (record.unreadable): with
        # nothing else to show, "no incident" would hide the one that cannot be read.
        skipped = [m for m in record.unreadable if m.startswith("incident ")]
        self.show_record_problem(skipped[-1] if incident is None and skipped else None)
        self._timeline_for = incident.id if incident else None
        self._timeline = entries
        self._first_received_for = incident
        self._first_received = first_received
        # Review replay (keys/replay.py): the incident and timeline as of the replay moment.
        incident, entries = self.as_of(incident, entries)
        changed = not self._loaded_once or incident != self._shown
        self._loaded_once = True
        self._shown = incident
        self.incident = incident
        header = self.query_one(WarRoomHeader)
        absent = self._absent_text()
        if app.services.mode == "review" and incident is not None:
            # Where the recorded incident happened: a review connects to no cluster.
            header.set_where(incident.cluster_context,
                             incident.namespace or app.services.namespace)
        header.set_incident(incident, app.clock(), absent, first_received)
        self.query_one(PhaseBar).set_phase(incident.phase if incident else None)
        timeline = self.query_one(TimelinePane)
        if incident is None:
            timeline.show_state(absent if absent != NO_INCIDENT
                                else "no incident open: press o to open one")
        else:
            timeline.show_entries(entries, incident.detected_at or incident.opened_at)
        if changed:  # the keys that apply follow `incident` (a reactive) by themselves
            self.post_message(self.IncidentChanged(incident))

    def _absent_text(self) -> str:
        """What the header says with no incident on screen: review opens none, and a replay
        before the incident was opened shows it did not exist yet."""
        if (pending := self.not_opened_yet) is not None:
            return f"{pending.id} not opened yet (opened at {pending.opened_at:%H:%M:%S} UTC)"
        return NO_INCIDENT_READ_ONLY if self.war_app.services.mode == "review" else NO_INCIDENT

    @work(exclusive=True, group="cluster", exit_on_error=False)
    async def load_cluster(self) -> None:
        """List NetworkPolicies and mesh objects through the injected cluster, if any."""
        from tui.views.cluster_loader import load_mesh, load_policies

        services = self.war_app.services
        policies, mesh = self.query_one(PolicyPane), self.query_one(MeshPane)
        if services.cluster is None:
            why = (
                NOT_READ_IN_REVIEW if services.mode == "review" else "absent: no cluster connection"
            )
            policies.show_state(why)
            mesh.show_state(why)
            return
        desired = (
            self.war_app.settings.policies.desired_state_file if self.war_app.settings else None
        )
        policy_rows, policy_error = await load_policies(
            services.cluster, services.namespace, desired
        )
        if policy_error:
            policies.show_state(policy_error)
        else:
            policies.show_policies(policy_rows)
        view, mesh_error = await load_mesh(services.cluster, services.namespace)
        if mesh_error:
            mesh.show_state(mesh_error)
        else:
            mesh.show_mesh(view)
        if not (policy_error or mesh_error):
            self.show_cluster_problem(None)  # it answers now

    # --- live sources ---------------------------------------------------------------------------

    @work(group="source", exit_on_error=False)
    async def run_source(self, source: LiveSource) -> None:
        """Run one live source (`await source.run(sink)`) until the console closes."""
        await source.run(self.source_sink)

    def source_sink(self, item: object) -> None:
        """What a live source hands over: alert batches and health. Cheap, any thread."""
        if threading.get_ident() != self.war_app.loop_thread:
            self.app.call_from_thread(self.source_sink, item)
            return
        if isinstance(item, AlertBatch):
            self.alert_pane.push_alerts(item)
        elif isinstance(item, SourceHealth):
            header = self.query_one(WarRoomHeader)
            header.set_health({**header.health, item.source: item.state})
        else:
            self.post_message(SourceItem(item))  # for the key groups that take it

    @on(TimelinePane.EntryOpened)
    def _open_entry(self, event: TimelinePane.EntryOpened) -> None:
        from tui.dialogs.timeline_entry import TimelineEntryScreen

        self.app.push_screen(TimelineEntryScreen(event.entry, event.detected_at))

    @on(AlertPane.AlertSelected)
    def _alert_selected(self, event: AlertPane.AlertSelected) -> None:
        self.selected_alert = event.row
