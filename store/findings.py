"""What `verify` and import say about a record: a problem found, an anchor held."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    table: str
    row_id: int | str | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.table} row {self.row_id}" if self.row_id is not None else self.table
        at = f" (chain entry {self.seq})" if self.seq is not None else ""
        return f"{where}{at}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A chain head kept outside the file: entry `entries` has hash `hash`."""

    entries: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """`ENTRIES:HASH` as reports, notifications and checkpoints quote it; ValueError if not."""
        entries, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if not sep or not entries.isascii() or not entries.isdigit() or int(entries) < 1:
            raise ValueError(f"anchor {text!r} is not ENTRIES:HASH (e.g. 1042:9f86d0...)")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"anchor {text!r}: the hash is not 64 hex digits")
        return cls(int(entries), digest)

    def __str__(self) -> str:
        return f"{self.entries}:{self.hash}"
