"""The one way tests wait: poll a positive condition until it holds, else fail naming it.

A loaded machine is slow, not wrong: a test waits for what it asserts, never for a
fixed pause, and proves "nothing more happened" by waiting for a later marker that
the system can only reach past that point, never by sleeping and looking again.

- `eventually(condition, what)`: in a coroutine (a source's task, a Pilot: pass
  `pause=pilot.pause` so the console handles its messages between looks).
- `wait_for(condition, what)`: in plain code (another thread, a child process).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

STEP = 0.05  # seconds between looks


async def eventually(
    condition: Callable[[], object],
    what: str = "the condition",
    *,
    within: float = 30.0,
    pause: Callable[[float], Awaitable[object]] | None = None,
) -> None:
    """Let the event loop run until `condition()` holds; fail naming `what` after `within` s."""
    wait = pause or asyncio.sleep
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what} ({within:g} s)"
        await wait(STEP)


def wait_for(condition: Callable[[], object], what: str = "the condition", *,
             within: float = 30.0) -> None:
    """Poll until `condition()` holds; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what} ({within:g} s)"
        time.sleep(STEP)
