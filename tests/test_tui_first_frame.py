"""The console's first screen reaches the terminal whole, in one frame: panes, borders and keys."""

from __future__ import annotations

import re
from pathlib import Path

import pyte

from tests.plugins.terminal import terminal, warroom_argv

SIZE = (80, 24)
ESCAPE = re.compile(rb"(?=\x1b)")


def _screen_when(written: bytes, shown: str, row: int) -> str | None:
    """The screen at the moment `shown` first appears on `row`, replaying what was written."""
    columns, rows = SIZE
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    for piece in ESCAPE.split(written):
        stream.feed(piece)
        if shown in screen.display[row]:
            return "\n".join(screen.display)
    return None


def test_the_first_keys_on_screen_come_with_the_whole_war_room(tmp_path: Path) -> None:
    """Textual draws the console's first frame while the app is still mounting, and drops it:
    the terminal then got the war room piecemeal, keys first and pane borders last."""
    argv = warroom_argv("--db", str(tmp_path / "record.db"), "drill")
    with terminal(argv, size=SIZE, env={"HOME": str(tmp_path)}) as session:
        session.wait_for(lambda screen: "Falco alerts" in screen and "Filter" in screen,
                         what="the war room with its keys")
        written = bytes(session.written)
        session.press("q", "y")
        session.wait_exit()
    first = _screen_when(written, "Filter", row=SIZE[1] - 1)
    assert first is not None
    assert "Falco alerts" in first, first  # the pane's border and title came with the keys
    assert "DRILL" in first.splitlines()[0], first
