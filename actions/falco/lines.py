"""Splitting a byte stream into lines without trusting their length."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

MAX_LINE_BYTES = 8 * 1024 * 1024
"""Longest line kept whole; a Falco alert is a few kilobytes even with long command lines."""

_SKIP_CHUNK = 1024 * 1024
BLOCK_BYTES = 4 * 1024 * 1024
"""What `iter_line_blocks` reads at a time (a few thousand Falco alerts)."""


class LineSource(Protocol):
    """What `iter_lines` reads: a binary stream's `readline(limit)`."""

    def readline(self, limit: int = -1, /) -> bytes: ...


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


def iter_lines(stream: LineSource, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
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


def iter_line_blocks(
    stream: BinaryIO, *, block_bytes: int = BLOCK_BYTES, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """`stream` in blocks of whole lines: `split_block` of each gives what `iter_lines` gives.

    The bulk path of ingest: one read and one object per few thousand lines, and
    the splitting left to whoever takes the block (a worker process), instead of
    a readline and an object per line here. Each block is about `block_bytes`
    and ends with a newline, except the last. A line growing beyond
    `max_line_bytes` is handed to `iter_lines` itself, which keeps its head and
    counts the rest, and comes out alone, as the `OverlongLine` it yields.
    """
    if block_bytes < 1:
        raise ValueError("block_bytes must be at least 1")
    read = stream.read
    carry = b""  # the start of a line whose newline is not read yet
    while True:
        data = read(block_bytes)
        if not data:
            if carry:
                yield carry  # the last line, without a newline
            return
        if carry:
            data = carry + data
        end = data.rfind(b"\n") + 1
        if end:
            block, carry = data[:end], data[end:]
            yield block
        else:
            carry = data
        if len(carry) > max_line_bytes:
            # Too long to be kept whole, wherever its newline is: iter_lines reads on
            # from where this read stopped, and drops the rest of the line.
            rest = _Prefixed(carry, stream)
            yield next(iter_lines(rest, max_line_bytes=max_line_bytes))
            carry = rest.prefix  # empty: the line had no newline before the stream's part


def split_block(block: bytes, *, max_line_bytes: int = MAX_LINE_BYTES) -> list[bytes]:
    """The lines of one block of `iter_line_blocks`, exactly as `iter_lines` yields them."""
    if type(block) is OverlongLine:
        return [block]
    lines = block.split(b"\n")
    if len(block) > max_line_bytes and max(map(len, lines)) > max_line_bytes:
        # A line too long to keep (its CR counted, as iter_lines counts it): rare
        # enough to let iter_lines itself split the whole block.
        return list(iter_lines(io.BytesIO(block), max_line_bytes=max_line_bytes))
    unterminated = lines.pop()  # b"" when the block ends with a newline
    if b"\r" in block:
        # A CR before a newline goes with it (CR LF), as iter_lines drops it.
        lines = [line[:-1] if line[-1:] == b"\r" else line for line in lines]
    if unterminated:
        lines.append(unterminated)
    return lines


class _Prefixed:
    """`readline(limit)` over bytes already read, then the rest of a stream."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self.prefix = prefix
        self.stream = stream

    def readline(self, limit: int = -1, /) -> bytes:
        prefix = self.prefix
        if limit < 0:
            raise ValueError("a limit is needed (iter_lines gives one)")
        if not prefix:
            return self.stream.readline(limit)
        newline = prefix.find(b"\n", 0, limit)
        if newline != -1 or len(prefix) >= limit:
            cut = newline + 1 if newline != -1 else limit
            self.prefix = prefix[cut:]
            return prefix[:cut]
        self.prefix = b""
        return prefix + self.stream.readline(limit - len(prefix))
