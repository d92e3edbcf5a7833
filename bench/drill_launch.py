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
so both figures come from the same minutes of the same machine. Each figure comes
with the CPU time the process had used by then (from /proc): on a shared, loaded
machine the wall time also counts other programs' turns, the CPU time does not.
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
from dataclasses import dataclass
from pathlib import Path

WARROOM = Path(sys.executable).parent / "warroom"
BARE = Path(__file__).resolve().parent / "bare_textual.py"
BARE_SCREEN = (b"bare textual", b"severity", b"Quit")  # header, table, footer
SCREEN = (b"DRILL", b"Falco", b"Mesh", b"NetworkPolicies", b"Timeline", b"Filter")  # Filter: footer
CLUSTER_DATA = (b"external-api-segmentation",)  # a policy of the dns-exfiltration scenario
LIMIT = 30.0
UNSET_FOR_CHILD = ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time `pid` has used so far (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def run_in_terminal(
    argv: list[str],
    marks: dict[str, tuple[bytes, ...]],
    *,
    keys: bytes = b"qy",
    size: tuple[int, int] = (160, 48),
    limit: float = LIMIT,
    env: dict[str, str] | None = None,
    cpu: dict[str, float] | None = None,
) -> tuple[dict[str, float], bytes, int]:
    """Run `argv` in a pseudo-terminal of `size` (columns, rows) as a user would.

    Reads what it writes until every mark's byte strings have all appeared (or it
    exits), types `keys`, reads to the end. Returns the seconds at which each mark
    was complete, everything written, and the exit code. `env`: added to the child's.
    `cpu`, if given, gets the CPU seconds the child had used when each mark was complete:
    on a loaded machine the wall time counts other programs' turns too, this does not.
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
    seen = b""
    at: dict[str, float] = {}  # mark -> seconds after the start it appeared
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
                if cpu is not None:
                    cpu[name] = cpu_seconds(pid)
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


@dataclass
class Launch:
    """One run to its first full screen: wall seconds, CPU seconds, and more for warroom."""

    screen: float
    screen_cpu: float
    cluster: float = float("nan")  # warroom: the drill cluster's data on screen
    code: int = 0


def launch_once() -> Launch:
    """`warroom drill` to its full screen, then to the cluster's data."""
    folder = tempfile.mkdtemp(prefix="warroom-launch-")
    argv = [str(WARROOM), "--db", f"{folder}/record.db", "drill"]
    cpu: dict[str, float] = {}
    at, _, code = run_in_terminal(argv, {"screen": SCREEN, "cluster": CLUSTER_DATA}, cpu=cpu)
    nan = float("nan")
    return Launch(at.get("screen", nan), cpu.get("screen", nan), at.get("cluster", nan), code)


def bare_once() -> Launch:
    """The bare Textual app to its first full screen."""
    cpu: dict[str, float] = {}
    at, _, _ = run_in_terminal([sys.executable, str(BARE)], {"screen": BARE_SCREEN}, cpu=cpu)
    return Launch(at.get("screen", float("nan")), cpu.get("screen", float("nan")))


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not WARROOM.exists():
        raise SystemExit(f"no {WARROOM}: install the project into this interpreter's venv")
    launch_once()  # the first run after an install compiles bytecode: not what a user waits for
    bare_once()
    runs: list[Launch] = []
    bare: list[Launch] = []
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        runs.append(launch_once())
        bare.append(bare_once())
    codes = sorted({run.code for run in runs})
    median = statistics.median
    screens, cpus = [r.screen for r in runs], [r.screen_cpu for r in runs]
    bare_screens, bare_cpus = [b.screen for b in bare], [b.screen_cpu for b in bare]
    data = [r.cluster for r in runs]
    load = os.getloadavg()[0]
    print(f"warroom drill in a 160x48 pseudo-terminal, {args.runs} runs, "
          f"load {load_before:.2f} before, {load:.2f} after")
    print(f"  first full screen   median {median(screens):.2f} s (runs {_runs(screens)}; "
          f"target < 2 s), CPU {median(cpus):.2f} s (runs {_runs(cpus)})")
    print(f"  drill cluster shown median {median(data):.2f} s (runs {_runs(data)})")
    print(f"  bare Textual app    median {median(bare_screens):.2f} s (runs "
          f"{_runs(bare_screens)}), CPU {median(bare_cpus):.2f} s (runs {_runs(bare_cpus)})")
    print(f"  warroom takes {median(screens) / median(bare_screens):.2f}x the bare app's time, "
          f"{median(cpus) / median(bare_cpus):.2f}x its CPU time (target < 1.5x)")
    print(f"  exit codes after q y {codes}")


if __name__ == "__main__":
    main()
