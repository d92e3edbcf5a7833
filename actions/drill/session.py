"""A drill: the cluster state, its API server on 127.0.0.1, the engine and the player, together.

    async with DrillSession(load_scenario("dns-exfiltration"), speed=10) as drill:
        print(drill.kubeconfig_path, drill.prometheus_url)
        await drill.play()              # or drill.start_playing() and carry on
        score = drill.score(record, incident_id)

Everything runs on the caller's event loop (the console's, or the CLI's), so
reactions to the team's changes are evaluated on that loop too. The kubeconfig
holds the run's credentials (the drill server's CA and bearer token).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from actions.drill.clock import DrillClock, SystemClock
from actions.drill.engine import DrillEngine
from actions.drill.player import ScenarioPlayer
from actions.drill.scenario import Scenario

if TYPE_CHECKING:
    from actions.drill.score import Score
    from actions.drill.server import DrillApiServer


def default_kubeconfig_path() -> Path:
    """A private file for this drill's kubeconfig in a new folder of the temp dir."""
    folder = Path(tempfile.mkdtemp(prefix="warroom-drill-"))
    return folder / "kubeconfig"


class DrillSession:
    """One scenario served on loopback and played; usable as an async context manager."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        speed: float = 1.0,
        clock: DrillClock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig_path: Path | None = None,
        serve: bool = True,
    ) -> None:
        from actions.drill.cluster_state import ClusterState

        self.scenario = scenario
        self.clock = clock or SystemClock()
        self.state = ClusterState(clock=self.clock.now)
        self.player = ScenarioPlayer(scenario, self._play, self.clock, speed=speed)
        self.engine = DrillEngine(
            scenario, self.state, self.clock, self.player.emit, self.player.position
        )
        self._serve = serve
        self._host, self._port = host, port
        self._requested_kubeconfig = kubeconfig_path
        self.kubeconfig_path: Path | None = None
        self.server: DrillApiServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._temporary_kubeconfig: Path | None = None

    def _play(self, inject, repetition):  # noqa: ANN001, ANN202 - the player's callable
        return self.engine.play(inject, repetition)

    async def start(self) -> DrillSession:
        """Build the starting cluster, start the API server, write the kubeconfig."""
        self.engine.seed()
        if self._serve:
            from actions.drill.server import DrillApiServer

            server = self.server = DrillApiServer(self.state, host=self._host, port=self._port)
            await server.start()
            path = self._requested_kubeconfig
            if path is None:
                path = default_kubeconfig_path()
                self._temporary_kubeconfig = path
            self.kubeconfig_path = server.write_kubeconfig(path)
        return self

    def start_playing(self) -> asyncio.Task[None]:
        """Start the player as a task on the running loop (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self.player.run())
        return self._task

    async def play(self) -> None:
        """Play the scenario to its end."""
        await self.start_playing()

    async def stop(self) -> None:
        self.player.stop()
        if self._task is not None:
            await self._task
        self.engine.close()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._temporary_kubeconfig is not None:
            # It points at a server that is gone; a file the user named is theirs to keep.
            shutil.rmtree(self._temporary_kubeconfig.parent, ignore_errors=True)
            self._temporary_kubeconfig = None

    async def __aenter__(self) -> DrillSession:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the drill is not serving")
        return self.server.url

    @property
    def prometheus_url(self) -> str:
        if self.server is None:
            raise RuntimeError("the drill is not serving")
        return self.server.prometheus_url

    def score(self, record, incident_id: str) -> Score:  # noqa: ANN001 - store.Record
        """The drill's score from the incident record and what the cluster showed."""
        from actions.drill.score import score_drill

        clock_inject = self.scenario.first_clock_inject()
        started = self.player.played.get(clock_inject.id) if clock_inject else None
        return score_drill(
            self.scenario,
            record,
            incident_id,
            clock_started_at=started,
            observations=self.engine.observations,
        )
