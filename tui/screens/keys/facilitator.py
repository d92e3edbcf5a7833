"""A drill's facilitator keys: pause, resume, speed, inject the next step, the score.

Only in `warroom drill` (`services.drill` is the running drill, a
`tui.cli.console.DrillInBackground`); elsewhere each key says why it does
nothing. The drill plays on its own thread and event loop: every control goes
through the handle's awaitable methods, which run on that loop, and the
drill's events come back as `DrillUpdate` messages (posted from the drill's
thread, which Textual allows). Every control is written on the open
incident's timeline (kind `drill.control`), so the after-action review shows
when the facilitator paused, sped up or injected; one made before an incident
is open is written on it, at its own time, once it is (actions/drill/
control_notes.py). When the scenario ends the score opens by itself, once.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.events import Mount, Unmount
from textual.message import Message

from actions.drill.control_notes import OBSERVED_KIND, Control, ControlNotes
from actions.drill.speeds import FACILITATOR_SPEEDS
from tui.screens.war_room_base import WarRoomBase
from tui.widgets.drill_strip import DrillStrip, describe, scenario_clock, speed_label

if TYPE_CHECKING:

    from actions.drill.drill_events import DrillEvent
    from actions.drill.player import PlayerStatus
    from actions.drill.score import Score
    from tui.services import DrillHandle

# The facilitator's speeds, the same range as `warroom drill --speed` and `drill control speed`.
SPEEDS = FACILITATOR_SPEEDS
STATUS_INTERVAL = 1.0  # the strip follows the drill's clock this often
DRILL_CLUSTER_ACTOR = "drill cluster"  # who a change the cluster saw is written by
NOT_DRILL = "facilitator keys work in a drill only: start one with `warroom drill [SCENARIO]`"
# What a dialog open when the drill ends is called in the toast that says it was dropped.
DIALOG_NAMES = {
    "DecisionScreen": "the decision in progress",
    "OpenIncidentForm": "the new incident form",
    "NoteForm": "the note in progress",
    "SeverityForm": "the severity form",
    "AskScreen": "a question",
    "CloseIncidentScreen": "the resolve/close form",
    "EscalateForm": "the escalation form",
    "ProposalScreen": "the incident proposal",
    "ActionForm": "the action form",
    "ConfirmAction": "the action preview",
    "ChecklistScreen": "the checklist",
    "ScoreScreen": "the score so far",
}


def next_speed(current: float, steps: int) -> float:
    """The facilitator speed `steps` notches away from `current` (kept within 0.5x..60x)."""
    if steps > 0:
        faster = [s for s in SPEEDS if s > current + 1e-9]
        return faster[0] if faster else SPEEDS[-1]
    slower = [s for s in SPEEDS if s < current - 1e-9]
    return slower[-1] if slower else SPEEDS[0]


class DrillUpdate(Message):
    """Something happened in the drill (posted from the drill's own thread)."""

    def __init__(self, event: DrillEvent) -> None:
        super().__init__()
        self.event = event


class FacilitatorKeys(WarRoomBase):
    """P + - J S: pause/resume, faster, slower, inject the next step now, the score (drill only)."""

    KEY_GROUP: ClassVar[str] = "drill facilitator"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "drill_pause", "Pause/resume drill", show=False, id="drill.pause",
                tooltip="Pause the scenario's clock, or resume it"),
        Binding("plus", "drill_speed(1)", "Drill faster", show=False, id="drill.faster",
                tooltip="0.5x 1x 2x 5x 10x 20x 30x 60x"),
        Binding("minus", "drill_speed(-1)", "Drill slower", show=False, id="drill.slower"),
        Binding("J", "drill_inject", "Inject next", show=False, id="drill.inject",
                tooltip="Play the scenario's next inject now (later ones keep their spacing)"),
        Binding("S", "drill_score", "Drill score", show=False, id="drill.score",
                tooltip="The score against the scenario's answer key, so far"),
        Binding("K", "drill_kubectl", "kubectl alongside", show=False, id="drill.kubectl",
                tooltip="The drill cluster's kubeconfig, for kubectl in another terminal"),
        # The same key in review: the footer offers it there (and only there).
        Binding("S", "review_score", "Drill score", id="drill.review_score",
                tooltip="A drill's score, from what the record kept of it"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.drill_status: PlayerStatus | None = None
        """The drill's last known status (None outside a drill or before the first read)."""
        self._score_opened = False
        self._control_lock = asyncio.Lock()  # one control at a time, in the order pressed
        self._unsubscribe: Callable[[], None] | None = None
        self._control_notes = ControlNotes()  # the controls made before an incident was open

    @property
    def drill(self) -> DrillHandle | None:
        """The running drill's handle, or None outside `warroom drill`."""
        return self.war_app.services.drill

    # --- set-up -------------------------------------------------------------------------------

    @on(Mount)
    async def _facilitator_mounted(self) -> None:
        drill = self.drill
        if drill is None:
            return
        self.set_interval(STATUS_INTERVAL, self._follow_drill, name="drill-status")
        self._subscribe()
        self._follow_drill()

    @on(Unmount)
    def _facilitator_unmounted(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None and self.drill is not None:
            self.drill.call_soon(unsubscribe)

    @work(group="drill-subscribe", exit_on_error=False)
    async def _subscribe(self) -> None:
        from tui.services import DrillGone

        drill = self.drill
        if drill is None:
            return
        if not await drill.wait_started():  # `warroom drill` starts it after the first paint
            self._strip_gone("the drill did not start")
            return
        def posted(event: DrillEvent) -> None:  # on the drill's thread: Textual allows it
            self.post_message(DrillUpdate(event))

        try:
            self._unsubscribe = await drill.subscribe(posted)
        except DrillGone as gone:
            self._strip_gone(str(gone))

    # --- following the drill ------------------------------------------------------------------

    @work(exclusive=True, group="drill-status", exit_on_error=False)
    async def _follow_drill(self) -> None:
        await self._read_status()
        incident = self.incident
        if self._control_notes.waiting and incident is not None and incident.is_open:
            await self.war_app.in_record(
                self._control_notes.attach, self.war_app.services.record, incident.id
            )
            await self.refresh_from_record()

    async def _read_status(self) -> PlayerStatus | None:
        from tui.services import DrillGone

        drill = self.drill
        if drill is None or drill.session is None:  # no drill, or not started yet
            return None
        try:
            status = await drill.status()
        except DrillGone as gone:
            self._strip_gone(str(gone))
            return None
        self.drill_status = status
        for strip in self.query(DrillStrip).results(DrillStrip):
            strip.show_status(status)
        return status

    def _strip_gone(self, why: str) -> None:
        for strip in self.query(DrillStrip).results(DrillStrip):
            strip.show_gone(why)

    @on(DrillUpdate)
    def _drill_update(self, message: DrillUpdate) -> None:
        from actions.drill import drill_events as ev

        self._follow_drill()
        if message.event.kind == ev.REACTION:
            self._note_observed(message.event)
        if message.event.kind == ev.END and not self._score_opened:
            # The drill stops only after the console closes: an end seen here is the scenario's.
            self._score_opened = True
            self._close_dialogs_at_the_end()
            self._show_score()  # its status line says the drill is over: no toast over it

    def _close_dialogs_at_the_end(self) -> None:
        """Close the dialogs in progress, saying what was dropped, before the score opens.

        The score opened over a half-filled form and its waiting worker: the stack of
        dialogs and their waiters is the state a user cannot see and cannot undo once the
        drill is over. Each is closed with no answer (its worker records nothing) and one
        toast names them, so nothing is half recorded and the war room is under the score.
        """
        from textual.screen import ModalScreen

        from tui.textual_workarounds import close_dialog

        dropped: list[str] = []
        while self.app.screen is not self and isinstance(self.app.screen, ModalScreen):
            dialog = self.app.screen
            dropped.append(DIALOG_NAMES.get(type(dialog).__name__, "a dialog"))
            close_dialog(dialog)
        if dropped:
            self.notify(
                f"the drill ended: {', '.join(dropped)} closed, nothing of it recorded",
                title="Drill over", severity="warning", timeout=10,
            )

    # --- the keys -----------------------------------------------------------------------------

    def _drill_or_say(self) -> DrillHandle | None:
        drill = self.drill
        if drill is None:
            self.notify(NOT_DRILL, title="Not a drill", severity="warning")
        return drill

    @work(group="facilitator", exit_on_error=False)
    async def action_drill_pause(self) -> None:
        drill = self._drill_or_say()
        if drill is None:
            return
        async with self._control_lock:
            status = await drill.status()
            if status.finished:
                self.notify("the drill is over: S shows the score", title="Drill")
                return
            if status.paused:
                await drill.resume()
                await self._controlled("resume", "resumed the drill")
            else:
                await drill.pause()
                await self._controlled("pause", "paused the drill")

    @work(group="facilitator", exit_on_error=False)
    async def action_drill_speed(self, steps: int) -> None:
        drill = self._drill_or_say()
        if drill is None:
            return
        async with self._control_lock:
            status = await drill.status()
            speed = next_speed(status.speed, steps)
            if speed == status.speed:
                limit = "fastest" if steps > 0 else "slowest"
                self.notify(f"already at {speed_label(speed)}, the {limit}", title="Drill speed")
                return
            await drill.set_speed(speed)
            await self._controlled("speed", f"set the drill's speed to {speed_label(speed)}")

    @work(group="facilitator", exit_on_error=False)
    async def action_drill_inject(self) -> None:
        drill = self._drill_or_say()
        if drill is None:
            return
        async with self._control_lock:
            status = await drill.status()
            if status.finished or status.next_inject is None:
                self.notify("no inject left to play", title="Drill", severity="warning")
                return
            await drill.inject_next()
            await self._controlled(
                "inject", f"injected {status.next_inject} now (due at "
                f"T+{scenario_clock(status.next_at or 0)})", inject=status.next_inject,
            )

    def action_drill_kubectl(self) -> None:
        """The line that points kubectl at the drill cluster, shown and copied: the runbook's
        commands the console has no key for (a rollout undo, a pod deleted) run there."""
        drill = self._drill_or_say()
        if drill is None:
            return
        session = drill.session
        if session is None or session.kubeconfig_path is None:
            self.notify("the drill cluster is still starting", title="kubectl",
                        severity="warning")
            return
        line = f"export KUBECONFIG={shlex.quote(str(session.kubeconfig_path))}"
        self.app.copy_to_clipboard(line)
        self.notify(f"{line}\n(copied, where the terminal lets an app copy)",
                    title="kubectl alongside the drill", timeout=30, markup=False)

    def action_drill_score(self) -> None:
        if self._drill_or_say() is None:
            return
        self._show_score()

    async def _controlled(self, control: str, what: str, *, inject: str | None = None) -> None:
        """After a control: the strip, a toast, and the timeline entry if an incident is open."""
        status = await self._read_status()
        drill = self.drill
        if status is None or drill is None:
            return
        at = f"T+{scenario_clock(status.position)}"
        self.notify(f"{what} at {at}", title="Facilitator")
        incident = self.incident
        record = self.war_app.services.record
        data: dict[str, Any] = {
            "control": control, "scenario": drill.scenario_name,
            "position_seconds": round(status.position, 3), "speed": status.speed,
            "paused": status.paused, "next_inject": status.next_inject,
        }
        if inject is not None:
            data["inject"] = inject
        made = Control(record.clock(), self.actor, f"Facilitator {what} at {at}", data)
        open_id = incident.id if incident is not None and incident.is_open else None
        # Before the incident is open (its MTTD window) it waits, and is written on it later.
        await self.war_app.in_record(self._control_notes.note, record, open_id, made)
        if open_id is not None:
            await self.refresh_from_record()

    @work(group="drill-notes", exit_on_error=False)
    async def _note_observed(self, event: DrillEvent) -> None:
        """What the drill cluster saw change, on the incident's timeline (or waiting for it)."""
        incident, record = self.incident, self.war_app.services.record
        seen = Control(record.clock(), DRILL_CLUSTER_ACTOR, f"Drill cluster: {event.summary}",
                       {**event.data, "position_seconds": round(event.at, 3)}, OBSERVED_KIND)
        open_id = incident.id if incident is not None and incident.is_open else None
        await self.war_app.in_record(self._control_notes.note, record, open_id, seen)
        if open_id is not None:
            await self.refresh_from_record()

    # --- the score ----------------------------------------------------------------------------

    def review_can_score(self) -> bool:
        """Whether the review's score key applies: in review, for a drill incident."""
        incident = self.incident
        return self.war_app.services.mode == "review" and incident is not None and incident.drill

    @work(exclusive=True, group="drill-score", exit_on_error=False)
    async def action_review_score(self) -> None:
        """The recorded drill's score, computed again from its recorded inputs."""
        from tui.dialogs.score import ScoreScreen
        from tui.drill_score import recorded_score

        incident = self.incident
        if incident is None:
            return
        score, why = await self.war_app.in_record(
            recorded_score, self.war_app.services.record, incident.id
        )
        status = "scored again from the record, against the scenario's answer key"
        self.app.push_screen(ScoreScreen(score, status=status if score else "", why_none=why))

    @work(exclusive=True, group="drill-score", exit_on_error=False)
    async def _show_score(self) -> None:
        from tui.services import DrillGone

        drill = self.drill
        if drill is None:
            return
        status = await self._read_status()
        where = describe(drill.scenario_name, status) if status else ""
        try:
            score, why = await self._score(drill)
        except DrillGone as gone:
            score, why = None, f"no score: {gone}"
        from tui.dialogs.score import ScoreScreen

        self.app.push_screen(ScoreScreen(score, status=where, why_none=why))

    async def _score(self, drill: DrillHandle) -> tuple[Score | None, str]:
        """The score of the incident on screen (else the newest drill incident opened since
        this drill started, closed ones too), or why none. An older drill's incident left
        open was scored against this drill's answer key."""
        from actions.drill.score import score_drill

        record = self.war_app.services.record
        shown = self.incident
        since = self.war_app.services.incident_scope.since

        def pick() -> str | None:
            if shown is not None:
                return shown.id
            drills = [i for i in record.incidents.list()
                      if i.drill and (since is None or i.opened_at >= since)]
            return drills[-1].id if drills else None

        incident_id = await self.war_app.in_record(pick)
        if incident_id is None:
            return None, ("no incident to score yet: open one with o, or accept the "
                          "incident warroom proposes with !")
        started, observations = await drill.score_inputs()
        score = await self.war_app.in_record(
            score_drill, drill.scenario, record, incident_id,
            clock_started_at=started, observations=observations,
        )
        return score, ""
