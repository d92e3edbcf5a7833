"""The facilitator's controls: pause, resume, speed, inject the next event now; the event feed."""

from __future__ import annotations

import asyncio

import pytest

from actions.drill import drill_events as ev
from actions.drill.clock import ManualClock
from actions.drill.player import PlayerStatus, ScenarioPlayer, schedule
from actions.drill.scenario import Inject, parse_scenario

SCENARIO = """
name: tiny
title: Three injects
class: P2
length: 100
cluster:
  namespaces: [voicehive]
  mesh: none
  pods:
    - {name: app-1, labels: {app: app}, ip: 10.42.0.5, image: registry.example.com/app:1}
injects:
  - {at: 10, id: a, log: {pod: app-1, line: first}}
  - {at: 40, id: b, log: {pod: app-1, line: second}}
  - {at: 70, id: c, log: {pod: app-1, line: third}, repeat: {every: 10, times: 2}}
answer_key: {severity: P2, decision: misconfiguration}
"""


class Recorder:
    """Plays nothing into a cluster: records (position, inject id, repetition)."""

    def __init__(self) -> None:
        self.player: ScenarioPlayer | None = None
        self.played: list[tuple[float, str, int]] = []

    def __call__(self, inject: Inject, repetition: int) -> ev.DrillEvent:
        assert self.player is not None
        self.played.append((round(self.player.position(), 6), inject.id, repetition))
        event = ev.DrillEvent(
            self.player.position(),
            self.player.clock.now(),
            ev.INJECT,
            f"played {inject.id}",
            inject.id,
        )
        self.player.emit(event)
        return event


def make_player(speed: float = 1.0) -> tuple[ScenarioPlayer, Recorder, ManualClock]:
    clock = ManualClock()
    recorder = Recorder()
    player = ScenarioPlayer(parse_scenario(SCENARIO), recorder, clock, speed=speed)
    recorder.player = player
    return player, recorder, clock


def test_repeats_are_scheduled_within_the_length() -> None:
    plays = [(s.at, s.inject.id, s.repetition) for s in schedule(parse_scenario(SCENARIO))]
    assert plays == [(10, "a", 0), (40, "b", 0), (70, "c", 0), (80, "c", 1)]


async def test_injects_play_at_their_times_scaled_by_speed() -> None:
    player, recorder, clock = make_player(speed=4)
    await player.run()
    assert recorder.played == [(10, "a", 0), (40, "b", 0), (70, "c", 0), (80, "c", 1)]
    assert clock.monotonic() == pytest.approx(100 / 4)
    assert player.finished
    assert player.history[-1].kind == ev.END


async def test_pause_freezes_scenario_time_and_resume_continues() -> None:
    player, recorder, clock = make_player()
    player.subscribe(lambda e: player.pause() if e.inject_id == "b" else None)
    task = asyncio.create_task(player.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert player.paused
    assert recorder.played[-1][1] == "b"
    frozen_clock, frozen_position = clock.monotonic(), player.position()
    clock.advance(1000)  # wall time goes on; the scenario does not
    for _ in range(20):
        await asyncio.sleep(0)
    assert player.position() == frozen_position == 40
    assert [p[1] for p in recorder.played] == ["a", "b"]
    player.resume()
    await task
    assert [p[1] for p in recorder.played] == ["a", "b", "c", "c"]
    assert clock.monotonic() - frozen_clock == pytest.approx(1000 + 60)
    controls = [e.summary for e in player.history if e.kind == ev.CONTROL]
    assert controls == ["facilitator: paused", "facilitator: resumed"]


async def test_inject_next_plays_now_and_later_injects_keep_their_spacing() -> None:
    player, recorder, clock = make_player()
    player.pause()
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0)
    player.inject_next()  # works while paused: plays "a" at once
    for _ in range(20):
        await asyncio.sleep(0)
    assert recorder.played == [(10, "a", 0)]
    assert clock.monotonic() == 0
    player.inject_next()  # and "b", jumping scenario time to 40
    for _ in range(20):
        await asyncio.sleep(0)
    assert recorder.played[-1] == (40, "b", 0)
    player.resume()
    await task
    assert recorder.played[2:] == [(70, "c", 0), (80, "c", 1)]
    assert clock.monotonic() == pytest.approx(60)  # 40 s -> 100 s of scenario time, at speed 1


async def test_status_tells_where_the_drill_is() -> None:
    player, _, _ = make_player(speed=2)
    assert player.status() == PlayerStatus(0.0, 100.0, 2.0, False, False, 4, 10.0, "a")
    player.subscribe(lambda e: player.pause() if e.inject_id == "b" else None)
    task = asyncio.create_task(player.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert player.status() == PlayerStatus(40.0, 100.0, 2.0, True, False, 2, 70.0, "c")
    player.resume()
    await task
    assert player.status() == PlayerStatus(100.0, 100.0, 2.0, False, True, 0, None, None)


async def test_set_speed_changes_the_pace_from_now_on() -> None:
    player, recorder, clock = make_player(speed=1)
    player.subscribe(lambda e: player.set_speed(10) if e.inject_id == "a" else None)
    await player.run()
    assert [p[0] for p in recorder.played] == [10, 40, 70, 80]
    assert clock.monotonic() == pytest.approx(10 + 90 / 10)
    assert player.speed == 10
    with pytest.raises(ValueError, match="speed must be more than 0"):
        player.set_speed(0)


async def test_stop_ends_the_drill_early() -> None:
    player, recorder, _ = make_player()
    player.subscribe(lambda e: player.stop() if e.inject_id == "b" else None)
    await player.run()
    assert [p[1] for p in recorder.played] == ["a", "b"]
    assert player.history[-1].kind == ev.END
    assert player.history[-1].summary == "drill stopped"


async def test_events_iterator_sees_everything_until_the_end() -> None:
    player, _, _ = make_player(speed=100)
    seen: list[ev.DrillEvent] = []

    async def consume() -> None:
        async for event in player.events():
            seen.append(event)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await player.run()
    await asyncio.wait_for(consumer, 1)
    assert [e.kind for e in seen] == [ev.START, ev.INJECT, ev.INJECT, ev.INJECT, ev.INJECT, ev.END]
    assert seen == player.history
    assert all(e.wall.tzinfo is not None for e in seen)
    assert seen[1].to_dict()["inject_id"] == "a"


async def test_controls_from_another_thread_wake_the_player() -> None:
    player, recorder, _ = make_player()
    player.pause()
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0)
    await asyncio.to_thread(player.resume)
    await asyncio.wait_for(task, 2)
    assert [p[1] for p in recorder.played] == ["a", "b", "c", "c"]


async def test_ticks_run_every_15_seconds_between_injects_and_never_count_as_injects() -> None:
    clock = ManualClock()
    recorder = Recorder()
    ticks: list[float] = []
    player = ScenarioPlayer(
        parse_scenario(SCENARIO), recorder, clock, speed=1.0, tick=ticks.append, tick_every=15
    )
    recorder.player = player
    task = asyncio.ensure_future(player.run())
    await asyncio.sleep(0)
    player.inject_next()  # jumps to a (10 s): the next inject, never a tick
    await task
    assert [p for p, _, _ in recorder.played] == [10, 40, 70, 80]
    assert [round(t) for t in ticks] == [15, 30, 45, 60, 75, 90]
    assert player.remaining() == 0
