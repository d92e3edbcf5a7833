"""Clocks for the drill: the real one, and a manual one that makes tests instant.

The player measures scenario time on `monotonic()` and waits with `sleep()`;
everything it writes into the cluster (alert times, event timestamps, metric
samples) is stamped with `now()`. A `ManualClock` moves only when something
sleeps on it, so a whole scenario plays in milliseconds and plays the same way
every time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class DrillClock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time and asyncio's sleep."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that advances by exactly what is slept on it (and by `advance`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._elapsed = 0.0

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def advance(self, seconds: float) -> None:
        self._elapsed += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        # Yield first so a concurrent pause()/inject_next() can win the race,
        # as it could against a real sleep.
        await asyncio.sleep(0)
        self._elapsed += max(0.0, seconds)
