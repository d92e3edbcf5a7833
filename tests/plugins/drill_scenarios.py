"""Drill scenario fixtures: a manual clock, and drill sessions (scenario + cluster + player)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest
import pytest_asyncio

from actions.drill.clock import ManualClock
from actions.drill.scenario import Scenario, load_builtin
from actions.drill.session import DrillSession

DRILL_START = datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC)


class DrillFactory(Protocol):
    """The `drill_factory` fixture: a started DrillSession of a scenario (or a built-in's name)."""

    async def __call__(
        self,
        scenario: Scenario | str,
        *,
        serve: bool = False,
        clock: ManualClock | None = None,
        speed: float = 1.0,
    ) -> DrillSession: ...


@pytest.fixture
def manual_clock() -> ManualClock:
    """Advances only by what the drill sleeps: a whole scenario plays in milliseconds."""
    return ManualClock(DRILL_START)


@pytest_asyncio.fixture
async def drill_factory(
    tmp_path: Path,
) -> AsyncIterator[DrillFactory]:
    """`await drill_factory(scenario_or_name, serve=False, clock=..., speed=...)` -> a started
    DrillSession, stopped at the end of the test."""
    sessions: list[DrillSession] = []

    async def make(
        scenario: Scenario | str,
        *,
        serve: bool = False,
        clock: ManualClock | None = None,
        speed: float = 1.0,
    ) -> DrillSession:
        loaded = load_builtin(scenario) if isinstance(scenario, str) else scenario
        session = DrillSession(
            loaded,
            speed=speed,
            clock=clock or ManualClock(DRILL_START),
            serve=serve,
            kubeconfig_path=tmp_path / f"kubeconfig-{len(sessions)}",
        )
        sessions.append(session)
        return await session.start()

    yield make
    for session in sessions:
        await session.stop()
