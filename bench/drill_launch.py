"""`warroom drill` from the command to its first full screen, in a real pseudo-terminal.

Each run starts `warroom --db NEW drill` as a user would (a fresh process, its
imports, the record, the console, the embedded drill cluster) in a 160x48
pseudo-terminal and reads what it writes to the terminal until the war room
is drawn: the DRILL badge, the four panes' titles and the footer. Then until
the drill cluster's data is on screen (a NetworkPolicy of the scenario in the
policies pane), and quits (`q`, then `y`: quitting a drill asks). Prints the median
of each over the runs.

Each warroom run alternates with a run of a bare Textual app (Header, Footer, a
DataTable: bench/bare_textual.py) started the same way, until its first full screen,
so both figures come from the same minutes of the same machine.
Targets (issues 6 and 13): first full screen under 2 s, and within 1.5 times the bare app's.

    .venv/bin/python bench/drill_launch.py [--runs N]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

WARROOM = Path(sys.executable).parent / "warroom"
BARE = Path(__file__).resolve().parent / "bare_textual.py"
BARE_SCREEN = (b"bare textual", b"severity", b"Quit")  # header, table, footer
SCREEN = (b"DRILL", b"Falco", b"Mesh", b"NetworkPolicies", b"Timeline", b"Filter")  # Filter: footer
CLUSTER_DATA = (b"external-api-segmentation",)  # a policy of the dns-exfiltration scenario
LIMIT = 30.0
UNSET_FOR_CHILD = ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")


def run_in_terminal(
    argv: list[str],
    marks: dict[str, tuple[bytes, ...]],
    *,
    keys: bytes = b"qy",
    size: tuple[int, int] = (160, 48),
    limit: float = LIMIT,
    env: dict[str, str] | None = None,
) -> tuple[dict[str, float], bytes, int]:
    """Run `argv` in a pseudo-terminal of `size` (columns, rows) as a user would.

    Reads what it writes until every mark's byte strings have all appeared (or it
    exits), types `keys`, reads to the end. Returns the seconds at which each mark
    was complete, everything written, and the exit code. `env`: added to the child's.
    """
    columns, rows = size
    started = time.perf_counter()
    pid, terminal = pty.fork()
    if pid == 0:  # the child: its terminal has its size before the program looks
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        # An explicit environment: readline (loaded by pytest) exports COLUMNS and LINES
        # behind os.environ's back, and a size in the environment wins over the tty's.
        # PYTHONDONTWRITEBYTECODE (set in some sandboxes, not in a user's shell) would
        # make every run compile every module, as only a user's very first run does.
        child_env = {k: v for k, v in os.environ.items() if k not in UNSET_FOR_CHILD}
        os.execve(argv[0], argv, {**child_env, "TERM": "xterm-256color", **(env or {})})
    seen, at = b"", {}
    ended = False
    while len(at) < len(marks) and time.perf_counter() - started < limit:
        ready, _, _ = select.select([terminal], [], [], 0.01)
        if not ready:
            continue
        try:
            chunk = os.read(terminal, 1 << 16)
        except OSError:  # the child exited and closed the terminal
            chunk = b""
        if not chunk:
            ended = True
            break
        seen += chunk
        now = time.perf_counter() - started
        for name, wanted in marks.items():
            if name not in at and all(mark in seen for mark in wanted):
                at[name] = now
    if not ended:
        os.write(terminal, keys)
    deadline = time.perf_counter() + limit
    while not ended and time.perf_counter() < deadline:  # what it prints on the way out
        ready, _, _ = select.select([terminal], [], [], 0.05)
        try:
            chunk = os.read(terminal, 1 << 16) if ready else b"-"
        except OSError:
            chunk = b""
        if not chunk:
            break
        if ready:
            seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    return at, seen, os.waitstatus_to_exitcode(status)


def launch_once() -> tuple[float, float, int]:
    """(seconds to the full screen, seconds to the cluster's data, exit code)."""
    folder = tempfile.mkdtemp(prefix="warroom-launch-")
    argv = [str(WARROOM), "--db", f"{folder}/record.db", "drill"]
    at, _, code = run_in_terminal(argv, {"screen": SCREEN, "cluster": CLUSTER_DATA})
    return at.get("screen", float("nan")), at.get("cluster", float("nan")), code


def bare_once() -> float:
    """Seconds to the bare Textual app's first full screen."""
    at, _, _ = run_in_terminal([sys.executable, str(BARE)], {"screen": BARE_SCREEN})
    return at.get("screen", float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not WARROOM.exists():
        raise SystemExit(f"no {WARROOM}: install the project into this interpreter's venv")
    launch_once()  # the first run after an install compiles bytecode: not what a user waits for
    bare_once()
    runs, bare = [], []
    for _ in range(args.runs):
        runs.append(launch_once())
        bare.append(bare_once())
    codes = sorted({code for _, _, code in runs})
    screens = [screen for screen, _, _ in runs]
    data = [at for _, at, _ in runs]
    load = os.getloadavg()[0]
    print(f"warroom drill in a 160x48 pseudo-terminal, {args.runs} runs, load {load:.2f}")
    print(
        f"  first full screen   median {statistics.median(screens):.2f} s "
        f"(runs {', '.join(f'{s:.2f}' for s in screens)}; target < 2 s)"
    )
    print(
        f"  drill cluster shown median {statistics.median(data):.2f} s "
        f"(runs {', '.join(f'{s:.2f}' for s in data)})"
    )
    print(
        f"  bare Textual app    median {statistics.median(bare):.2f} s "
        f"(runs {', '.join(f'{s:.2f}' for s in bare)}): warroom takes "
        f"{statistics.median(screens) / statistics.median(bare):.2f}x (target < 1.5x)"
    )
    print(f"  exit codes after q y {codes}")


if __name__ == "__main__":
    main()
