"""The last polls of a per-workload rate, for sparklines (traffic source and Mesh pane alike).

Its own module so the console's Mesh pane can keep series without importing
the Prometheus client (httpx) before its first paint.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class TrafficSeries:
    """The last `length` polls per key, oldest first, for sparklines."""

    length: int = 120
    series: dict[str, deque[float]] = field(default_factory=dict)

    def add(self, values: dict[str, float]) -> None:
        for key in set(self.series) | set(values):
            points = self.series.setdefault(key, deque(maxlen=self.length))
            points.append(values.get(key, 0.0))

    def of(self, key: str) -> list[float]:
        return list(self.series.get(key, ()))
