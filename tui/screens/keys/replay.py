"""Review mode's replay: the recorded incident at a chosen speed, and jump to a time.

In review mode the app's clock is a `tui.replay.ReplayClock`: the header's
runbook clocks read it, `as_of()` cuts the timeline and the incident row at
its moment (the screen's `refresh_from_record` calls it), and the Falco pane
holds the incident's alerts up to it, read a page at a time
(`store.replay`) on the record's thread. It opens at the end (the whole
incident), paused; `warroom review --at +5m --speed 10` opens elsewhere.
Outside review mode the keys only say where they work.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.events import Mount
from textual.widgets import Label

from store.replay import (
    ReplayScope,
    alerts_between,
    alerts_until,
    incident_as_of,
    scope,
    timeline_until,
)
from tui.replay import ReplayClock, speed_text
from tui.screens.war_room_base import WarRoomBase
from tui.views.clocks import duration
from tui.widgets.alert_list import DEFAULT_CAPACITY
from tui.widgets.alert_pane import AlertPane

if TYPE_CHECKING:
    from store import Incident, TimelineEntry

REPLAY_TICK = 0.5  # while playing, the timeline and alerts follow the replay moment this often
NOT_REVIEW = "replay works in review mode: warroom review [ID]"
PLAY, PAUSE = "\N{BLACK RIGHT-POINTING TRIANGLE}", "\N{DOUBLE VERTICAL BAR}"


class ReplayKeys(WarRoomBase):
    """space < > g G: replay the recorded incident at a speed, or jump to a time (review only)."""

    KEY_GROUP: ClassVar[str] = "replay (review mode)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space",
            "replay_play",
            "Play/pause",
            show=False,
            id="replay.play",
            tooltip="Replay from here (from detection at the end); again: pause",
        ),
        Binding(
            "greater_than_sign",
            "replay_speed(1)",
            "Faster",
            show=False,
            id="replay.faster",
            tooltip="1x 2x 5x 10x 30x 60x 300x 600x 1800x",
        ),
        Binding("less_than_sign", "replay_speed(-1)", "Slower", show=False, id="replay.slower"),
        Binding(
            "g",
            "replay_goto",
            "Go to time",
            show=False,
            id="replay.goto",
            tooltip="+12m, +1h5m after detection, 09:42, an ISO time, or end",
        ),
        Binding(
            "G",
            "replay_end",
            "End",
            show=False,
            id="replay.end",
            tooltip="The end of the recording: everything, as recorded",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.replay_scope: ReplayScope | None = None
        """The reviewed incident's alerts and span, once read (None outside review)."""
        self._replay_for: str | None = None
        # The reviewed incident while the replay moment is before it was opened.
        self.not_opened_yet: Incident | None = None
        self._alerts_shown_to: datetime | None = None  # the pane holds alerts up to here
        self._alerts_loaded = False
        self._replay_lock = asyncio.Lock()  # one follow at a time: a seek waits for a step

    @property
    def replay_clock(self) -> ReplayClock | None:
        """The review's clock (None in a drill or live console)."""
        clock = self.war_app.clock
        return clock if isinstance(clock, ReplayClock) else None

    @on(Mount)
    def _replay_mounted(self) -> None:
        if self.war_app.services.mode != "review":
            return
        if not isinstance(self.war_app.clock, ReplayClock):
            # A review built without one opens at the end, paused, over the clock it was given.
            self.war_app.clock = ReplayClock(self.war_app.clock)
        self.set_interval(REPLAY_TICK, self._replay_tick, name="replay-tick")
        self._replay_show_status()
        if incident_id := self.war_app.services.incident_id:
            # Known already (warroom review names it): read the first alerts page now,
            # alongside the screen's first timeline read, not after it.
            self._replay_for = incident_id
            self._replay_prepare(incident_id)

    # --- the hook the screen's refresh_from_record calls ----------------------------------------

    def as_of(
        self, incident: Incident | None, entries: list[TimelineEntry]
    ) -> tuple[Incident | None, list[TimelineEntry]]:
        """The incident and its timeline as the replay shows them (unchanged outside a replay)."""
        clock = self.replay_clock
        moment = clock.cut() if clock is not None else None
        self.not_opened_yet = None
        if incident is None or moment is None:
            return incident, entries
        if moment < incident.opened_at:
            # Before it was opened the incident did not exist: say so, show none of it.
            self.not_opened_yet = incident
            return None, []
        return incident_as_of(incident, entries, moment), timeline_until(entries, moment)

    def on_war_room_screen_incident_changed(self, event: Any) -> None:
        """A (new) incident on screen: read its replay scope and fill the Falco pane."""
        incident = getattr(event, "incident", None)
        if self.replay_clock is None or incident is None or incident.id == self._replay_for:
            return
        self._replay_for = incident.id
        self._replay_prepare(incident.id)

    @work(exclusive=True, group="replay", exit_on_error=False)
    async def _replay_prepare(self, incident_id: str) -> None:
        clock, record = self.replay_clock, self.war_app.services.record
        if clock is None:
            return

        def read() -> ReplayScope | None:
            incident = record.incidents.get(incident_id)
            return scope(record, incident) if incident else None

        view = await self.war_app.in_record(read)
        if view is None:
            return
        self.replay_scope = view
        clock.last = view.last
        await self._replay_follow(refresh=clock.cut() is not None)

    # --- following the replay moment ------------------------------------------------------------

    def _replay_tick(self) -> None:
        clock = self.replay_clock
        if clock is None or not clock.playing or self._replay_lock.locked():
            return
        if clock.finished():
            clock.seek(None)
            self.notify("the end of the recording: everything is shown", title="Replay")
        self._replay_step()

    @work(group="replay-step", exit_on_error=False)
    async def _replay_step(self) -> None:
        await self._replay_follow(refresh=True)

    async def _replay_follow(self, *, refresh: bool) -> None:
        """Bring the timeline, header and Falco pane to the clock's moment."""
        if self.replay_clock is None:
            return
        async with self._replay_lock:
            if refresh:
                await self.refresh_from_record()
            clock, view = self.replay_clock, self.replay_scope
            if clock is not None and view is not None:
                await self._replay_alerts(clock.cut(), view)
            self._replay_show_status()

    async def _replay_alerts(self, moment: datetime | None, view: ReplayScope) -> None:
        record, shown_to = self.war_app.services.record, self._alerts_shown_to
        forward = (
            self._alerts_loaded
            and moment is not None
            and shown_to is not None
            and moment >= shown_to
        )
        if forward:
            if moment is not None and shown_to is not None and moment > shown_to:
                added = await self.war_app.in_record(
                    alerts_between, record, view, shown_to, moment, limit=DEFAULT_CAPACITY
                )
                self.query_one(AlertPane).push_alerts(added)
                self._alerts_shown_to = moment
            return
        if self._alerts_loaded and moment is None and shown_to is None:
            return  # the end, already shown
        page = await self.war_app.in_record(
            alerts_until, record, view, moment, limit=DEFAULT_CAPACITY
        )
        pane = self.query_one(AlertPane)
        if self._alerts_loaded:  # going back in time: the window starts again, filters kept
            pane.clear_alerts()
        pane.push_alerts(page)
        self._alerts_shown_to, self._alerts_loaded = moment, True

    def _replay_show_status(self) -> None:
        """The replay moment, play state and speed on the review banner, with the keys."""
        clock = self.replay_clock
        if clock is None:
            return
        view = self.replay_scope
        moment = clock.cut()
        if moment is None:
            text = (
                "REVIEW, read-only: the whole recording · space replays from detection · "
                "g go to a time"
            )
        else:
            start = view.start if view else None
            since = (
                f" T{'-' if start and moment < start else '+'}{duration(abs(moment - start))}"
                if start
                else ""
            )
            state = (
                f"{PLAY} {speed_text(clock.speed)}"
                if clock.playing
                else f"{PAUSE} {speed_text(clock.speed)}"
            )
            text = (
                f"REPLAY {moment:%H:%M:%S} UTC{since} {state} · space play · < > speed · "
                "g go to · G end"
            )
        for banner in self.query("#readonly-banner").results(Label):
            banner.update(Text(text))

    # --- the keys -------------------------------------------------------------------------------

    def _replay_or_say(self) -> ReplayClock | None:
        clock = self.replay_clock
        if clock is None:
            self.notify(NOT_REVIEW, title="Replay", severity="warning")
        return clock

    async def action_replay_play(self) -> None:
        clock = self._replay_or_say()
        if clock is None:
            return
        if clock.playing:
            clock.pause()
        else:
            start = self.replay_scope.start if self.replay_scope else clock()
            clock.play(start)
        self._replay_show_status()
        self._replay_step()

    def action_replay_speed(self, steps: int) -> None:
        clock = self._replay_or_say()
        if clock is None:
            return
        clock.change_speed(steps)
        self._replay_show_status()

    def action_replay_end(self) -> None:
        if self._replay_or_say() is None:
            return
        self._replay_seek(None)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_replay_goto(self) -> None:
        from tui.dialogs.replay_form import GoTo, GoToForm  # when opened (warmup.py)

        clock = self._replay_or_say()
        view = self.replay_scope
        if clock is None:
            return
        if view is None:
            self.notify("the recording is still loading", title="Replay", severity="warning")
            return
        answer: GoTo | None = await self.app.push_screen_wait(
            GoToForm(view.start, view.last, clock.cut())
        )
        if answer is None:
            return
        moment = answer.moment
        if moment is not None and moment >= view.last:
            moment = None
        elif moment is not None and moment < view.first:
            self.notify(
                f"the replay starts {duration(view.start - view.first)} before detection",
                title="Replay",
            )
            moment = view.first
        self._replay_seek(moment)

    @work(exclusive=True, group="replay-seek", exit_on_error=False)
    async def _replay_seek(self, moment: datetime | None) -> None:
        clock = self.replay_clock
        if clock is None:
            return
        clock.seek(moment)  # going back: the timeline pane replaces its rows itself
        await self._replay_follow(refresh=True)
