"""Record reads beside a busy thread: row by row (`Record.query`) against packed (`query_packed`).

The console reads the record on its own thread while the event loop draws.
sqlite3 releases the GIL around each row's step, and winning it back from a
busy thread can take the whole switch interval (5 ms), per row. This prints,
for the reads the review's first screen makes (an incident's whole timeline,
the newest page of its alerts), the time alone and beside a thread that keeps
the interpreter busy, each way. Run it on a quiet machine: the effect needs the
busy thread on a core of its own.

    .venv/bin/python bench/packed_rows.py [--alerts N] [--timeline N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import cached_record  # noqa: E402 - after the path: the record's one builder
from store import Record  # noqa: E402

ALERT_PAGE = 2_000  # what the Falco pane asks for: its window


def _timed(read: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _beside_busy_thread(read: Callable[[], Any], runs: int) -> float:
    running, stop = threading.Event(), threading.Event()

    def busy() -> None:
        running.set()
        while not stop.is_set():
            sum(range(1_000))

    neighbour = threading.Thread(target=busy)
    neighbour.start()
    running.wait()
    try:
        return _timed(read, runs)
    finally:
        stop.set()
        neighbour.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--timeline", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = cached_record(args.alerts, args.timeline)
    with Record.open(path, readonly=True) as record:
        incident = record.incidents.list()[0]
        reads: dict[str, tuple[str, list[object]]] = {
            "timeline": (
                "SELECT * FROM timeline WHERE incident_id = ? ORDER BY seq",
                [incident.id],
            ),
            "alert page": (
                "SELECT * FROM alerts WHERE incident_id = ? ORDER BY time_ns DESC, id DESC LIMIT ?",
                [incident.id, ALERT_PAGE],
            ),
        }
        interval = sys.getswitchinterval() * 1000
        print(f"record: {path}; {incident.id}; switch interval {interval:g} ms")
        for name, (sql, params) in reads.items():
            rows = len(record.query(sql, params))
            for how, read in (
                ("row by row", lambda s=sql, p=params: record.query(s, p)),
                ("packed", lambda s=sql, p=params: record.query_packed(s, p)),
            ):
                alone = _timed(read, args.runs)
                busy = _beside_busy_thread(read, args.runs)
                print(
                    f"  {name:<10} {rows:>6,} rows  {how:<10}  alone {alone * 1000:8.1f} ms"
                    f"   beside a busy thread {busy * 1000:9.1f} ms"
                )


if __name__ == "__main__":
    main()
