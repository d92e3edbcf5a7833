"""The Falco pane's memory: a bounded window of rows and the index a filter builds over it.

Pure Python (no Textual) so its bookkeeping is tested on its own. Rows get
increasing sequence numbers; the window keeps the newest `capacity` of them
and the index holds the sequence numbers that pass the current filter, so a
filter change rebuilds one list of integers instead of any widgets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from tui.widgets.alert_rows import SEVERITY_ORDER, AlertRow

SEVERITY_STEPS: tuple[int | None, ...] = (None, 0, 1, 2)
"""What the severity filter cycles through: all, then P0 only, P1 and worse, P2 and worse."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which rows are shown: the worst severity rank allowed, an exact rule, a text."""

    max_rank: int | None = None
    rule: str | None = None
    text: str = ""

    def matches(self, row: AlertRow) -> bool:
        if self.max_rank is not None and row.severity_rank > self.max_rank:
            return False
        if self.rule is not None and row.rule != self.rule:
            return False
        return not self.text or self.text.casefold() in row.search_text()

    @property
    def active(self) -> bool:
        return self.max_rank is not None or self.rule is not None or bool(self.text)

    def describe(self) -> str:
        """The filter in words, for the pane's status line."""
        parts = []
        if self.max_rank is not None:
            worst = SEVERITY_ORDER[self.max_rank]
            parts.append("P0" if worst == "P0" else f"P0-{worst}")
        if self.rule is not None:
            parts.append(f"rule {self.rule}")
        if self.text:
            parts.append(f"text {self.text!r}")
        return ", ".join(parts) if parts else "all"


class AlertBuffer:
    """The newest `capacity` rows and the sequence numbers of those the filter lets through."""

    def __init__(self, capacity: int = 5000) -> None:
        if capacity < 1:
            raise ValueError("the alert window needs room for at least one row")
        self.capacity = capacity
        self.rows: deque[AlertRow] = deque()
        self.first_seq = 0
        self.next_seq = 0
        self.index: deque[int] = deque()
        self.filter = AlertFilter()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def visible_count(self) -> int:
        return len(self.index)

    def extend(self, rows: Iterable[AlertRow]) -> int:
        """Add rows (oldest first); returns how many of them the filter shows."""
        shown = 0
        matches = self.filter.matches
        for row in rows:
            seq = self.next_seq
            self.next_seq += 1
            self.rows.append(row)
            if matches(row):
                self.index.append(seq)
                shown += 1
        overflow = len(self.rows) - self.capacity
        if overflow > 0:
            for _ in range(overflow):
                self.rows.popleft()
            self.first_seq += overflow
            while self.index and self.index[0] < self.first_seq:
                self.index.popleft()
        return shown

    def set_filter(self, new_filter: AlertFilter) -> None:
        """Rebuild the index for `new_filter`."""
        self.filter = new_filter
        matches = new_filter.matches
        first = self.first_seq
        self.index = deque(first + offset for offset, row in enumerate(self.rows) if matches(row))

    def visible(self, position: int) -> tuple[int, AlertRow] | None:
        """The row at display position `position`, newest first, with its sequence number."""
        count = len(self.index)
        if not 0 <= position < count:
            return None
        seq = self.index[count - 1 - position]
        return seq, self.rows[seq - self.first_seq]
