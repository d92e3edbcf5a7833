"""Per-second alert counts per severity, by the alerts' own time, for sparklines."""

from __future__ import annotations

from collections import defaultdict

NS = 1_000_000_000


class AlertRates:
    """Counts of recorded alerts per second and severity over a sliding window."""

    def __init__(self, window_seconds: int = 600) -> None:
        self.window_seconds = window_seconds
        self._counts: dict[str, dict[int, int]] = defaultdict(dict)
        self.newest_second: int | None = None

    def add(self, severity: str, time_ns: int) -> None:
        second = time_ns // NS
        if self.newest_second is not None and second <= self.newest_second - self.window_seconds:
            return  # older than the window: recorded, but not part of the live rate
        buckets = self._counts[severity]
        buckets[second] = buckets.get(second, 0) + 1
        if self.newest_second is None or second > self.newest_second:
            self.newest_second = second
            self._trim()

    def series(self, severity: str, *, seconds: int = 60, end: int | None = None) -> list[int]:
        """Counts for the `seconds` seconds ending at `end` (default: the newest), oldest first."""
        last = end if end is not None else self.newest_second
        if last is None:
            return [0] * seconds
        buckets = self._counts.get(severity, {})
        return [buckets.get(second, 0) for second in range(last - seconds + 1, last + 1)]

    def severities(self) -> list[str]:
        return sorted(self._counts)

    def total(self, severity: str | None = None) -> int:
        groups = [self._counts.get(severity, {})] if severity else list(self._counts.values())
        return sum(sum(group.values()) for group in groups)

    def _trim(self) -> None:
        assert self.newest_second is not None
        oldest = self.newest_second - self.window_seconds
        for buckets in self._counts.values():
            for second in [s for s in buckets if s <= oldest]:
                del buckets[second]
