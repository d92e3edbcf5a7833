"""The war-room console application and `run_console`, the one entry the commands call.

`WarRoomApp(services, settings, clock=...)` gets everything injected: the
record and handles in `Services`, the configuration in `Settings`, and the
clock the header reads (tests freeze it). No module-level state.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, ClassVar, TypeVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerFailed, WorkerState

from actions.config import Settings
from actions.runtime import ConsoleRuntime
from tui import collector
from tui.commands import IncidentCommands, PaneCommands
from tui.crash import write_crash_log
from tui.keymap import binding_ids, unknown_ids
from tui.safe import safe_text
from tui.screens.war_room import WarRoomScreen
from tui.services import ClusterUnusable, Services, SetupFailed
from tui.textual_workarounds import (
    ClosedScreensWaitForMount,
    FirstFrameWhole,
    KeysOneAtATime,
    QuietFatalError,
    UnattachedNotStyled,
)
from tui.widgets.alert_list import Alerts

R = TypeVar("R")
Clock = Callable[[], datetime]
Setup = Callable[[Services], Awaitable[None]]
STYLES = Path(__file__).parent / "styles"
THEMES = ("textual-dark", "textual-light")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WarRoomApp(
    FirstFrameWhole, KeysOneAtATime, ClosedScreensWaitForMount, QuietFatalError,
    UnattachedNotStyled, App[int],
):
    """The console. `services.mode` decides the badge; `services.readonly` dims the action keys.

    Its bases from `tui.textual_workarounds` are where it reaches into Textual's internals.
    """

    TITLE = "warroom"
    # The war room's styles and the dialogs' it opens at once (quitting, help). The screens
    # that name their own (the action form, checklist, report, go-to: `SCREEN_STYLES`) have
    # theirs added after the first frame by the warm-up (tui/warmup.py), which the first
    # frame does not wait for: when Textual first pushes a screen whose CSS_PATH it lacks, it
    # re-parses the whole stylesheet and restyles every widget of the console, a quarter of
    # a second on the first opening of an action form.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        STYLES / "app.tcss",
        STYLES / "war_room.tcss",
        STYLES / "panes.tcss",
        STYLES / "dialogs.tcss",
        STYLES / "drill.tcss",
    ]
    SCREEN_STYLES: ClassVar[tuple[PurePath, ...]] = tuple(
        STYLES / name for name in ("action_form.tcss", "checklist.tcss", "replay.tcss",
                                   "report.tcss")
    )
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
        on_first_screen: Callable[[], None] | None = None,
        on_warmed: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.settings = settings or Settings()
        self.clock = clock
        self.theme = theme
        # Runs inside the console's own event loop after the first paint: the place to
        # connect to the cluster and build sources (an aiohttp session belongs to one loop).
        self._setup = setup
        # Every thread, loop and record connection of the console (docs/architecture.md):
        # the caller's, or one over the services' record for a console built in a test.
        if services.runtime is None or services.runtime.stopped:
            services.runtime = ConsoleRuntime(services.record)
        self.runtime: ConsoleRuntime = services.runtime
        self._classifier: Any = None
        self.loop_thread: int | None = None
        """The thread the console's event loop runs on (once mounted)."""
        self.crash: BaseException | None = None
        """The unexpected error the console stopped on (None while all is well)."""
        self.crash_log: Path | None = None
        self.on_first_screen = on_first_screen
        """Called once the first screen is up (`console_app`: the collector's second freeze)."""
        self.on_warmed = on_warmed
        """Called once the dialogs are warmed up (`console_app`: the collector's last freeze)."""

    def on_mount(self) -> None:
        self.loop_thread = threading.get_ident()
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))
            for problem in unknown_ids(self.settings.keymap, binding_ids()):
                self.notify(problem, title="Configuration", severity="warning", timeout=30)
        self.push_screen(WarRoomScreen())
        self.run_worker(self._first_screen_up(), group="first-screen", exit_on_error=False)

    async def _first_screen_up(self) -> None:
        """Once the first frame is on the terminal: a new record's tables are created (the
        record calls wait for them; actions/runtime.py), and `on_first_screen()` (the
        collector's second step: it also turns collection back on; tui/collector.py)."""
        await self.first_frame.wait()
        self.runtime.start_schema()
        if self.on_first_screen is not None:
            self.on_first_screen()

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
        if self.services.cluster is not None and self.services.cluster is not before:
            self.runtime.own_cluster(self.services.cluster)

    async def on_unmount(self) -> None:
        await self.runtime.close_cluster()
        # Queued calls are dropped; the one under way ends first: the records close next.
        self.runtime.stop_threads()

    @property
    def war_room(self) -> WarRoomScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, WarRoomScreen):
                return screen
        return None

    async def in_record(self, call: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run a record read or write on the record's thread; the event loop never waits on disk."""
        return await self.runtime.in_record(call, *args, **kwargs)

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
        from tui.dialogs.forms import AskScreen  # when first asked, or by the warm-up (warmup.py)

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
            again = (
                "a new drill starts without it (`warroom incidents close` ends it)"
                if services.mode == "drill"  # SessionScope: a drill takes only its own
                else f"`warroom {services.mode}` shows it again"
            )
            return (f"Quit warroom with {open_one.id} open?",
                    f"{open_one.id} stays open in the record: {again}.")
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


def console_app(services: Services, settings: Settings | None = None, *,
                clock: Clock = _utc_now, setup: Setup | None = None) -> WarRoomApp:
    """The console as `warroom drill|live|review` runs it, the process's collector tuned.

    The tuning (tui/collector.py) is the process's, so it is done here, where a console
    starts, and not in `WarRoomApp`: a test building apps leaves pytest's collector alone.
    """
    collector.freeze_imports()
    return WarRoomApp(services, settings, clock=clock, setup=setup,
                      on_first_screen=collector.freeze_first_screen,
                      on_warmed=collector.freeze_warmed)


def run_console(services: Services, settings: Settings | None = None, *,
                clock: Clock = _utc_now, setup: Setup | None = None) -> int:
    """Run the console until the user quits; returns the process exit code.

    Raises ConsoleCrashed when it stopped on an unexpected error, once the terminal is
    back: the caller closes the record, then says so (`tui.crash.crash_message`).

    `setup(services)`, if given, runs in the console's event loop right after the
    first paint: connect there (`services.cluster = await connect(...)`, sources
    built on its client) so the client's session lives in the loop that uses it.
    """
    app = console_app(services, settings, clock=clock, setup=setup)
    try:
        result = app.run()
    except Exception as error:  # past Textual's own handling (its driver, its shutdown)
        app.note_crash(error)
    if app.crash is not None:
        raise ConsoleCrashed(app.crash, app.crash_log)
    return int(result or 0)
