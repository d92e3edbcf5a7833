"""A real pseudo-terminal with a screen a test can read, as a user at a terminal sees it.

`TerminalSession` runs a command in a pseudo-terminal of a given size and feeds
everything it writes into a VT100 emulator (pyte), so a test waits for text on the
screen, not for bytes in a stream, and types keys as a terminal sends them. The
console runs as a user runs it: its own process, its own event loop, a real tty.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyte

REPO = Path(__file__).resolve().parents[2]
# `warroom` as the installed script runs it, from this checkout whatever is installed.
LAUNCHER = "import sys; from tui.cli import main; sys.exit(main.main(sys.argv[1:]))"
# Readline (loaded by pytest) exports COLUMNS and LINES behind os.environ's back; a size
# in the environment would win over the terminal's.
UNSET_FOR_CHILD = ("COLUMNS", "LINES")

# What a terminal sends for a key, by the names Textual gives them.
KEYS = {
    "enter": "\r", "escape": "\x1b", "tab": "\t", "shift+tab": "\x1b[Z", "space": " ",
    "backspace": "\x7f", "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
    "home": "\x1b[H", "end": "\x1b[F", "pageup": "\x1b[5~", "pagedown": "\x1b[6~",
    "delete": "\x1b[3~",
}
# CSI, OSC and charset sequences, and any other ESC pair.
ESCAPES = re.compile(
    r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)")
# A lone ESC is told from the start of a sequence by a pause: Textual waits for it.
ESCAPE_PAUSE = 0.25


class _Screen(pyte.Screen):
    """pyte's screen, leaving the alternate screen as a terminal does (DEC mode 1049).

    pyte keeps one buffer; a console quits by switching back to the main screen, and
    what it prints then (the drill's score) would land over its last frame.
    """

    def reset_mode(self, *modes: int, **kwargs: bool) -> None:
        super().reset_mode(*modes, **kwargs)
        if kwargs.get("private") and 1049 in modes:
            self.erase_in_display(2)
            self.cursor_position()


def key_bytes(key: str) -> bytes:
    """The bytes a terminal sends for `key` ("a", "enter", "ctrl+s", "!")."""
    if key in KEYS:
        return KEYS[key].encode()
    if key.startswith("ctrl+") and len(key) == 6:
        return bytes([ord(key[-1].lower()) & 0x1F])
    return key.encode()


def warroom_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, *args]


class TerminalSession:
    """One command in a pseudo-terminal, its screen kept by a VT100 emulator."""

    def __init__(self, argv: Sequence[str], *, size: tuple[int, int] = (160, 48),
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.columns, self.rows = size
        self._screen = _Screen(self.columns, self.rows)
        self._stream = pyte.ByteStream(self._screen)
        self._lock = threading.Lock()
        self.written = bytearray()
        self.exit_code: int | None = None
        child_env = {k: v for k, v in os.environ.items() if k not in UNSET_FOR_CHILD}
        child_env.update({"TERM": "xterm-256color", "PYTHONPATH": str(REPO), **(env or {})})
        pid, fd = pty.fork()
        if pid == 0:  # the child: its terminal has its size before the program looks
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.columns, 0, 0))
            if cwd is not None:
                os.chdir(cwd)
            os.execve(argv[0], list(argv), child_env)
        self.pid, self._fd = pid, fd
        self._ended = threading.Event()
        self._reader = threading.Thread(target=self._read, name="terminal-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except OSError:  # the child exited and closed its side
                chunk = b""
            if not chunk:
                break
            with self._lock:
                self.written += chunk
                self._stream.feed(chunk)
        self._ended.set()

    # --- reading --------------------------------------------------------------------------------

    def text(self) -> str:
        """The screen as a user sees it, one line per row, trailing blanks removed."""
        with self._lock:
            return "\n".join(line.rstrip() for line in self._screen.display)

    def mark(self) -> int:
        """Where the output stands now: `plain_output(since=...)` reads what comes after."""
        with self._lock:
            return len(self.written)

    def plain_output(self, since: int = 0) -> str:
        """What was written (since the mark `since`), escape sequences removed."""
        with self._lock:
            raw = bytes(self.written[since:])
        return ESCAPES.sub("", raw.decode("utf-8", "replace"))

    def wait_for(self, wanted: str | re.Pattern[str] | Callable[[str], bool], *,
                 timeout: float = 30.0, what: str | None = None) -> str:
        """Wait until the screen shows `wanted` (text, regex or predicate); returns the screen."""
        shown: Callable[[str], bool]
        if isinstance(wanted, str):
            def shown(screen: str) -> bool:
                return wanted in screen
        elif isinstance(wanted, re.Pattern):
            def shown(screen: str) -> bool:
                return wanted.search(screen) is not None
        else:
            shown = wanted
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if shown(screen):
                return screen
            if self._ended.is_set() or time.monotonic() > deadline:
                state = "the program exited" if self._ended.is_set() else f"{timeout:.0f} s passed"
                raise AssertionError(
                    f"{state} before the screen showed {what or wanted!r}; the screen:\n{screen}")
            time.sleep(0.02)

    # --- typing ---------------------------------------------------------------------------------

    def press(self, *keys: str, gap: float = 0.05) -> None:
        """Type keys as a terminal sends them, `gap` seconds apart (a person is slower)."""
        for key in keys:
            os.write(self._fd, key_bytes(key))
            time.sleep(ESCAPE_PAUSE if key == "escape" else gap)

    def type(self, text: str) -> None:
        os.write(self._fd, text.encode())
        time.sleep(0.05)

    # --- ending ---------------------------------------------------------------------------------

    def wait_exit(self, timeout: float = 60.0) -> int:
        """Wait for the program to end; its exit code."""
        if not self._ended.wait(timeout):
            raise AssertionError(f"still running after {timeout:.0f} s; the screen:\n{self.text()}")
        _, status = os.waitpid(self.pid, 0)
        self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def close(self) -> None:
        """Stop the program if it still runs (a failed test), and the terminal."""
        if self.exit_code is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                if not self._ended.wait(10):
                    os.kill(self.pid, signal.SIGKILL)
                self.wait_exit(10)
            except (ProcessLookupError, ChildProcessError):
                pass
        self._reader.join(5)
        try:
            os.close(self._fd)
        except OSError:
            pass


@contextmanager
def terminal(argv: Sequence[str], **options: object) -> Iterator[TerminalSession]:
    """A `TerminalSession` that is stopped however the test ends."""
    session = TerminalSession(argv, **options)  # type: ignore[arg-type]
    try:
        yield session
    finally:
        session.close()
