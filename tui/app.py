"""The war-room console application and `run_console`, the one entry the commands call.

`WarRoomApp(services, settings, clock=...)` gets everything injected: the
record and handles in `Services`, the configuration in `Settings`, and the
clock the header reads (tests freeze it). No module-level state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, ClassVar, TypeVar

from textual import events, on
from textual._compositor import LayoutUpdate
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerFailed, WorkerState

from actions.config import Settings
from tui import collector
from tui.commands import IncidentCommands, PaneCommands
from tui.crash import write_crash_log
from tui.dialogs.forms import AskScreen
from tui.keymap import binding_ids, unknown_ids
from tui.safe import safe_text
from tui.screens.war_room import WarRoomScreen
from tui.services import ClusterUnusable, Services, SetupFailed
from tui.widgets.alert_list import Alerts

R = TypeVar("R")
Clock = Callable[[], datetime]
Setup = Callable[[Services], Awaitable[None]]
STYLES = Path(__file__).parent / "styles"
THEMES = ("textual-dark", "textual-light")
MOUNT_WAIT = 5.0  # a screen closed while mounting is removed once mounted, or after this
KEY_HOLD = 1.0  # the longest a key waits for the one before it (see on_event)
KEY_POLL = 0.002


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WarRoomApp(App[int]):
    """The console. `services.mode` decides the badge; `services.readonly` dims the action keys."""

    TITLE = "warroom"
    # Every screen's styles from the start, including those of screens that name their own
    # (the action form, checklist, report, go-to): Textual loads a screen's CSS_PATH when it
    # is first pushed, then re-parses the whole stylesheet and restyles every widget of the
    # console, a quarter of a second on the first opening of an action form.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        STYLES / "app.tcss",
        STYLES / "war_room.tcss",
        STYLES / "panes.tcss",
        STYLES / "dialogs.tcss",
        STYLES / "drill.tcss",
        STYLES / "action_form.tcss",
        STYLES / "checklist.tcss",
        STYLES / "replay.tcss",
        STYLES / "report.tcss",
    ]
    COMMANDS = App.COMMANDS | {IncidentCommands, PaneCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", tooltip="Dark or light"),
        Binding("ctrl+q,q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        services: Services,
        settings: Settings | None = None,
        *,
        clock: Clock = _utc_now,
        theme: str = "textual-dark",
        setup: Setup | None = None,
    ) -> None:
        super().__init__()
        collector.freeze_imports()
        self.services = services
        self.settings = settings or Settings()
        self.clock = clock
        self.theme = theme
        # Runs inside the console's own event loop after the first paint: the place to
        # connect to the cluster and build sources (an aiohttp session belongs to one loop).
        self._setup = setup
        self._owned_cluster: Any = None
        # One thread for every record call: ordered, and never two at once on the connection.
        self._record_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warroom-record")
        self._classifier: Any = None
        self._closing_screens: set[asyncio.Task[None]] = set()
        self._key_in_flight: events.Key | None = None  # delivered, not through yet
        self._key_sent_at = 0.0  # time.monotonic() when the last key was delivered
        self._last_push = 0.0  # time.monotonic() when the last screen was pushed
        self._frames_dropped: list[tuple[Screen[Any], Any]] = []  # drawn in a batch (_display)
        self.first_frame = asyncio.Event()
        """Set once a frame has gone to the terminal: slow start-up work waits for it."""
        self.crash: BaseException | None = None
        """The unexpected error the console stopped on (None while all is well)."""
        self.crash_log: Path | None = None

    def on_mount(self) -> None:
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))
            for problem in unknown_ids(self.settings.keymap, binding_ids()):
                self.notify(problem, title="Configuration", severity="warning", timeout=30)
        self.push_screen(WarRoomScreen())

    # --- the first frame -----------------------------------------------------------------------
    # Textual mounts the app inside a batch update, and the war room pushed from on_mount
    # is composed, laid out and drawn before that batch ends: its first frame is computed,
    # then dropped (nothing is written during a batch), and the compositor counts it as
    # painted. The terminal stayed blank until later partial updates filled it in piecemeal
    # (a quarter of a second later, pane borders last). So a frame dropped in a batch is
    # drawn in full as soon as the batch ends: the dropped frame itself when it was the only
    # one and whole (what the war room's start gives; drawing it again took ~60 ms of CPU
    # time before the first frame), else the screen rendered whole again.

    def _display(self, screen: Screen[Any], renderable: Any) -> None:
        if renderable is not None:
            if self._batch_count:
                self._frames_dropped.append((screen, renderable))
            else:
                self.first_frame.set()
        super()._display(screen, renderable)

    def _end_batch(self) -> None:
        super()._end_batch()
        if self._frames_dropped and not self._batch_count and self.screen_stack:
            dropped, self._frames_dropped = self._frames_dropped, []
            screen = self.screen
            if not screen.is_mounted:
                return
            if len(dropped) == 1 and dropped[0][0] is screen and isinstance(dropped[0][1],
                                                                            LayoutUpdate):
                self._display(screen, dropped[0][1])  # whole, and nothing drawn after it
            else:
                self._display(screen, screen._compositor.render_update(
                    full=True, screen_stack=self._background_screens))

    # --- keys, one at a time -------------------------------------------------------------------
    # A terminal hands keys over faster than a dialog opens: `q` then `y`, `k` then `esc`.
    # Textual forwards each key to the focused widget's queue and runs the bindings once the
    # key has bubbled back up to the app; an action's worker pushes its dialog a step later.
    # Delivered at once, `y` would reach the war room before `q` asked its question. So a
    # key waits (KEY_HOLD at most, then goes as it would have) until the key before it has
    # bubbled through or was taken, and the dialog an "action" worker it started is up.

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if not self.screen_stack:  # typed while the console closes: nothing takes it
                return
            await self._after_previous_key()
            if not self.screen_stack:
                return
            self._key_in_flight = event
            self._key_sent_at = time.monotonic()
            await super().on_event(event)
            if not event.is_forwarded:  # a priority binding took it here
                self._key_in_flight = None
            return
        await super().on_event(event)

    async def _on_key(self, event: events.Key) -> None:
        """A key that bubbled back up: its bindings run here, then it is through."""
        event.prevent_default()  # App._on_key runs once, here, not again after this
        try:
            if self.screen_stack:  # none left while the console closes: nothing to act on
                await super()._on_key(event)
        finally:
            if event is self._key_in_flight:
                self._key_in_flight = None

    async def _after_previous_key(self) -> None:
        deadline = time.monotonic() + KEY_HOLD
        while time.monotonic() < deadline:
            previous = self._key_in_flight
            if previous is not None and not previous._stop_propagation:
                await asyncio.sleep(KEY_POLL)  # still on its way through the widgets
            elif self._dialog_coming():
                await asyncio.sleep(KEY_POLL)  # its worker is about to push a dialog
            else:
                break
        self._key_in_flight = None

    def _dialog_coming(self) -> bool:
        """Whether an "action" worker the last key started has not pushed its dialog yet."""
        return any(
            worker.group == "action"
            and not worker.is_finished
            and worker._created_time >= self._key_sent_at  # Textual's record of its start
            and worker._created_time > self._last_push
            for worker in self.workers
        )

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        self._last_push = time.monotonic()
        return super().push_screen(*args, **kwargs)

    async def _replace_screen(self, screen: Screen[Any]) -> Screen[Any]:
        """Remove a closed screen, once it has finished mounting.

        `k` then `esc` typed at once closes the checklist while it is still mounting: its
        mount handlers (and its widgets', Textual's Select among them) still run, and would
        find their children gone. Removed once mounted, they run on a whole screen, off the
        stack already, and the removal does not hold up the console meanwhile.
        """
        if screen.is_mounted:
            return await super()._replace_screen(screen)
        task = asyncio.create_task(self._replace_once_mounted(screen))
        self._closing_screens.add(task)
        task.add_done_callback(self._closing_screens.discard)
        return screen

    async def _replace_once_mounted(self, screen: Screen[Any]) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(screen._mounted_event.wait(), MOUNT_WAIT)
        await super()._replace_screen(screen)

    async def run_setup(self) -> None:
        """Run the setup hook once; a cluster it connects is closed when the console exits."""
        setup, self._setup = self._setup, None
        if setup is None:
            return
        before = self.services.cluster
        try:
            await setup(self.services)
        except SetupFailed:
            self.exit(1)  # the caller knows why and says it once the terminal is back
            return
        except ClusterUnusable as unusable:  # the record still works: say why, stay open
            self.services.cluster_problem = str(unusable)
            return
        if self.services.cluster is not before:
            self._owned_cluster = self.services.cluster

    async def on_unmount(self) -> None:
        if self._owned_cluster is not None:
            await self._owned_cluster.close()
        # Queued calls are dropped; the one under way ends first: its record closes next.
        self._record_thread.shutdown(wait=True, cancel_futures=True)

    @property
    def war_room(self) -> WarRoomScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, WarRoomScreen):
                return screen
        return None

    async def in_record(self, call: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run a record read or write on the record's thread; the event loop never waits on disk."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._record_thread, functools.partial(call, *args, **kwargs)
        )

    def severity_of(self, alert: Any) -> str:
        """The runbook severity of a parsed alert that carries none (classified on demand)."""
        if self._classifier is None:
            from actions.falco.classify import Classifier

            self._classifier = Classifier.load()
        return str(self._classifier.classify(alert).severity)

    def escalation_contact(self) -> str:
        """The security team lead from the escalation matrix, for the escalate decision."""
        contact = self.settings.escalation_for("Security Engineer") or (
            self.settings.escalation[0] if self.settings.escalation else None
        )
        if contact is None:
            return "the security team lead (no escalation matrix configured)"
        return f"{contact.role} {contact.primary} ({contact.contact})"

    def push_alerts(self, batch: Alerts) -> None:
        """Feed the Falco pane (alerts oldest first); cheap, for the live sources."""
        screen = self.war_room
        if screen is not None:
            screen.alert_pane.push_alerts(batch)

    # --- quitting ------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """q: quit, after asking when it would end a drill or leave an incident open."""
        question = self.quit_question()
        if question is None:
            self.exit()
            return
        if isinstance(self.screen, AskScreen):  # asking already (q typed twice)
            return
        self.push_screen(AskScreen(*question), self._quit_answered)

    def quit_question(self) -> tuple[str, str] | None:
        """What to ask before quitting (question, detail), or None to quit at once."""
        services = self.services
        if services.mode == "review":
            return None
        war_room = self.war_room
        incident = war_room.incident if war_room else None
        open_one = incident if incident is not None and incident.is_open else None
        drill = services.drill
        finished = getattr(getattr(war_room, "drill_status", None), "finished", False)
        if drill is not None and drill.session is not None and not finished:
            detail = ("The drill ends: its cluster stops, and the drill is scored against its "
                      "answer key (the score is printed here).")
            if open_one is not None:
                detail += f" {open_one.id} stays open in the record."
            return "Quit warroom and end the drill?", detail
        if open_one is not None:
            return (f"Quit warroom with {open_one.id} open?",
                    f"{open_one.id} stays open in the record: `warroom {services.mode}` "
                    "shows it again.")
        return None

    def _quit_answered(self, answer: bool | None) -> None:
        if answer:
            self.exit()

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    # --- an unexpected error ends the console safely ---------------------------------------------

    def note_crash(self, error: BaseException) -> None:
        """Keep the first unexpected error and write its log file (once)."""
        if self.crash is not None:
            return
        self.crash = error.error if isinstance(error, WorkerFailed) else error
        about = {
            "mode": self.services.mode,
            "incident": self.war_room.incident.id
            if self.war_room and self.war_room.incident
            else str(self.services.incident_id),
            "screen": type(self.screen_stack[-1]).__name__ if self.screen_stack else "none",
        }
        self.crash_log = write_crash_log(
            self.crash, settings=self.settings, about=about, record_path=self.services.record.path
        )

    def _handle_exception(self, error: Exception) -> None:
        self.note_crash(error)
        super()._handle_exception(error)  # return code 1, the console closes

    def _fatal_error(self) -> None:
        # Textual would print the traceback with its local variables (where a token can sit)
        # once the terminal is back; the log file has it, without them.
        self.bell()
        self._close_messages_no_wait()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Every worker error becomes a toast: a failed call never exits the console."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(safe_text(f"{type(error).__name__}: {error}"),
                        title=f"{event.worker.name or 'task'} failed", severity="error",
                        timeout=10)


class ConsoleCrashed(Exception):
    """The console stopped on an unexpected error (its terminal is restored by then)."""

    def __init__(self, error: BaseException, log: Path | None) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.log = log


def run_console(services: Services, settings: Settings | None = None, *,
                clock: Clock = _utc_now, setup: Setup | None = None) -> int:
    """Run the console until the user quits; returns the process exit code.

    Raises ConsoleCrashed when it stopped on an unexpected error, once the terminal is
    back: the caller closes the record, then says so (`tui.crash.crash_message`).

    `setup(services)`, if given, runs in the console's event loop right after the
    first paint: connect there (`services.cluster = await connect(...)`, sources
    built on its client) so the client's session lives in the loop that uses it.
    """
    app = WarRoomApp(services, settings, clock=clock, setup=setup)
    try:
        result = app.run()
    except Exception as error:  # past Textual's own handling (its driver, its shutdown)
        app.note_crash(error)
    if app.crash is not None:
        raise ConsoleCrashed(app.crash, app.crash_log)
    return int(result or 0)
