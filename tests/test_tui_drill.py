"""The facilitator keys in a drill: pause, resume, speed, inject next, the score.

A real drill (DrillSession serving its API on 127.0.0.1) plays on its own
thread and loop exactly as `warroom drill` runs it (`DrillInBackground`); the
console is driven by Pilot and every assertion reads the player's own status
or the record.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from actions.drill.control_notes import CONTROL_KIND, OBSERVED_KIND
from actions.drill.player import PlayerStatus
from actions.drill.scenario import Scenario, load_builtin, load_scenario
from store import Record
from store.incidents import SessionScope
from tests.plugins.drill import make_kubectl
from tests.plugins.tui import AppFactory, until
from tui.app import WarRoomApp
from tui.cli.console import DrillInBackground
from tui.dialogs.score import ScoreScreen
from tui.screens.keys.facilitator import NOT_DRILL, next_speed
from tui.screens.war_room import WarRoomScreen
from tui.widgets.drill_strip import DrillStrip, describe

SHORT = """\
name: short-console
title: A short drill for the console
class: P2
length: 30
cluster:
  base: voicehive-istio
injects:
  - {at: 2, id: first-log, malicious: true, log: {pod: orchestrator-6f8d9c7b5d-k2x9p, line: hi}}
  - at: 4
    id: backoff
    event:
      object: {kind: Pod, name: orchestrator-6f8d9c7b5d-k2x9p}
      reason: BackOff
      message: Back-off restarting failed container
answer_key: {severity: P2, decision: misconfiguration}
"""



@pytest.fixture
def run_drill(tmp_path: Path) -> Iterator[Callable[..., DrillInBackground]]:
    """Start a drill on its own thread as `warroom drill` does; stopped after the test."""
    started: list[DrillInBackground] = []

    def start(scenario: Scenario, *, speed: float = 1.0) -> DrillInBackground:
        drill = DrillInBackground(scenario, speed=speed, port=0,
                                  kubeconfig_path=tmp_path / f"kubeconfig-{len(started)}")
        started.append(drill)
        drill.start()
        return drill

    yield start
    for drill in started:
        drill.stop()


@pytest.fixture
def short_scenario(tmp_path: Path) -> Scenario:
    path = tmp_path / "short.yaml"
    path.write_text(SHORT, encoding="utf-8")
    return load_scenario(str(path))


def controls(record: Record, incident_id: str) -> list[dict[str, Any]]:
    return [entry.data or {} for entry in record.timeline.for_incident(
        incident_id, kinds=(CONTROL_KIND,))]


def test_speeds_step_through_the_facilitator_range() -> None:
    assert next_speed(1.0, 1) == 2.0
    assert next_speed(1.0, -1) == 0.5
    assert next_speed(0.5, -1) == 0.5
    assert next_speed(60.0, 1) == 60.0
    assert next_speed(3.0, 1) == 5.0  # a --speed off the list joins it at the next notch
    assert next_speed(3.0, -1) == 2.0
    assert next_speed(500.0, -1) == 60.0


def test_the_strip_shows_a_hostile_inject_id_and_scenario_name_as_text() -> None:
    """A scenario file is shared between teams: its loader refuses such ids, and the strip
    never hands one to the terminal anyway."""
    status = PlayerStatus(position=1, length=60, speed=1, paused=False, finished=False,
                          remaining=1, next_at=3, next_inject="first\x1b[2J")
    line = describe("drill\x1b]0;owned\x07", status)
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "next first" in line


async def test_pause_resume_speed_and_inject_drive_the_player_and_land_on_the_timeline(
    make_app: AppFactory, record: Record, run_drill: Callable[..., DrillInBackground]
) -> None:
    drill = run_drill(load_builtin("dns-exfiltration"))  # 20 minutes at 1x: nothing ends here
    player = drill.session.player  # type: ignore[union-attr]
    incident = record.incidents.open("Drill: DNS exfiltration", severity="P0", drill=True)
    app = make_app(drill=drill, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.query(DrillStrip) and screen.drill_status, "the strip")
        strip = screen.query_one(DrillStrip)

        await pilot.press("P")
        await until(pilot, lambda: player.paused and len(controls(record, incident.id)) == 1,
                    "the pause")
        await until(pilot, lambda: strip.has_class("-paused"), "the strip to say paused")
        await pilot.press("P")
        await until(pilot, lambda: not player.paused and len(controls(record, incident.id)) == 2,
                    "the resume")

        await pilot.press("plus")
        await until(pilot, lambda: player.speed == 2.0, "x2")
        await pilot.press("minus", "minus")
        await until(pilot, lambda: player.speed == 0.5, "x0.5")
        await pilot.press("minus")  # the slowest already: nothing changes, a toast says so
        await until(pilot, lambda: any("the slowest" in n.message for n in app._notifications),
                    "the slowest toast")

        before = player.status()
        await pilot.press("J")
        await until(pilot, lambda: player.status().remaining == before.remaining - 1,
                    "the inject")
        await until(pilot, lambda: len(controls(record, incident.id)) == 6, "six controls")
        await app.workers.wait_for_complete()
    assert player.played.get(before.next_inject or "")  # the inject really played
    entries = controls(record, incident.id)
    assert [e["control"] for e in entries] == ["pause", "resume", "speed", "speed", "speed",
                                              "inject"]
    assert [e["speed"] for e in entries[2:5]] == [2.0, 1.0, 0.5]
    assert entries[0]["paused"] is True
    assert entries[1]["paused"] is False
    assert entries[-1]["inject"] == before.next_inject
    assert all(e["scenario"] == "dns-exfiltration" for e in entries)
    summaries = [e.summary for e in record.timeline.for_incident(incident.id,
                                                                 kinds=(CONTROL_KIND,))]
    assert summaries[0].startswith("Facilitator paused the drill at T+")
    assert all(e.actor == "ic@example.com" for e in record.timeline.for_incident(
        incident.id, kinds=(CONTROL_KIND,)))


async def test_controls_before_the_incident_is_open_land_on_it_once_it_is(
    make_app: AppFactory, record: Record, clock: Any,
    run_drill: Callable[..., DrillInBackground],
) -> None:
    """The MTTD window: the facilitator pauses, changes the speed and injects before anyone
    opens the incident. Each is on the incident's timeline once it is opened, at its time."""
    drill = run_drill(load_builtin("dns-exfiltration"))
    player = drill.session.player  # type: ignore[union-attr]
    app = make_app(drill=drill)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.query(DrillStrip) and screen.drill_status, "the strip")
        paused_at = clock.now
        await pilot.press("P")
        await until(pilot, lambda: player.paused, "the pause")
        await pilot.press("plus")
        await until(pilot, lambda: player.speed == 2.0, "x2")
        before = player.status()
        await pilot.press("J")
        await until(pilot, lambda: player.status().remaining == before.remaining - 1,
                    "the inject")
        await app.workers.wait_for_complete()
        assert record.incidents.list() == []
        clock.advance(minutes=3)
        incident = record.incidents.open("Drill: DNS exfiltration", severity="P0", drill=True)
        await until(pilot, lambda: len(controls(record, incident.id)) == 3,
                    "the waiting controls on the incident")
        await pilot.press("P")
        await until(pilot, lambda: len(controls(record, incident.id)) == 4, "the resume")
    entries = record.timeline.for_incident(incident.id, kinds=(CONTROL_KIND,))
    assert [(e.data or {}).get("control") for e in entries] == [
        "pause", "speed", "inject", "resume"]
    assert [e.at for e in entries[:3]] == [paused_at] * 3  # made before the incident opened
    assert entries[0].summary.startswith("Facilitator paused the drill at T+")
    data = [e.data or {} for e in entries]
    assert data[1]["speed"] == 2.0
    assert data[2]["inject"] == before.next_inject


ISOLATE_ORCHESTRATOR = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cut-off-orchestrator, namespace: voicehive}
spec:
  podSelector: {matchLabels: {app: orchestrator}}
  policyTypes: [Ingress, Egress]
"""


async def test_a_change_made_with_kubectl_is_on_the_timeline_as_the_cluster_saw_it(
    make_app: AppFactory, record: Record, tmp_path: Path,
    run_drill: Callable[..., DrillInBackground],
) -> None:
    """The drill cluster saw what kubectl changed (here: an isolation policy that the
    orchestrator's allow policies make leak, as NetworkPolicies add up), but only the score
    said so: the timeline and the report, which the reviewer reads, had no word of it."""
    drill = run_drill(load_builtin("dns-exfiltration"))
    incident = record.incidents.open("Drill: DNS exfiltration", severity="P0", drill=True)
    app = make_app(drill=drill, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.query(DrillStrip) and screen.drill_status, "the strip")
        kubectl = make_kubectl(tmp_path / "kubeconfig-0", tmp_path)
        applied = await asyncio.to_thread(kubectl, "apply", "-f", "-",
                                          input=ISOLATE_ORCHESTRATOR)
        assert applied.returncode == 0, applied.stderr

        def leaks() -> list[Any]:
            return [entry for entry in record.timeline.for_incident(
                incident.id, kinds=(OBSERVED_KIND,)) if "NetworkPolicies add up" in entry.summary]

        await until(pilot, leaks, "what the cluster saw, on the timeline")
        await app.workers.wait_for_complete()
    (entry,) = leaks()
    assert entry.summary.startswith(
        "Drill cluster: orchestrator-6f8d9c7b5d-k2x9p is selected by an isolation policy")
    assert entry.actor == "drill cluster"
    assert (entry.data or {})["reaction"] == "isolation-leaks"


async def test_the_score_opens_by_itself_once_when_the_scenario_ends(
    make_app: AppFactory, record: Record, run_drill: Callable[..., DrillInBackground],
    short_scenario: Scenario,
) -> None:
    drill = run_drill(short_scenario)
    player = drill.session.player  # type: ignore[union-attr]
    incident = record.incidents.open("Drill: back-off", severity="P2", drill=True)
    record.decisions.add(incident.id, "misconfiguration", rationale="bad rollout", actor="ic")
    app = make_app(drill=drill, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.query(DrillStrip), "the strip")
        await pilot.press("J", "J")  # both injects now; the rest of the 30 s at 60x
        await pilot.press(*["plus"] * 7)
        await until(pilot, lambda: player.finished, "the end of the scenario")
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score modal")
        score_screen = app.screen
        assert isinstance(score_screen, ScoreScreen)
        score = score_screen.score
        assert score is not None
        assert score.incident_id == incident.id
        assert score.scenario == "short-console"
        assert score.decision_given == "misconfiguration"
        assert score.decision_correct
        assert score.severity_correct
        assert "over" in score_screen.status
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room")
        await pilot.press("S")  # the facilitator can open it again
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score again")
        # Once by itself: the one the key opened is the only score on the stack.
        assert sum(isinstance(s, ScoreScreen) for s in app.screen_stack) == 1


@asynccontextmanager
async def drill_console_at_80x24(
    make_app: AppFactory, drill: DrillInBackground
) -> AsyncIterator[tuple[WarRoomApp, Any]]:
    """A console on `drill`, its drill strip shown: the app and its pilot."""
    app = make_app(drill=drill)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query(DrillStrip), "the strip")
        yield app, pilot


async def test_without_an_incident_the_score_says_how_to_get_one(
    make_app: AppFactory, run_drill: Callable[..., DrillInBackground], short_scenario: Scenario
) -> None:
    async with drill_console_at_80x24(make_app, run_drill(short_scenario)) as (app, pilot):
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score modal")
        screen = app.screen
        assert isinstance(screen, ScoreScreen)
        assert screen.score is None
        assert "no incident to score yet" in screen.why_none



async def test_an_older_drills_incident_left_open_is_not_scored_against_this_drill(
    make_app: AppFactory, record: Record, clock: Any,
    run_drill: Callable[..., DrillInBackground], short_scenario: Scenario,
) -> None:
    """`q` in an earlier drill left its incident open ("a new drill starts without it"):
    the next drill's score took it, scored it against the new answer key, and told the
    facilitator to change its severity, while the header said there was no incident."""
    record.incidents.open("Drill: an earlier scenario", severity="P1", drill=True)
    clock.advance(minutes=5)
    app = make_app(drill=run_drill(short_scenario),
                   incident_scope=SessionScope.for_mode("drill", clock.now))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.query(DrillStrip), "the strip")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score modal")
        screen = app.screen
        assert isinstance(screen, ScoreScreen)
        assert screen.score is None
        assert "no incident to score yet" in screen.why_none


async def test_at_80_columns_the_strip_still_shows_the_facilitator_keys(
    make_app: AppFactory, run_drill: Callable[..., DrillInBackground], short_scenario: Scenario
) -> None:
    async with drill_console_at_80x24(make_app, run_drill(short_scenario)) as (app, pilot):
        strip = app.screen.query_one(DrillStrip)
        await until(pilot, lambda: strip.status is not None, "the drill's status")
        await pilot.pause()
        keys = strip.query_one("#drill-keys-narrow")
        assert (keys.display, strip.query_one("#drill-keys").display) == (True, False)
        assert 0 < keys.region.width <= keys.region.right <= 80
        assert "P · +/- · J · S" in str(keys.render())

async def test_k_gives_the_line_that_points_kubectl_at_the_drill(
    make_app: AppFactory, run_drill: Callable[..., DrillInBackground], short_scenario: Scenario
) -> None:
    drill = run_drill(short_scenario)
    async with drill_console_at_80x24(make_app, drill) as (app, pilot):
        await pilot.press("K")
        await until(pilot, lambda: any("KUBECONFIG" in n.message for n in app._notifications),
                    "the kubectl line")
        (said,) = [n.message for n in app._notifications if "KUBECONFIG" in n.message]
        line = said.splitlines()[0]
        assert app.clipboard == line
    # The line works in a shell: kubectl (here, the kubeconfig it names) reaches the drill.
    assert line.startswith("export KUBECONFIG=")
    kubeconfig = Path(shlex.split(line.removeprefix("export KUBECONFIG="))[0])
    assert kubeconfig == drill.kubeconfig_path
    assert "server: https://127.0.0.1:" in await asyncio.to_thread(kubeconfig.read_text)


async def test_outside_a_drill_the_facilitator_keys_say_why_and_do_nothing(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Live incident", severity="P1")
    app = make_app(mode="live", incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        for key in ("P", "plus", "J", "S", "K"):
            await pilot.press(key)
        # Each key says why; the fifth saying so proves all five were handled.
        await until(pilot, lambda: [n.message for n in app._notifications].count(NOT_DRILL) == 5,
                    "the five refusals")
        assert not app.screen.query(DrillStrip)
        assert isinstance(app.screen, WarRoomScreen)
    assert controls(record, incident.id) == []
