"""Record fixtures: a real SQLite file in a temporary folder and a clock tests control."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import Record


class FrozenClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 14, 9, 0, 0, tzinfo=UTC))


@pytest.fixture
def record_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh record file; WARROOM_DB points at it so subprocesses use it too."""
    path = tmp_path / "record.db"
    monkeypatch.setenv("WARROOM_DB", str(path))
    monkeypatch.setenv("WARROOM_CONFIG", str(tmp_path / "no-config.toml"))
    return path


@pytest.fixture
def record(record_path: Path, clock: FrozenClock) -> Iterator[Record]:
    with Record.open(record_path, clock=clock) as opened:
        yield opened
