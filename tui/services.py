"""What the console is given to work with: one plain object, built by the caller, never global.

`warroom drill`, `warroom live`, `warroom review` and the tests each build a
`Services` and hand it to `WarRoomApp`. Nothing here imports Textual, so the
same object can be built by headless code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from store.incidents import SessionScope

if TYPE_CHECKING:
    from datetime import datetime

    from actions.drill.drill_events import DrillEvent, Observation
    from actions.drill.player import PlayerStatus
    from actions.drill.scenario import Scenario
    from actions.drill.session import DrillSession
    from actions.kube.cluster import Cluster
    from actions.runbook import RunbookActions
    from actions.runtime import ConsoleRuntime
    from store import Record

MODES = ("drill", "live", "review")


class SetupFailed(RuntimeError):
    """Raised by a setup hook when what the console exists for could not start
    (the drill's cluster): the console exits rather than stay open without it."""


class DrillGone(RuntimeError):
    """The drill's thread has stopped: there is nothing left to control.

    Raised by the drill handle (`tui.cli.console.DrillInBackground`), caught by the
    facilitator's keys: here, so a screen never imports the command line."""


class LiveSource(Protocol):
    """A live source the console runs in a worker until it closes (`actions.sources.live.
    LiveSources`, or one follower alone). It hands `sink` an `actions.sources.batches.AlertBatch`
    (into the Falco pane), an `actions.sources.health.SourceHealth` (into the header) or any
    other item (to the key groups, as a `SourceItem` message), from any thread."""

    async def run(self, sink: Callable[[object], None], /) -> None: ...


class DrillHandle(Protocol):
    """The facilitator's handle on a drill that plays on its own thread and event loop
    (`tui.cli.console.DrillInBackground`): each awaitable runs on the drill's loop and raises
    `DrillGone` once the drill has stopped."""

    @property
    def scenario_name(self) -> str: ...

    @property
    def scenario(self) -> Scenario:
        """Raises DrillGone until the drill has read it (a built-in is read as it starts)."""

    @property
    def session(self) -> DrillSession | None:
        """None until the drill's cluster has started."""

    def call_soon(self, function: Callable[[], object], /) -> None: ...

    async def wait_started(self) -> bool: ...

    async def subscribe(
        self, callback: Callable[[DrillEvent], None], /
    ) -> Callable[[], None]: ...

    async def status(self) -> PlayerStatus: ...

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...

    async def set_speed(self, speed: float, /) -> None: ...

    async def inject_next(self) -> None: ...

    async def score_inputs(self) -> tuple[datetime | None, list[Observation]]: ...


class ClusterUnusable(RuntimeError):
    """Raised by a setup hook when the cluster cannot be used (no kubeconfig, an unknown
    context...): the console stays open, the record still works, and it says why in the
    words `warroom status` uses (the message)."""


@dataclass
class Services:
    """The record, the mode and the optional handles the console drives.

    - `record`: the open incident record (every read and write goes through it).
    - `mode`: "drill", "live" or "review" (review is always read-only).
    - `context`, `namespace`: names shown in the header and the confirmation modal.
    - `incident_id`: the incident to show; None picks the newest open one `incident_scope`
      admits (a drill's console: its own drill's; live: real incidents only).
    - `actor`: who is at the keyboard, written into every record entry.
    - `cluster`: an `actions.kube.cluster.Cluster` for read-only listings (policies, mesh);
      None leaves those panes saying why they are empty.
    - `source`: a live source (the Falco follower) or a list of them; the console
      runs `await source.run(sink)` for each in a worker. The sink takes
      `AlertBatch` (into the Falco pane) and `SourceHealth` (into the header).
    - `actions`: the action layer's handle (`actions.runbook.RunbookActions`), for the
      containment keys.
    - `readonly`: actions disabled (review mode forces it).
    - `drill`: in a drill, the facilitator's handle on the running scenario
      (`tui.cli.console.DrillInBackground`); None otherwise.
    - `drill_cluster`: the cluster is warroom's drill cluster (a team drill's participant
      on `warroom live`; set once connected): what this console opens is a drill incident.
    - `cluster_problem`: why the cluster cannot be used, once setup found out (None: fine).
    - `runtime`: the console's threads, loops and record connections
      (`actions.runtime.ConsoleRuntime`); None: the app makes one over `record`.
    """

    record: Record
    mode: str = "drill"
    context: str | None = None
    namespace: str = "voicehive"
    incident_id: str | None = None
    actor: str | None = None
    cluster: Cluster | None = None
    source: LiveSource | list[LiveSource] | None = None
    actions: RunbookActions | None = None
    readonly: bool = False
    drill: DrillHandle | None = None
    incident_scope: SessionScope = field(default_factory=SessionScope)
    cluster_problem: str | None = None
    runtime: ConsoleRuntime | None = None
    drill_cluster: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "review":
            self.readonly = True

    @property
    def opens_drills(self) -> bool:
        """Whether the incidents this console opens (and the work it does) are a drill's:
        in `warroom drill`, and in `warroom live` on the drill cluster (scored, and kept out
        of the real metrics, as `warroom act` flags its work there)."""
        return self.mode == "drill" or self.drill_cluster

    @property
    def readonly_reason(self) -> str:
        """Why actions are disabled, in words for the footer and toasts."""
        if self.mode == "review":
            return "review mode: this console replays a recorded incident and changes nothing"
        return "read-only console: actions are disabled"
