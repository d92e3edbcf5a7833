"""Benchmark: `warroom review` first screen over a record of 1,000,000 alerts for one incident.

    .venv/bin/python bench/review.py [--alerts N] [--timeline N] [--runs N] [--rebuild]

Reuses bench/report.py's record (built once, cached under /tmp). Each run is a
fresh subprocess that opens the record read-only and runs the console headless
(`App.run_test`, 160x48) until the war room shows the header's incident, the
whole timeline and the first page of alerts in the Falco pane; the time runs
from just before the app is built (imports are timed apart). Then it jumps to
+25m with the go-to form and times until the timeline and the alerts show
that moment. Peak RSS is the child's own (`resource.getrusage`). Targets
(issue 7): first screen < 2 s, memory < 300 MB. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import cached_record, run_child  # noqa: E402 - after the path

CHILD = r"""
import asyncio, json, resource, sys, time
sys.path.insert(0, {repo!r})
started_imports = time.perf_counter()
from datetime import timedelta
from textual.widgets import Input
from store import Record
from tui.app import console_app
from tui.replay import ReplayClock
from tui.services import Services
from tui.widgets.alert_pane import AlertPane
from tui.widgets.timeline_pane import TimelineList
imports = time.perf_counter() - started_imports
path, incident_id, entries = sys.argv[1], sys.argv[2], int(sys.argv[3])


async def until(pilot, ready, limit=60.0):
    deadline = time.perf_counter() + limit
    while not ready():
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen never got there")
        await pilot.pause(0.005)


async def main():
    started = time.perf_counter()
    record = Record.open(path, readonly=True)
    services = Services(record, mode="review", incident_id=incident_id, actor="bench")
    app = console_app(services, clock=ReplayClock(record.clock))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        table = screen.query_one("#timeline-table", TimelineList)

        def first_screen():
            pane = screen.query_one(AlertPane)
            return (screen.incident is not None and table.row_count == entries
                    and pane.alert_list.received > 0)

        await until(pilot, first_screen)
        await pilot.pause()  # one more refresh: painted
        first = time.perf_counter() - started
        alerts_shown = screen.query_one(AlertPane).alert_list.buffer.visible_count

        moment = screen.replay_scope.start + timedelta(minutes=25)
        expected = sum(1 for e in record.timeline.for_incident(incident_id) if e.at <= moment)
        started_seek = time.perf_counter()
        await pilot.press("g")
        await until(pilot, lambda: bool(app.screen.query("#goto-time")))
        app.screen.query_one("#goto-time", Input).value = "+25m"
        await pilot.press("enter")

        def sought():
            panes = screen.query(AlertPane)
            return (app.clock.cut() == moment and table.row_count == expected and len(panes) == 1
                    and panes.first().alert_list.received > 0)

        await until(pilot, sought)
        await pilot.pause()
        seek = time.perf_counter() - started_seek
        await pilot.press("q")
    record.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"imports": imports, "first": first, "seek": seek, "peak_mb": peak,
                       "alerts_shown": alerts_shown, "entries_at_seek": expected}}))


asyncio.run(main())
"""


def measure(path: Path, incident_id: str, entries: int) -> dict[str, float]:
    return run_child(CHILD, str(path), incident_id, str(entries), what="the review run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--timeline", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = cached_record(args.alerts, args.timeline, rebuild=args.rebuild)
    from store import Record

    with Record.open(path, readonly=True) as record:
        incident = record.incidents.list()[0]
        entries = record.timeline.count(incident.id)
        alerts = record.alerts.count(incident.id)
    print(f"record: {path} ({alerts:,} alerts, {entries:,} timeline entries for {incident.id})")
    runs = [measure(path, incident.id, entries) for _ in range(args.runs)]
    first = statistics.median(r["first"] for r in runs)
    seek = statistics.median(r["seek"] for r in runs)
    imports = statistics.median(r["imports"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    each = ", ".join(f"{r['first']:.2f}" for r in runs)
    print(
        f"  first screen  {first:6.2f} s median of {len(runs)} (target < 2 s; runs {each}); "
        f"imports before it {imports:.2f} s"
    )
    print(f"    header, {entries:,} timeline rows and {runs[0]['alerts_shown']:,} alerts shown")
    print(
        f"  go to +25m    {seek:6.2f} s median ({runs[0]['entries_at_seek']:,} entries, "
        "alerts up to then)"
    )
    print(f"  peak RSS      {peak:6.1f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
