"""The timeline player: plays a scenario's injects at their times, under the facilitator's control.

Scenario time runs at `speed` times the clock's while not paused. The
facilitator's controls are plain calls the console binds to keys:
`pause()`, `resume()`, `set_speed(x)`, `inject_next()` (play the next inject
now; scenario time jumps to it, so later injects keep their spacing) and
`stop()`. What happens is reported as `DrillEvent`s: to callbacks
(`subscribe`), to async iterators (`events()`), and in `history`.

Between injects, the optional `tick(position)` callable runs every
`tick_every` seconds of scenario time (the engine's: flows connect, logs and
Hubble show it); ticks are not injects, so "inject the next event now" never
lands on one, and a jump in scenario time plays one tick, not every one skipped.

Controls and callbacks are safe to call from any thread; the player itself
runs as one asyncio task (`await player.run()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from actions.drill import drill_events as ev
from actions.drill.clock import DrillClock
from actions.drill.drill_events import DrillEvent
from store.wording import counted

if TYPE_CHECKING:  # only named here: `warroom drill` checks --speed without importing them
    from actions.drill.scenario import Inject, Scenario

EPSILON = 1e-9
MAX_SPEED = 100_000.0


@dataclass(order=True, frozen=True)
class Scheduled:
    """One play of an inject: repeats of an inject are scheduled as separate plays."""

    at: float
    order: int
    repetition: int
    inject: Inject = field(compare=False)


def schedule(scenario: Scenario) -> list[Scheduled]:
    """Every play of every inject within the scenario's length, in order."""
    plays = []
    for inject in scenario.injects:
        repetition = 0
        at = inject.at
        while at <= scenario.length + EPSILON:
            plays.append(Scheduled(at, inject.index, repetition, inject))
            repetition += 1
            if inject.every is None or (inject.times is not None and repetition >= inject.times):
                break
            at = inject.at + repetition * inject.every
    return sorted(plays)


@dataclass(frozen=True)
class PlayerStatus:
    """What the facilitator's header shows: where the drill is and what comes next."""

    position: float
    length: float
    speed: float
    paused: bool
    finished: bool
    remaining: int
    next_at: float | None
    next_inject: str | None


class ScenarioPlayer:
    """Plays one scenario through a `play(inject, repetition)` callable (the engine's)."""

    def __init__(
        self,
        scenario: Scenario,
        play: Callable[[Inject, int], DrillEvent | None],
        clock: DrillClock,
        *,
        speed: float = 1.0,
        tick: Callable[[float], None] | None = None,
        tick_every: float = 15.0,
    ) -> None:
        self.scenario = scenario
        self._play = play
        self._tick = tick
        self._tick_every = tick_every
        self._next_tick = tick_every
        self.clock = clock
        self._speed = _check_speed(speed)
        self._queue = schedule(scenario)
        self._base_position = 0.0
        self._base_mono = clock.monotonic()
        self._paused = False
        self._skip = 0
        self._stopped = False
        self._running = False
        self._finished = False
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._callbacks: list[Callable[[DrillEvent], None]] = []
        self._queues: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[DrillEvent | None]]] = []
        self.history: list[DrillEvent] = []
        self.played: dict[str, datetime] = {}  # inject id -> wall time of its first play

    # ----- what the facilitator sees -----------------------------------------------------

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        return self._finished

    def position(self) -> float:
        """Scenario seconds since the start."""
        with self._lock:
            if self._paused or not self._running:
                return self._base_position
            elapsed = self.clock.monotonic() - self._base_mono
            return min(self.scenario.length, self._base_position + elapsed * self._speed)

    def remaining(self) -> int:
        """How many plays are still to come."""
        with self._lock:
            return len(self._queue)

    def next_inject(self) -> Scheduled | None:
        with self._lock:
            return self._queue[0] if self._queue else None

    def status(self) -> PlayerStatus:
        with self._lock:
            upcoming = self._queue[0] if self._queue else None
            return PlayerStatus(
                position=self.position(),
                length=self.scenario.length,
                speed=self._speed,
                paused=self._paused,
                finished=self._finished,
                remaining=len(self._queue),
                next_at=upcoming.at if upcoming else None,
                next_inject=upcoming.inject.id if upcoming else None,
            )

    # ----- facilitator controls ---------------------------------------------------------------

    def pause(self) -> None:
        with self._lock:
            if self._paused:
                return
            self._base_position = self.position()
            self._paused = True
        self._control("paused")

    def resume(self) -> None:
        with self._lock:
            if not self._paused:
                return
            self._base_mono = self.clock.monotonic()
            self._paused = False
        self._control("resumed")

    def set_speed(self, speed: float) -> None:
        speed = _check_speed(speed)
        with self._lock:
            self._base_position = self.position()
            self._base_mono = self.clock.monotonic()
            self._speed = speed
        self._control(f"speed x{speed:g}")

    def inject_next(self) -> None:
        """Play the next inject now (also while paused)."""
        with self._lock:
            self._skip += 1
        self._control("inject next now")

    def stop(self) -> None:
        with self._lock:
            if self._finished or self._stopped:
                return
            self._stopped = True
        self._control("stopped")

    # ----- observing -------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[DrillEvent], None]) -> Callable[[], None]:
        """callback(event) for every event, called in the thread that produced it."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    async def events(self) -> AsyncIterator[DrillEvent]:
        """Every event from now on, until the drill ends."""
        queue: asyncio.Queue[DrillEvent | None] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            if self._finished:
                return
            self._queues.append(entry)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            with self._lock:
                if entry in self._queues:
                    self._queues.remove(entry)

    def emit(self, event: DrillEvent) -> None:
        """Record and deliver an event (the engine's reactions come through here too)."""
        with self._lock:
            self.history.append(event)
            if event.kind in (ev.INJECT, ev.SUPPRESSED, ev.ERROR) and event.inject_id:
                self.played.setdefault(event.inject_id, event.wall)
            callbacks = list(self._callbacks)
            queues = list(self._queues)
        for callback in callbacks:
            callback(event)
        for loop, queue in queues:
            _deliver(loop, queue, event)

    # ----- playing ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Play the scenario to its end (or until stop()); returns when done."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        with self._lock:
            self._base_mono = self.clock.monotonic()
            self._running = True
        self.emit(
            self._event(
                ev.START,
                f"drill {self.scenario.name} starts: {self.scenario.title} "
                f"({counted(len(self._queue), 'inject')} over {self.scenario.length:g} s, "
                f"speed x{self._speed:g})",
            )
        )
        try:
            await self._loop_until_done()
        finally:
            with self._lock:
                self._base_position = self.position()
                self._running = False
                self._finished = True
                queues = list(self._queues)
            self.emit(
                self._event(
                    ev.END,
                    "drill stopped" if self._stopped else "drill over: the scenario has ended",
                )
            )
            for loop, queue in queues:
                _deliver(loop, queue, None)

    async def _loop_until_done(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            tick_due: float | None = None
            with self._lock:
                if self._stopped:
                    return
                item = self._queue[0] if self._queue else None
                if self._skip:
                    self._skip -= 1
                    if item is None:
                        continue
                    self._base_position = max(self.position(), item.at)
                    self._base_mono = self.clock.monotonic()
                    self._queue.pop(0)
                    due: Scheduled | None = item
                else:
                    position = self.position()
                    target = item.at if item else self.scenario.length
                    if (
                        self._tick is not None
                        and not self._paused
                        and position + EPSILON >= self._next_tick
                        and position + EPSILON < target
                    ):
                        # Due before the next inject: tick first, then look again.
                        steps = int((position + EPSILON) // self._tick_every) + 1
                        self._next_tick = steps * self._tick_every
                        tick_due = position
                    if tick_due is not None:
                        due = None
                    elif not self._paused and position + EPSILON >= target:
                        if item is None:
                            return
                        self._queue.pop(0)
                        due = item
                    else:
                        due = None
                        if self._tick is not None and self._next_tick < target:
                            target = self._next_tick
                        delay = None if self._paused else (target - position) / self._speed
            if tick_due is not None and self._tick is not None:
                self._tick(tick_due)
                await asyncio.sleep(0)
                continue
            if due is not None:
                self._play(due.inject, due.repetition)
                await asyncio.sleep(0)  # let watchers and the API server breathe between injects
                continue
            await self._wait(delay)

    async def _wait(self, delay: float | None) -> None:
        """Until delay passes on the clock, or a control call wakes the loop."""
        assert self._wakeup is not None
        waiter = asyncio.ensure_future(self._wakeup.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if delay is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep(delay)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    def _control(self, what: str) -> None:
        self.emit(self._event(ev.CONTROL, f"facilitator: {what}"))
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wakeup.set()
        else:
            loop.call_soon_threadsafe(wakeup.set)

    def _event(self, kind: str, summary: str) -> DrillEvent:
        return DrillEvent(at=self.position(), wall=self.clock.now(), kind=kind, summary=summary)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[DrillEvent | None],
    event: DrillEvent | None,
) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        queue.put_nowait(event)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(queue.put_nowait, event)


def _check_speed(speed: float) -> float:
    if not (0 < speed <= MAX_SPEED):
        raise ValueError(f"speed must be more than 0 and at most {MAX_SPEED:g}, got {speed}")
    return float(speed)
