"""Writing files the user asked for (reports) whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> bytes:
    """Write `text` as UTF-8, whole or not at all; returns the bytes written."""
    data = text.encode("utf-8")
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return data
