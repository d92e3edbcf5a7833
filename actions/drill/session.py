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

import yaml

from actions.drill.clock import DrillClock, SystemClock
from actions.drill.player import ScenarioPlayer
from actions.drill.runtime_dir import DESIRED_STATE, HUBBLE_FLOWS, new_runtime_dir
from actions.drill.scenario import Inject, Scenario
from actions.drill.sim.engine import TICK_SECONDS, DrillEngine
from actions.drill.sim.hubble_cli import write_shim

if TYPE_CHECKING:
    from datetime import datetime

    from actions.drill.drill_events import DrillEvent, Observation
    from actions.drill.score import Score
    from actions.drill.server import DrillApiServer
    from store import Record


def default_kubeconfig_path() -> Path:
    """A private file for this drill's kubeconfig in a new folder of the temp dir."""
    folder = Path(tempfile.mkdtemp(prefix="warroom-drill-"))
    return folder / "kubeconfig"


def write_desired_state(scenario: Scenario, path: Path) -> None:
    """The starting cluster's NetworkPolicies, as the team's git holds them (kubectl apply -f)."""
    policies = [
        {key: obj[key] for key in ("apiVersion", "kind", "metadata", "spec") if key in obj}
        for obj in scenario.objects
        if obj.get("kind") == "NetworkPolicy"
    ]
    header = f"# Desired NetworkPolicies of drill {scenario.name} (the starting cluster's).\n"
    path.write_text(header + yaml.safe_dump_all(policies, sort_keys=False), encoding="utf-8")


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
        runtime_dir: Path | None = None,
        beyond_loopback: bool = False,
    ) -> None:
        from actions.drill.apiserver.cluster_state import ClusterState

        self.scenario = scenario
        self.clock = clock or SystemClock()
        self.state = ClusterState(clock=self.clock.now)
        # The drill's own files: Hubble's flows, the `hubble` command that reads them, and the
        # desired state (removed when the drill stops).
        self.runtime_dir = runtime_dir or new_runtime_dir()
        self.player = ScenarioPlayer(
            scenario, self._play, self.clock, speed=speed, tick=self._tick, tick_every=TICK_SECONDS
        )
        self.engine = DrillEngine(
            scenario,
            self.state,
            self.clock,
            self.player.emit,
            self.player.position,
            hubble_file=self.runtime_dir / HUBBLE_FLOWS,
        )
        self._serve = serve
        self._host, self._port = host, port
        self._beyond_loopback = beyond_loopback  # a team drill's --listen ADDRESS
        self._requested_kubeconfig = kubeconfig_path
        self.kubeconfig_path: Path | None = None
        self.server: DrillApiServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._temporary_kubeconfig: Path | None = None

    def _play(self, inject: Inject, repetition: int) -> DrillEvent:
        return self.engine.play(inject, repetition)

    def _tick(self, position: float) -> None:
        self.engine.tick(position)

    @property
    def hubble_flows(self) -> Path:
        """The flows `hubble observe -o json` prints, one per line (a `[hubble] file`)."""
        return self.runtime_dir / HUBBLE_FLOWS

    @property
    def desired_state(self) -> Path:
        """The scenario's desired NetworkPolicies (the starting ones), for drift and re-apply."""
        return self.runtime_dir / DESIRED_STATE

    @property
    def hubble_bin(self) -> Path:
        """The folder holding the drill's `hubble` command: put it first on PATH."""
        return self.runtime_dir / "bin"

    async def start(self) -> DrillSession:
        """Build the starting cluster, start the API server, write the kubeconfig."""
        self.engine.seed()
        write_shim(self.runtime_dir, self.hubble_flows)
        write_desired_state(self.scenario, self.desired_state)
        if self._serve:
            from actions.drill.server import DrillApiServer

            server = self.server = DrillApiServer(self.state, host=self._host, port=self._port,
                                                  beyond_loopback=self._beyond_loopback)
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
        # The flows and the `hubble` that reads them end with the drill (a follower stops).
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

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

    def score_inputs(self) -> tuple[datetime | None, list[Observation]]:
        """What a score needs from the running drill, read on its loop: when the scenario's
        first sign played (its clock's start), and what the cluster has shown so far."""
        clock_inject = self.scenario.first_clock_inject()
        started = self.player.played.get(clock_inject.id) if clock_inject else None
        return started, list(self.engine.observations)

    def score(self, record: Record, incident_id: str) -> Score:
        """The drill's score from the incident record and what the cluster showed."""
        from actions.drill.score import score_drill

        started, observations = self.score_inputs()
        return score_drill(
            self.scenario,
            record,
            incident_id,
            clock_started_at=started,
            observations=observations,
        )
