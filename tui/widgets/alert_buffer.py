"""The Falco pane's memory: a bounded window of alerts and the index a filter builds over it.

Pure Python (no Textual) so its bookkeeping is tested on its own. Alerts get
increasing sequence numbers; the window keeps the newest `capacity` of them
and the index holds the sequence numbers that pass the current filter, so a
filter change rebuilds one list of integers instead of any widgets.

Alerts are kept as they were pushed and turned into `AlertRow`s only when a
row is drawn or a filter must look at it: at thousands of alerts a second
most of them scroll past unseen, and converting them all was most of the cost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tui.widgets.alert_rows import SEVERITY_ORDER, AlertRow

SEVERITY_STEPS: tuple[int | None, ...] = (None, 0, 1, 2)
"""What the severity filter cycles through: all, then P0 only, P0-P1, P0-P2."""


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


def _as_row(item: Any) -> AlertRow:
    return AlertRow.of(item)


class AlertBuffer:
    """The newest `capacity` alerts and the sequence numbers of those the filter lets through."""

    def __init__(self, capacity: int = 5000, convert: Callable[[Any], AlertRow] = _as_row) -> None:
        if capacity < 1:
            raise ValueError("the alert window needs room for at least one row")
        self.capacity = capacity
        self.items: deque[Any] = deque()
        self._rows: dict[int, AlertRow] = {}
        self._convert = convert
        self.first_seq = 0
        self.next_seq = 0
        self.index: deque[int] = deque()
        self.filter = AlertFilter()

    def __len__(self) -> int:
        return len(self.items)

    @property
    def visible_count(self) -> int:
        return len(self.index)

    def row(self, seq: int) -> AlertRow:
        """The row for the alert with sequence number `seq` (converted once, then cached)."""
        row = self._rows.get(seq)
        if row is None:
            row = self._convert(self.items[seq - self.first_seq])
            self._rows[seq] = row
        return row

    def extend(self, items: Iterable[Any]) -> int:
        """Add alerts (oldest first); returns how many of them the filter shows."""
        shown = 0
        active = self.filter.active
        matches = self.filter.matches
        for item in items:
            seq = self.next_seq
            self.next_seq += 1
            self.items.append(item)
            if not active or matches(self.row(seq)):
                self.index.append(seq)
                shown += 1
        overflow = len(self.items) - self.capacity
        if overflow > 0:
            rows = self._rows
            for seq in range(self.first_seq, self.first_seq + overflow):
                self.items.popleft()
                rows.pop(seq, None)
            self.first_seq += overflow
            while self.index and self.index[0] < self.first_seq:
                self.index.popleft()
        return shown

    def set_filter(self, new_filter: AlertFilter) -> None:
        """Rebuild the index for `new_filter`."""
        self.filter = new_filter
        first = self.first_seq
        seqs = range(first, first + len(self.items))
        if not new_filter.active:
            self.index = deque(seqs)
            return
        matches, row = new_filter.matches, self.row
        self.index = deque(seq for seq in seqs if matches(row(seq)))

    def visible(self, position: int) -> tuple[int, AlertRow] | None:
        """The row at display position `position`, newest first, with its sequence number."""
        count = len(self.index)
        if not 0 <= position < count:
            return None
        seq = self.index[count - 1 - position]
        return seq, self.row(seq)
