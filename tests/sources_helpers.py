"""Small helpers shared by the tests of actions/sources (not fixtures)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from actions.sources.health import SourceHealth
from tests.plugins.waiting import eventually

__all__ = ["RunningSource", "eventually"]


class RunningSource:
    """A source's `run(sink)` in a task, with everything the sink received."""

    def __init__(self, run: Callable[[Callable[[object], None]], Coroutine[Any, Any, None]]
                 ) -> None:
        self.received: list[object] = []
        self.task = asyncio.create_task(run(self.received.append))

    def of(self, kind: type) -> list[Any]:
        return [item for item in self.received if isinstance(item, kind)]

    def health(self, source: str | None = None) -> list[SourceHealth]:
        return [h for h in self.of(SourceHealth) if source is None or h.source == source]

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
