"""Splitting a byte stream into lines without trusting their length."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

MAX_LINE_BYTES = 8 * 1024 * 1024
"""Longest line kept whole; a Falco alert is a few kilobytes even with long command lines."""

_SKIP_CHUNK = 1024 * 1024


class OverlongLine(bytes):
    """The first `max_line_bytes` of a line that was longer; `parse_line` rejects it.

    A bytes subclass so that it travels through `Iterator[bytes]` unchanged
    while still carrying the line's real length.
    """

    real_length: int

    def __new__(cls, head: bytes, real_length: int) -> OverlongLine:
        line = super().__new__(cls, head)
        line.real_length = real_length
        return line

    def __reduce__(self) -> tuple[type[OverlongLine], tuple[bytes, int]]:
        # Lines may be handed to worker processes; keep the real length on the way.
        return (OverlongLine, (bytes(self), self.real_length))


def iter_lines(stream: BinaryIO, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Yield each line of `stream` without its line ending (LF or CR LF).

    Never holds more than `max_line_bytes` (+1) of one line: a longer line is
    yielded as an `OverlongLine` holding its first `max_line_bytes` and its real
    length, and the rest of it is read and dropped in chunks. A last line
    without a newline is yielded too. NUL and other bytes are passed through.
    """
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be at least 1")
    readline = stream.readline
    while True:
        # One byte more than the limit tells "exactly the limit plus a newline"
        # apart from "longer than the limit".
        line = readline(max_line_bytes + 1)
        if not line:
            return
        if line[-1:] == b"\n":
            if line[-2:-1] == b"\r":
                yield line[:-2]
            else:
                yield line[:-1]
        elif len(line) <= max_line_bytes:
            yield line  # the last line, without a newline
        else:
            yield _skip_rest(readline, line[:max_line_bytes])


def _skip_rest(readline: Callable[[int], bytes], head: bytes) -> OverlongLine:
    """Read and drop the rest of an overlong line, counting its bytes."""
    real_length = len(head) + 1  # the byte read past the limit
    while True:
        chunk = readline(_SKIP_CHUNK)
        if not chunk:
            break
        if chunk[-1:] == b"\n":
            real_length += len(chunk) - 1 - (chunk[-2:-1] == b"\r")
            break
        real_length += len(chunk)
    return OverlongLine(head, real_length)
