"""A program in a real pseudo-terminal, driven step by step: wait for text, type keys.

`bench.drill_launch.run_in_terminal` times one launch and one set of keys; a
journey needs more turns (wait for the form, type, wait for the toast, ...):

    with TerminalSession(argv, env=env) as term:
        term.expect(b"DRILL")
        term.type(b"o")
        term.expect(b"Open an incident")
        ...
    term.code, term.text()
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import termios
import time
from types import TracebackType

from bench.drill_launch import UNSET_FOR_CHILD

ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class TerminalSession:
    """`argv` in a pseudo-terminal of `size` (columns, rows), as a user would run it."""

    def __init__(self, argv: list[str], *, size: tuple[int, int] = (160, 48),
                 env: dict[str, str] | None = None) -> None:
        columns, rows = size
        self.seen = b""
        self.code: int | None = None
        self._pid, self._fd = pty.fork()
        if self._pid == 0:  # the child: its terminal has its size before the program looks
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            child_env = {k: v for k, v in os.environ.items() if k not in UNSET_FOR_CHILD}
            os.execve(argv[0], argv, {**child_env, "TERM": "xterm-256color", **(env or {})})

    def __enter__(self) -> TerminalSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.code is None:
            try:
                os.kill(self._pid, 9)
            except ProcessLookupError:
                pass
            self.wait(10)

    def _read(self, timeout: float) -> bool:
        """Read what is there within `timeout`; False once the program closed the terminal."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self._fd, 1 << 16)
        except OSError:  # the child exited and closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def expect(self, *wanted: bytes, within: float = 30.0, after: int = 0) -> int:
        """Wait until every one of `wanted` has been written since offset `after`.

        Returns the offset where the output stood when they were all there.
        """
        deadline = time.monotonic() + within
        while not all(text in self.seen[after:] for text in wanted):
            missing = [text for text in wanted if text not in self.seen[after:]]
            assert time.monotonic() < deadline, f"never on screen: {missing}\n{self.text()[-3000:]}"
            assert self._read(0.05), f"exited before showing {missing}\n{self.text()[-3000:]}"
        return len(self.seen)

    def type(self, keys: bytes) -> None:
        os.write(self._fd, keys)

    def wait(self, within: float = 60.0) -> int:
        """Read to the end and wait for the exit code."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self._read(0.05):
            pass
        _, status = os.waitpid(self._pid, 0)
        os.close(self._fd)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def text(self, since: int = 0) -> str:
        """What a reader sees of the output since offset `since`, escape sequences removed."""
        return ESCAPES.sub(b"", self.seen[since:]).decode("utf-8", "replace")
