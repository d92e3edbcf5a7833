"""The Falco pane's memory: a bounded window of alerts and the index a filter builds over it.

Pure Python (no Textual) so its bookkeeping is tested on its own. Alerts get
increasing sequence numbers; the window keeps the newest `capacity` of them
and the index holds the sequence numbers that pass the current filter, so a
filter change rebuilds one list of integers instead of any widgets.

Alerts are kept as they were pushed and turned into `AlertRow`s only when a
row is drawn or a text filter must look at it: at thousands of alerts a second
most of them scroll past unseen, and converting them all was most of the cost.
Each alert's severity rank and rule are kept beside it (cheap to read), so the
severity and rule filters never build rows: neither for a new alert under an
active filter nor when the filter changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from store import SEVERITIES
from tui.views.alert_rows import AlertRow, rank_and_rule

SEVERITY_STEPS: tuple[int | None, ...] = (None, 0, 1, 2)
"""What the severity filter cycles through: all, then P0 only, P0-P1, P0-P2."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which rows are shown: the worst severity rank allowed, an exact rule, a text."""

    max_rank: int | None = None
    rule: str | None = None
    text: str = ""

    def matches(self, row: AlertRow) -> bool:
        return self.matches_key(row.severity_rank, row.rule) and self.matches_text(row)

    def matches_key(self, rank: int, rule: str) -> bool:
        """The severity and rule tests alone (see `rank_and_rule`)."""
        if self.max_rank is not None and rank > self.max_rank:
            return False
        return self.rule is None or rule == self.rule

    def matches_text(self, row: AlertRow) -> bool:
        return not self.text or self.text.casefold() in row.search_text()

    @property
    def active(self) -> bool:
        return self.max_rank is not None or self.rule is not None or bool(self.text)

    def describe(self) -> str:
        """The filter in words, for the pane's status line."""
        parts = []
        if self.max_rank is not None:
            worst = SEVERITIES[self.max_rank]
            parts.append("P0" if worst == "P0" else f"P0-{worst}")
        if self.rule is not None:
            parts.append(f"rule {self.rule}")
        if self.text:
            parts.append(f"text {self.text!r}")
        return ", ".join(parts) if parts else "all"


def _as_row(item: Any) -> AlertRow:
    return AlertRow.of(item)


def _key(item: Any) -> tuple[int, str]:
    return rank_and_rule(item)


class AlertBuffer:
    """The newest `capacity` alerts and the sequence numbers of those the filter lets through."""

    def __init__(
        self,
        capacity: int = 5000,
        convert: Callable[[Any], AlertRow] = _as_row,
        key: Callable[[Any], tuple[int, str]] = _key,
    ) -> None:
        """`convert` builds an alert's row; `key` reads its (severity rank, rule) the same way."""
        if capacity < 1:
            raise ValueError("the alert window needs room for at least one row")
        self.capacity = capacity
        self.items: deque[Any] = deque()
        self.keys: deque[tuple[int, str]] = deque()
        self._rows: dict[int, AlertRow] = {}
        self._convert = convert
        self._key = key
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
        matches_key, matches_text = self.filter.matches_key, self.filter.matches_text
        by_text = bool(self.filter.text)
        key_of, index = self._key, self.index
        for item in items:
            seq = self.next_seq
            self.next_seq += 1
            key = key_of(item)
            self.items.append(item)
            self.keys.append(key)
            if not active or (matches_key(*key) and (not by_text or matches_text(self.row(seq)))):
                index.append(seq)
                shown += 1
        overflow = len(self.items) - self.capacity
        if overflow > 0:
            rows = self._rows
            for seq in range(self.first_seq, self.first_seq + overflow):
                self.items.popleft()
                self.keys.popleft()
                rows.pop(seq, None)
            self.first_seq += overflow
            while self.index and self.index[0] < self.first_seq:
                self.index.popleft()
        return shown

    def clear(self) -> None:
        """Drop every alert; the filter stays, and sequence numbers go on from where they were."""
        self.items.clear()
        self.keys.clear()
        self._rows.clear()
        self.index.clear()
        self.first_seq = self.next_seq

    def set_filter(self, new_filter: AlertFilter) -> None:
        """Rebuild the index for `new_filter`."""
        self.filter = new_filter
        first = self.first_seq
        seqs = range(first, first + len(self.items))
        if not new_filter.active:
            self.index = deque(seqs)
            return
        matches_key, matches_text, row = new_filter.matches_key, new_filter.matches_text, self.row
        by_text = bool(new_filter.text)
        self.index = deque(
            seq
            for seq, key in zip(seqs, self.keys, strict=True)
            if matches_key(*key) and (not by_text or matches_text(row(seq)))
        )

    def visible(self, position: int) -> tuple[int, AlertRow] | None:
        """The row at display position `position`, newest first, with its sequence number."""
        count = len(self.index)
        if not 0 <= position < count:
            return None
        seq = self.index[count - 1 - position]
        return seq, self.row(seq)
