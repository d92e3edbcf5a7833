"""The runbook's checklist of one phase, as a modal: tick items, check some against the cluster.

Opens on the incident's current phase; left/right (or a click on a tab)
shows another phase's list. Space or enter ticks or unticks the highlighted
item through `record.checklist.tick` (which writes the timeline entry); `v`
runs the phase's verifiers in a worker (`actions.checklists`) and shows
verified / not verified / unknown with the evidence.

Items tick themselves from what the record proves (`actions.checklists.proven`):
on opening, and every time the record is re-read, a succeeded action or
stored evidence that proves an item ticks it as warroom, citing it ("ticked
by warroom from action #12"); a check that answers "verified" ticks its item
the same way. A person's tick or untick is recorded with the last check's
verdict and evidence, and stands until something newer proves the item.

Review mode shows the recorded ticks (in a replay, those recorded by its
moment) and refuses ticking and checking with the reason. Every record call
runs on the record's thread; every string from the record or the cluster is
shown as plain text (no markup, controls replaced).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Key, Resize
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from actions.checklists import (
    NOT_VERIFIED,
    VERIFIED,
    WARROOM,
    ChecklistItem,
    PhaseChecklist,
    Verdict,
    VerifyContext,
    load_checklists,
    run_verifier,
    tick_proven,
    tick_verified,
)
from store import PHASE_TITLES, PHASES, ChecklistTick, Incident
from tui.replay import ReplayClock
from tui.safe import safe_text
from tui.textual_workarounds import StyledOnce, bindings_for_key
from tui.widgets.key_footer import KeyFooter
from tui.widgets.tab_row import TabRow

if TYPE_CHECKING:
    from tui.app import WarRoomApp

STYLES = Path(__file__).parent.parent / "styles" / "checklist.tcss"
NARROW_WIDTH = 120
RECORD_POLL_INTERVAL = 2.0  # below this the detail goes under the list instead of beside it
CHECKING = "checking"
VERDICT_STYLES = {VERIFIED: "$text-success", NOT_VERIFIED: "$text-error bold"}
VERDICT_MARKS = {VERIFIED: "\N{CHECK MARK}", NOT_VERIFIED: "\N{BALLOT X}"}
TICKED, UNTICKED = "\N{BALLOT BOX WITH CHECK}", "\N{BALLOT BOX}"
Ticks = Mapping[tuple[str, str], ChecklistTick]


def _when(tick: ChecklistTick) -> str:
    return f"{tick.at:%Y-%m-%d %H:%M:%S} UTC"


def ticked_by(tick: ChecklistTick) -> str:
    """`alice`, or for warroom's own ticks what proved the item: `warroom from action #12`."""
    who = tick.actor or "unknown"
    prefix = f"ticked by {WARROOM} from "
    if who == WARROOM and tick.note and tick.note.startswith(prefix):
        return f"{WARROOM} from {tick.note[len(prefix) :].split(': ', 1)[0]}"
    return who


def verdict_content(verdict: Verdict | None, checking: bool = False) -> Content:
    """`✓ verified` / `✗ not verified` / `? unknown` / `… checking`, styled by theme."""
    if checking:
        return Content.styled("\N{HORIZONTAL ELLIPSIS} checking", "$text-muted italic")
    if verdict is None:
        return Content("")
    mark = VERDICT_MARKS.get(verdict.state, "?")
    return Content.styled(f"{mark} {verdict.words}", VERDICT_STYLES.get(verdict.state, "$warning"))


def item_prompt(
    item: ChecklistItem,
    tick: ChecklistTick | None,
    verdict: Verdict | None,
    checking: bool,
    width: int,
) -> Content:
    """One item: its box and text; under it, one line (cut to `width`) with who ticked it and
    the last check's verdict and evidence."""
    checked = tick is not None and tick.checked
    box = Content.styled(TICKED, "$text-success bold") if checked else Content(UNTICKED)
    text = Content(item.text)
    if checked:
        text = text.stylize("$text-muted")
    line = Content.assemble(box, " ", text)
    facts: list[Content] = []
    if tick is not None and tick.checked:
        facts.append(Content(safe_text(f"ticked by {ticked_by(tick)} {tick.at:%H:%M:%S}")))
    state = verdict_content(verdict, checking)
    if state:
        facts.append(state)
        if verdict is not None and not checking:
            facts.append(Content.styled(safe_text(verdict.evidence), "$text-muted"))
    elif item.verifier:
        facts.append(Content.styled("v checks this", "$text-muted"))
    if not facts:
        return line
    second = Content.assemble("    ", Content(" \N{MIDDLE DOT} ").join(facts))
    # One line: wrapped evidence would lose the indent and read as another item.
    return Content("\n").join([line, second.truncate(max(width, 20), ellipsis=True)])


def item_detail(
    item: ChecklistItem, tick: ChecklistTick | None, verdict: Verdict | None, checking: bool
) -> Content:
    """The highlighted item in full: the record's tick, the last check, the runbook's words."""
    parts: list[Content] = [Content(item.text).stylize("bold")]
    if tick is None:
        parts.append(Content("Not ticked."))
    else:
        what = "Ticked" if tick.checked else "Unticked"
        parts.append(Content(safe_text(f"{what} by {tick.actor or 'unknown'} at {_when(tick)}")))
        if tick.note:
            parts.append(Content.styled(safe_text(f"Recorded with it: {tick.note}"), "$text-muted"))
        elif tick.verified:
            parts.append(Content(safe_text(f"Recorded with it: {tick.verified}")))
    if checking:
        parts.append(verdict_content(None, checking=True))
    elif verdict is not None:
        when = f" at {verdict.checked_at:%H:%M:%S} UTC" if verdict.checked_at else ""
        parts.append(
            Content.assemble(
                f"Checked{when}: ",
                verdict_content(verdict),
                " \N{EM DASH} ",
                safe_text(verdict.evidence),
            )  # fmt: skip
        )
    elif item.verifier:
        parts.append(Content.styled("v checks this item against the cluster", "$text-muted"))
    if item.detail:
        parts.append(Content.styled(f"Runbook ({item.section}): {item.detail}", "$text-muted"))
    return Content("\n").join(parts)


class ChecklistScreen(StyledOnce, ModalScreen[None]):
    """One incident's checklists, one phase at a time; ticks are recorded with who and when."""

    CSS_PATH = STYLES
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,k", "close", "Close", id="checklist.close"),
        Binding("space", "tick", "Tick", id="checklist.tick",
                tooltip="Tick or untick the highlighted item (recorded with who and when)"),
        Binding("v", "verify", "Verify", id="checklist.verify",
                tooltip="Check this phase's verifiable items against the cluster and the record"),
        # Priority: the list would take left/right to scroll sideways, which it never needs.
        Binding("left", "phase(-1)", "Prev phase", id="checklist.previous_phase", priority=True),
        Binding("right", "phase(1)", "Next phase", id="checklist.next_phase", priority=True),
    ]  # fmt: skip

    def __init__(
        self,
        incident: Incident,
        checks: dict[str, Verdict] | None = None,
        *,
        phase: str | None = None,
    ) -> None:
        super().__init__()
        self.incident = incident
        self.phase = phase or incident.phase
        self.checklists = load_checklists()
        # The last verdict per item id; the caller keeps it between openings.
        self.checks: dict[str, Verdict] = checks if checks is not None else {}
        self.checking: set[str] = set()
        self.ticks: Ticks = {}
        # In a review's replay: the moment the ticks are shown as of (None: all of them).
        self.as_of: datetime | None = None
        # What a tick being written will make of an item, so quick presses alternate.
        self._pending: dict[str, bool] = {}

    @property
    def war_app(self) -> WarRoomApp:
        return self.app  # type: ignore[return-value]

    @property
    def checklist(self) -> PhaseChecklist:
        return self.checklists[self.phase]

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        services = self.war_app.services
        with Vertical(id="checklist-dialog"):
            yield Label(self._title(), id="checklist-title", markup=False)
            yield TabRow(
                [(f"phase-{phase}", PHASE_TITLES[phase]) for phase in PHASES],
                active=f"phase-{self.phase}",
                id="checklist-phases",
            )
            if services.readonly:
                yield Label(
                    Content(services.readonly_reason),
                    id="checklist-readonly",
                    markup=False,
                )
            with Horizontal(id="checklist-body"):
                yield OptionList(id="checklist-items")
                with VerticalScroll(id="checklist-side"):
                    yield Static("", id="checklist-detail", markup=False)
            yield Label("", id="checklist-summary", markup=False)
        yield KeyFooter()

    def _title(self) -> Content:
        incident = self.incident
        return Content(
            safe_text(
                f"Checklist \N{MIDDLE DOT} {incident.id} \N{MIDDLE DOT} {incident.severity} "
                f"{incident.title} \N{MIDDLE DOT} now in {PHASE_TITLES[incident.phase]}"
            )
        )

    def on_mount(self) -> None:
        self._update_narrow()
        self._show_phase()
        self.query_one("#checklist-items", OptionList).focus()
        self.load_ticks()
        # Another console or `warroom` command may tick too: re-read as the war room does.
        self.set_interval(RECORD_POLL_INTERVAL, self.load_ticks, name="checklist-poll")

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        self._update_narrow()
        self.call_after_refresh(self._refresh_items)  # the one-line facts follow the width

    def _update_narrow(self) -> None:
        self.set_class(self.app.size.width < NARROW_WIDTH, "-narrow")

    # --- showing --------------------------------------------------------------------------------

    def tick_of(self, item: ChecklistItem) -> ChecklistTick | None:
        return item.tick_for(self.ticks)

    def is_checked(self, item: ChecklistItem) -> bool:
        if item.id in self._pending:
            return self._pending[item.id]
        tick = self.tick_of(item)
        return tick is not None and tick.checked

    def _prompt(self, item: ChecklistItem) -> Content:
        width = self.query_one("#checklist-items", OptionList).scrollable_content_region.width
        return item_prompt(
            item, self.tick_of(item), self.checks.get(item.id), item.id in self.checking,
            width or 76,
        )  # fmt: skip

    def _show_phase(self) -> None:
        """Fill the list with the shown phase's items under their runbook headings."""
        options: list[Option] = []
        section = None
        for item in self.checklist.items:
            if item.section != section:
                section = item.section
                options.append(Option(Content(section), id=f"section-{len(options)}",
                                      disabled=True))  # fmt: skip
            options.append(Option(self._prompt(item), id=item.id))
        items = self.query_one("#checklist-items", OptionList)
        items.set_options(options)
        items.highlighted = 1  # the first item: option 0 is its heading
        self._show_summary()
        self._show_detail()

    def _refresh_items(self) -> None:
        """Redraw every item of the shown phase in place (the highlight stays)."""
        items = self.query_one("#checklist-items", OptionList)
        for item in self.checklist.items:
            items.replace_option_prompt(item.id, self._prompt(item))
        self._show_summary()
        self._show_detail()

    def _show_summary(self) -> None:
        done = sum(1 for item in self.checklist.items if self.is_checked(item))
        total = len(self.checklist.items)
        verifiable = len(self.checklist.verifiable)
        text = f"{self.checklist.title}: {done} of {total} ticked"
        if self.as_of is not None:
            text += f" as of {self.as_of:%H:%M:%S} UTC"
        if verifiable:
            text += f"; {verifiable} the console can check (v)"
        self.query_one("#checklist-summary", Label).update(Content(text))

    def highlighted_item(self) -> ChecklistItem | None:
        option = self.query_one("#checklist-items", OptionList).highlighted_option
        if option is None or option.id is None or option.disabled:
            return None
        return self.checklist.item(option.id)

    def _show_detail(self) -> None:
        item = self.highlighted_item()
        detail = self.query_one("#checklist-detail", Static)
        if item is None:
            detail.update("")
            return
        verdict, checking = self.checks.get(item.id), item.id in self.checking
        detail.update(item_detail(item, self.tick_of(item), verdict, checking))

    @on(OptionList.OptionHighlighted, "#checklist-items")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show_detail()

    # --- reading the record ---------------------------------------------------------------------

    @work(exclusive=True, group="checklist-load", exit_on_error=False)
    async def load_ticks(self) -> None:
        """Tick what the record proves (not in review), read the ticks (on the record's thread)
        and redraw."""
        services = self.war_app.services
        record, incident_id = services.record, self.incident.id
        clock = self.war_app.clock
        # A replay shows the checklist as the header and timeline show the incident: as of
        # its moment (read again at each poll, so a playing replay ticks items as it goes).
        until = clock.cut() if isinstance(clock, ReplayClock) else None

        def read() -> Ticks:
            if not services.readonly:
                tick_proven(record, incident_id)
            return record.checklist.state(incident_id, until=until)

        self.ticks = await self.war_app.in_record(read)
        self.as_of = until
        self._refresh_items()

    # --- phases ---------------------------------------------------------------------------------

    def action_phase(self, step: int) -> None:
        index = max(0, min(len(PHASES) - 1, PHASES.index(self.phase) + step))
        self.query_one("#checklist-phases", TabRow).active = f"phase-{PHASES[index]}"

    @on(TabRow.Chosen, "#checklist-phases")
    def _phase_chosen(self, event: TabRow.Chosen) -> None:
        event.stop()
        phase = event.tab.removeprefix("phase-")
        if phase in PHASES and phase != self.phase:
            self.phase = phase
            self._show_phase()

    # --- what may run ---------------------------------------------------------------------------

    def why_refused(self, action: str) -> str | None:
        """Why ticking or verifying cannot run here, in words (None when it can)."""
        services = self.war_app.services
        if action == "tick" and services.readonly:
            return f"Not ticked: {services.readonly_reason}"
        if action == "verify" and services.mode == "review":
            return (
                f"Not checked: {services.readonly_reason}; the cluster today says nothing "
                "about the recorded incident"
            )
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.why_refused(action) else True  # dimmed in the footer

    @on(Key)
    def _refused_key(self, event: Key) -> None:
        """A dimmed key says why it does nothing instead of staying silent."""
        for binding in bindings_for_key(self, event.key):
            if reason := self.why_refused(binding.action):
                event.stop()
                self.notify(reason, title="Read-only", severity="warning")
                return

    # --- ticking --------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_tick(self) -> None:
        item = self.highlighted_item()
        if item is None:
            return
        if reason := self.why_refused("tick"):
            self.notify(reason, title="Read-only", severity="warning")
            return
        checked = not self.is_checked(item)
        self._pending[item.id] = checked
        self._refresh_items()
        self.write_tick(item, checked)

    @on(OptionList.OptionSelected, "#checklist-items")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_tick()

    @work(group="checklist-write", exit_on_error=False)
    async def write_tick(self, item: ChecklistItem, checked: bool) -> None:
        """Record one tick or untick (with the last check's verdict and evidence) and redraw
        from the record.

        Not exclusive: every press is written, in order, on the record's one thread.
        """
        verdict = self.checks.get(item.id)
        record = self.war_app.services.record
        try:
            await self.war_app.in_record(
                record.checklist.tick,
                self.incident.id,
                item.phase,
                item.text,
                checked=checked,
                actor=self.war_app.services.actor,
                verified=verdict.state if verdict else None,
                note=verdict.note() if verdict else None,
            )
            self.ticks = await self.war_app.in_record(record.checklist.state, self.incident.id)
        finally:
            if self._pending.get(item.id) is checked:
                del self._pending[item.id]
            self._refresh_items()

    # --- verifying ------------------------------------------------------------------------------

    def action_verify(self) -> None:
        if reason := self.why_refused("verify"):
            self.notify(reason, title="Read-only", severity="warning")
            return
        items = self.checklist.verifiable
        if not items:
            where = ", ".join(c.title for c in self.checklists.values() if c.verifiable)
            self.notify(f"Nothing in {self.checklist.title} can be checked by the console "
                        f"(see {where})", title="Verify")  # fmt: skip
            return
        self.verify(items)

    def verify_context(self) -> VerifyContext:
        app = self.war_app
        services, settings = app.services, app.settings
        return VerifyContext(
            record=services.record,
            now=app.clock(),
            since=self.incident.opened_at,
            cluster=services.cluster,
            namespace=services.namespace,
            in_record=app.in_record,
            desired_state_file=settings.policies.desired_state_file,
            alerting=settings.alerting,
            mesh=settings.mesh.provider,
        )

    @work(exclusive=True, group="checklist-verify", exit_on_error=False)
    async def verify(self, items: tuple[ChecklistItem, ...]) -> None:
        """Run the verifiers concurrently (each once, however many items share it); each item
        shows its verdict as soon as it has one, and a verified item is ticked as warroom."""
        context = self.verify_context()
        title = self.checklist.title
        self.checking.update(item.id for item in items)
        self._refresh_items()
        sharing: dict[str, list[ChecklistItem]] = {}
        for item in items:
            sharing.setdefault(item.verifier or "", []).append(item)

        async def check(name: str, same: list[ChecklistItem]) -> None:
            try:
                verdict = await run_verifier(name, context)
                for item in same:
                    self.checks[item.id] = verdict
                await self._tick_verified(same, verdict)
            finally:
                self.checking.difference_update(item.id for item in same)
                self._refresh_items()

        try:
            await asyncio.gather(*(check(name, same) for name, same in sharing.items()))
        finally:
            self.checking.difference_update(item.id for item in items)
        found = [self.checks[item.id] for item in items if item.id in self.checks]
        good = sum(1 for verdict in found if verdict.state == VERIFIED)
        self.notify(f"{good} of {len(items)} verified in {title}", title="Verify")

    async def _tick_verified(self, items: list[ChecklistItem], verdict: Verdict) -> None:
        """Record warroom's tick of each item the check verified (none for another answer)."""
        if verdict.state != VERIFIED:
            return
        record, incident_id = self.war_app.services.record, self.incident.id

        def write() -> Ticks:
            for item in items:
                tick_verified(record, incident_id, item, verdict)
            return record.checklist.state(incident_id)

        self.ticks = await self.war_app.in_record(write)
