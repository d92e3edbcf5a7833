"""Opening the war-room console for `warroom drill`, `warroom live` and `warroom review`.

One path for every mode: the console gets the record, the configuration and a
setup hook that connects to the cluster (the drill's or a real one) inside the
console's own event loop, then follows every live source into the record.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tui.cli.common import EXIT_FAILED, db_path
from tui.services import DrillGone

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from actions.config import Settings
    from actions.drill.clock import DrillClock
    from actions.drill.drill_events import DrillEvent, Observation
    from actions.drill.player import PlayerStatus, ScenarioPlayer
    from actions.drill.scenario import Scenario
    from actions.drill.session import DrillSession
    from actions.falco.classify import Classifier
    from actions.kube.cluster import Cluster, ClusterOptions
    from actions.runbook import RunbookActions
    from actions.sources.live import LiveSources
    from store import Record
    from tui.app import ConsoleCrashed
    from tui.services import Services

    Setup = Callable[[Services], Awaitable[None]]
    # Options known only once something has started (the drill's cluster): resolved in setup.
    StartCluster = Callable[[], Awaitable[ClusterOptions]]

DRILL_START_TIMEOUT = 30.0
R = TypeVar("R")


def open_console(
    args: argparse.Namespace,
    settings: Settings,
    *,
    mode: str,
    options: ClusterOptions | StartCluster | None,
    incident_id: str | None = None,
    drill: DrillInBackground | None = None,
) -> int:
    """Run the console until the user quits. `options=None` means no cluster (review).

    `drill`: the drill, for the facilitator keys (`warroom drill`); `options` may be
    the coroutine function that starts it after the first paint.
    """
    from tui import collector

    with collector.paused_until_first_screen():  # its imports too: see tui/collector.py
        return _open_console(args, settings, mode=mode, options=options,
                             incident_id=incident_id, drill=drill)


def _open_console(
    args: argparse.Namespace,
    settings: Settings,
    *,
    mode: str,
    options: ClusterOptions | StartCluster | None,
    incident_id: str | None,
    drill: DrillInBackground | None,
) -> int:
    from actions.runtime import ConsoleRuntime
    from tui.app import ConsoleCrashed, run_console

    path = db_path(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    # With a cluster, the sources write from their own threads and the action layer from
    # its record thread: each through a connection of its own (actions.runtime).
    others = ("sources", "actions") if options else ()
    try:
        # A new record's tables are made after the first frame (actions/runtime.py).
        with ConsoleRuntime.open(path, readonly=mode == "review", connections=others,
                                 create_later=True) as runtime:
            if drill is not None:
                runtime.adopt(drill)  # the drill stops when the console does
            services, setup = console_services(
                runtime.record,
                runtime.connection("sources"),
                settings,
                mode=mode,
                options=options,
                incident_id=incident_id,
                actions_record=runtime.connection("actions"),
            )
            services.drill = drill
            services.runtime = runtime
            return run_console(services, settings, clock=runtime.record.clock, setup=setup)
    except ConsoleCrashed as crashed:  # said once every connection to the record is closed
        return said_crash(crashed, path)


def said_crash(crashed: ConsoleCrashed, path: Path) -> int:
    """Say how the console stopped, where the details are; the exit code (1)."""
    from tui.crash import crash_message

    print(crash_message(crashed.error, crashed.log, path), file=sys.stderr)
    return EXIT_FAILED


def console_services(
    record: Record,
    sources_record: Record | None,
    settings: Settings,
    *,
    mode: str,
    options: ClusterOptions | StartCluster | None,
    incident_id: str | None = None,
    actor: str | None = None,
    actions_record: Record | None = None,
) -> tuple[Services, Setup | None]:
    """The console's services and the setup hook that connects it and starts the sources.

    `options` is the cluster to connect to, or a coroutine function that starts one
    and returns its options (`warroom drill`). `actions_record` is the connection
    the cluster actions write through (else `record`).
    """
    from store.incidents import SessionScope
    from tui.services import Services

    named = getattr(options, "namespace", None)  # a cluster still to start names none yet
    namespace = named or settings.cluster.namespace
    services = Services(
        record, mode=mode, incident_id=incident_id, actor=actor or _who(), namespace=namespace,
        incident_scope=SessionScope.for_mode(mode, record.clock()),
    )
    if options is None or sources_record is None:
        return services, None

    async def setup(services: Services) -> None:
        from actions.kube.cluster import ClusterError
        from tui.cli.cmd_act import is_drill_cluster
        from tui.services import ClusterUnusable

        resolved = await options() if callable(options) else options
        connect, RunbookActions, LiveSources, classifier = await asyncio.to_thread(  # noqa: N806
            _cluster_layer
        )
        if services.runtime is not None:  # the sources' and actions' connections: tables first
            await services.runtime.record_ready()
        try:
            cluster = await connect(resolved)
        except ClusterError as error:  # as `warroom status` says it
            raise ClusterUnusable(error.message) from error
        services.cluster = cluster
        if mode == "live" and await asyncio.to_thread(is_drill_cluster, cluster):
            # A team drill's participant: what this console opens is the drill's, scored
            # and kept out of the real metrics, as `warroom act` flags its work there; an
            # earlier drill's incident left open is not this drill's.
            services.drill_cluster = True
            services.incident_scope = SessionScope(
                drill=True, since=await drill_started_at(cluster, services.namespace))
        if not services.readonly:
            runtime = services.runtime
            services.actions = RunbookActions(
                actions_record or record, cluster, actor=services.actor,
                drill=services.opens_drills,
                record_thread=runtime.actions_thread() if runtime is not None else None,
            )
        services.context = cluster.context
        services.namespace = cluster.namespace
        services.source = LiveSources(
            cluster, sources_record, settings, classifier, incident_id=incident_id,
            kubeconfig=resolved.kubeconfig, actor=services.actor or "warroom",
            scope=services.incident_scope,  # this session's incidents, none of another's
        )

    return services, setup


async def drill_started_at(cluster: Cluster, namespace: str) -> datetime | None:
    """When the drill cluster started: it makes its namespaces as it starts (None if it
    cannot say, and then any open drill incident is taken)."""
    from datetime import datetime

    from actions.kube.cluster import NAMESPACE, ClusterError

    try:
        found = await cluster.get(NAMESPACE, namespace)
        created = str(found["metadata"]["creationTimestamp"])
        return datetime.fromisoformat(created.replace("Z", "+00:00"))
    except (ClusterError, KeyError, TypeError, ValueError):
        return None


def _cluster_layer() -> tuple[
    Callable[[ClusterOptions], Awaitable[Cluster]], type[RunbookActions], type[LiveSources],
    Classifier,
]:
    """`connect`, `RunbookActions`, `LiveSources` and the alerts' classifier, imported and
    loaded on a worker thread.

    kubernetes and aiohttp take about half a second to import: on the event loop
    that would freeze the console just after its first paint. The classifier (30 ms
    of CPU) is for the sources only: the first frame does not wait for it either.
    """
    from actions.falco.classify import Classifier
    from actions.kube.cluster import connect
    from actions.runbook import RunbookActions
    from actions.sources.live import LiveSources

    return connect, RunbookActions, LiveSources, Classifier.load()


def _who() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container
        return None


class DrillInBackground:
    """A drill session on its own thread and event loop, so the console's loop stays free.

    The console reaches its cluster like any cluster: through the kubeconfig it
    writes. The facilitator reaches its player through the awaitable methods
    below, which run on the drill's own loop (`call`): the player and the engine
    are only ever touched from the drill's thread.
    """

    def __init__(self, scenario: Scenario | str, *, speed: float, port: int,
                 kubeconfig_path: Path | None, clock: DrillClock | None = None,
                 runtime_dir: Path | None = None) -> None:
        """`scenario`: the scenario, or a built-in's name: then it is read on the drill's own
        thread as the cluster starts, once the console is on screen (parsing it and importing
        the parser took a tenth of a second before the first frame; bench/drill_launch.py)."""
        self._scenario = None if isinstance(scenario, str) else scenario
        self.scenario_name = scenario if isinstance(scenario, str) else scenario.name
        self.runtime_dir = runtime_dir  # the drill's own files (see DrillSession)
        self.speed = speed
        self.port = port
        self.kubeconfig_path = kubeconfig_path
        self.clock = clock  # None: the wall clock (tests pass a manual one)
        self.session: DrillSession | None = None
        self.started_at: datetime | None = None  # on the drill's clock, once it has started
        self._ready = threading.Event()
        self._stop_requested = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="warroom-drill", daemon=True)

    def start(self) -> DrillSession:
        self._thread.start()
        if not self._ready.wait(DRILL_START_TIMEOUT):
            self._failure = TimeoutError(
                f"the drill cluster did not start within {DRILL_START_TIMEOUT:g} s"
            )
        if self._failure is not None:
            raise self._failure
        assert self.session is not None
        return self.session

    @property
    def scenario(self) -> Scenario:
        """The scenario playing (DrillGone while a built-in is still being read)."""
        if self._scenario is None:
            raise DrillGone("the drill is still starting")
        return self._scenario

    @property
    def failure(self) -> BaseException | None:
        """Why the drill could not start, once `start()` gave up."""
        return self._failure

    async def wait_started(self) -> bool:
        """Wait (off the event loop) until `start()` has finished; whether the drill runs."""
        await asyncio.to_thread(self._ready.wait, DRILL_START_TIMEOUT)
        return self.session is not None

    def stop(self) -> None:
        """Stop the drill, started or starting (the console may quit before it is up)."""
        self._stop_requested.set()
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.ident is not None:  # never started: nothing to wait for
            self._thread.join(timeout=10)

    # --- the facilitator's handle, from any other thread's event loop ----------------------------

    async def call(self, function: Callable[..., R], /, *args: Any) -> R:
        """Run `function(*args)` on the drill's loop and wait for its result without blocking."""
        if not self._ready.is_set():
            raise DrillGone("the drill is still starting")
        loop = self._loop
        if loop is None or loop.is_closed() or not self._thread.is_alive():
            raise DrillGone("the drill has stopped")

        async def on_drill_loop() -> R:
            return function(*args)

        try:
            future = asyncio.run_coroutine_threadsafe(on_drill_loop(), loop)
        except RuntimeError as error:  # the loop closed between the check and the call
            raise DrillGone("the drill has stopped") from error
        return await asyncio.wrap_future(future)

    def call_soon(self, function: Callable[[], object]) -> None:
        """Run `function()` on the drill's loop without waiting (nothing if the drill is gone)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(function)
            except RuntimeError:  # closed meanwhile: the drill is over, nothing to undo
                pass

    def _player(self) -> ScenarioPlayer:
        if self.session is None:
            raise DrillGone("the drill has not started")
        return self.session.player

    async def status(self) -> PlayerStatus:
        return await self.call(lambda: self._player().status())

    async def pause(self) -> None:
        await self.call(lambda: self._player().pause())

    async def resume(self) -> None:
        await self.call(lambda: self._player().resume())

    async def set_speed(self, speed: float) -> None:
        await self.call(lambda: self._player().set_speed(speed))

    async def inject_next(self) -> None:
        await self.call(lambda: self._player().inject_next())

    async def subscribe(self, callback: Callable[[DrillEvent], None]) -> Callable[[], None]:
        """callback(event) for each drill event, run on the drill's thread; returns unsubscribe."""
        return await self.call(lambda: self._player().subscribe(callback))

    async def score_inputs(self) -> tuple[datetime | None, list[Observation]]:
        """What the score needs from the drill: when its clock started, what the cluster showed."""

        def read() -> tuple[datetime | None, list[Observation]]:
            session = self.session
            if session is None:
                raise DrillGone("the drill has not started")
            clock_inject = session.scenario.first_clock_inject()
            started = session.player.played.get(clock_inject.id) if clock_inject else None
            return started, list(session.engine.observations)

        return await self.call(read)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from actions.drill.scenario import load_builtin
        from actions.drill.session import DrillSession

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            if self._scenario is None:
                # Trusted as `warroom drill` trusts a built-in: the drill cluster checks its
                # manifests against the API schemas as it seeds.
                self._scenario = load_builtin(self.scenario_name, schemas=False)
        except Exception as error:  # reported by start() in the caller's thread
            self._failure = error
            self._ready.set()
            return
        session = DrillSession(
            self._scenario, speed=self.speed, port=self.port,
            kubeconfig_path=self.kubeconfig_path, clock=self.clock, runtime_dir=self.runtime_dir,
        )
        try:
            await session.start()
        except BaseException as error:  # reported by start() in the caller's thread
            self._failure = error
            self._ready.set()
            await session.stop()
            return
        self.session = session
        self.started_at = session.clock.now()
        session.start_playing()
        self._ready.set()
        try:
            if not self._stop_requested.is_set():  # a stop while starting found no loop to signal
                await self._stop.wait()
        finally:
            await session.stop()
