"""Writing files the user asked for (reports) whole or not at all, readable by the owner only."""

from __future__ import annotations

from pathlib import Path

from store.private import write_private


def write_atomically(path: Path, text: str) -> bytes:
    """Write `text` as UTF-8, whole or not at all, as a 0600 file; returns the bytes written."""
    data = text.encode("utf-8")
    write_private(path, data)
    return data
