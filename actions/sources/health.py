"""What each source can see right now, so an empty pane is never mistaken for a quiet one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONNECTED = "connected"
RETRYING = "retrying"
FORBIDDEN = "forbidden"
ABSENT = "absent"
STARTING = "starting"
STOPPED = "stopped"
STATES = (STARTING, CONNECTED, RETRYING, FORBIDDEN, ABSENT, STOPPED)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's state: `connected`, `retrying`, `forbidden`, `absent`, `starting`, `stopped`."""

    source: str
    state: str
    detail: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "health",
            "source": self.source,
            "state": self.state,
            "detail": self.detail,
            "at": self.at.isoformat(),
        }


def state_for_status(status: int | None) -> str:
    """The health state an HTTP answer from the API server means for a source."""
    if status in (401, 403):
        return FORBIDDEN
    if status == 404:
        return ABSENT
    return RETRYING


class HealthReporter:
    """Sends a source's health to the sink only when its state or detail changes."""

    def __init__(self, source: str, sink: Callable[[object], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.source = source
        self._sink = sink
        self._clock = clock
        self.current: SourceHealth | None = None

    def report(self, state: str, detail: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown health state {state!r}")
        current = self.current
        if current is not None and (current.state, current.detail) == (state, detail):
            return
        self.current = SourceHealth(self.source, state, detail, self._clock())
        self._sink(self.current)
