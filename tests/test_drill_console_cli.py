"""`warroom drill` on a terminal, as a newcomer runs it: the console first, then the drill."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

from bench.drill_launch import CLUSTER_DATA, SCREEN, run_in_terminal

REPO = Path(__file__).resolve().parent.parent
LAUNCHER = "import sys; from tui.cli import main; sys.exit(main.main(sys.argv[1:]))"


def warroom(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, "--db", str(tmp_path / "record.db"), "drill", *args]


def plain(written: bytes) -> str:
    """What a reader sees of the terminal output, escape sequences removed."""
    return re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]", "", written.decode("utf-8", "replace"))


def test_drill_opens_the_console_then_the_cluster_and_quitting_scores_it(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    at, written, code = run_in_terminal(
        warroom(tmp_path), {"screen": SCREEN, "cluster": CLUSTER_DATA}, env=env, limit=60
    )
    assert code == 0, plain(written)[-2000:]
    assert "Quit warroom and end the drill?" in plain(written)  # q asked; y answered
    assert set(at) == {"screen", "cluster"}, [m for m in SCREEN + CLUSTER_DATA if m not in written]
    assert at["screen"] <= at["cluster"]  # the console did not wait for the drill's cluster
    assert "(no score: no drill incident was opened" in plain(written)


def test_a_drill_that_cannot_start_closes_the_console_and_says_why(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        env = {"HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
        _, written, code = run_in_terminal(
            warroom(tmp_path, "--port", str(port)), {"never": (b"not on screen",)},
            env=env, limit=60,
        )
    finally:
        taken.close()
    assert code == 1
    said = plain(written)
    assert "warroom drill:" in said
    assert re.search(r"(?i)address.*in use", said), said[-2000:]
