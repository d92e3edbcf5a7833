"""Benchmark: the report and the metrics over a record with 1,000,000 alerts for one incident.

    .venv/bin/python bench/report.py [--alerts N] [--timeline N] [--rebuild] [--export]

Builds the record once (about a minute) and caches it under /tmp keyed by
size, then runs each measurement in a fresh subprocess so its peak RSS
(`resource.getrusage`) is its own. Targets (issue 7): report < 3 s, peak RSS
< 300 MB. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
RULES = [f"Rule {n}: outbound connection to suspicious host" for n in range(40)]
PRIORITIES = ("Critical", "Error", "Warning", "Notice")
BATCH = 20_000


def build(path: Path, alerts: int, timeline: int) -> None:
    from store import Record
    from store.report.sections import set_section

    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    clock_now = [START]
    rng = random.Random(7)
    with Record.open(partial, clock=lambda: clock_now[0]) as record:
        incident = record.incidents.open(
            "Benchmark: DNS exfiltration storm", severity="P0", category="exfiltration"
        )
        base_ns = int(START.timestamp()) * 1_000_000_000
        started = time.perf_counter()
        for first in range(0, alerts, BATCH):
            rows = []
            for n in range(first, min(first + BATCH, alerts)):
                pod = f"payment-{rng.randrange(300):03d}-7d9f"
                rows.append(
                    {
                        "incident_id": incident.id,
                        "dedupe_key": f"bench-{n}",
                        "time": "2026-03-14T09:00:00.000000000Z",
                        "time_ns": base_ns + n * 3_000_000,
                        "rule": RULES[n % len(RULES)],
                        "priority": PRIORITIES[n % len(PRIORITIES)],
                        "source": "syscall",
                        "hostname": "node-1",
                        "tags": '["network","mitre_exfiltration"]',
                        "output": f"Outbound DNS query to x{n}.evil.example from {pod} (proc=curl)",
                        "output_fields": json.dumps(
                            {
                                "k8s.pod.name": pod,
                                "k8s.ns.name": "voicehive",
                                "fd.rip": "203.0.113.9",
                                "proc.name": "curl",
                            }
                        ),
                        "severity": "P0",
                        "category": "exfiltration",
                    }
                )
            record.alerts.add_batch(rows)
            print(
                f"\r  alerts {min(first + BATCH, alerts):,} "
                f"({time.perf_counter() - started:.0f} s)",
                end="",
                flush=True,
            )
        print()
        kinds = ("note", "checklist", "evidence", "action.succeeded", "notification.delivered")
        with record.write() as txn:
            rows = [
                {
                    "incident_id": incident.id,
                    "at": (START + timedelta(seconds=n)).isoformat(),
                    "kind": kinds[n % len(kinds)],
                    "actor": "ic",
                    "summary": f"timeline entry {n}: something happened to payment-{n % 300:03d}",
                    "data": None,
                }
                for n in range(timeline - 100)
            ]
            txn.append("timeline", rows)
        for n in range(40):
            clock_now[0] = START + timedelta(minutes=n)
            action = record.actions.intent(incident.id, "isolate", f"payment-{n:03d}", actor="ic")
            record.actions.outcome(action, "succeeded" if n % 4 else "failed", "applied")
        for n in range(10):
            record.evidence.add(
                incident.id, f"capture-{n}.pcap", bytes(rng.randrange(256) for _ in range(4096))
            )
        record.decisions.add(incident.id, "active-attack", rationale="TXT bursts", actor="ic")
        set_section(record, incident.id, "root_cause", "Compromised image.", "ic")
        clock_now[0] = START + timedelta(hours=1)
        record.incidents.update(
            incident.id,
            acknowledged_at=START + timedelta(minutes=3),
            contained_at=START + timedelta(minutes=12),
            recovered_at=START + timedelta(hours=1),
        )
    partial.rename(path)


MEASURE = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from store import Record
what, path, incident = sys.argv[1:4]
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with Record.open(path, readonly=what != "refresh") as record:
    if incident == "-":
        incident = record.incidents.list()[0].id
    started = time.perf_counter()
    if what == "report":
        from store.report.render import render_report
        size = len(render_report(record, incident))
    elif what == "executive":
        from store.report.render import render_executive
        size = len(render_executive(record, incident))
    elif what == "metrics":
        from store.metrics import compute
        size = len(json.dumps(compute(record).to_dict()))
    elif what == "refresh":
        from store.alert_summary import refresh_rollup
        size = refresh_rollup(record)
    elif what == "export":
        from store.transfer import export_incident
        size = export_incident(record, incident, sys.argv[4]).entries
    elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
figures = {{"seconds": elapsed, "peak_mb": peak / 1024, "baseline_mb": baseline / 1024}}
print(json.dumps({{**figures, "size": size}}))
"""


def run_child(code: str, *args: str, what: str) -> dict[str, Any]:
    """Run `code` (its `{repo}` filled in) in a fresh interpreter, so its time and peak RSS are
    its own; the figures are the JSON object on the last line it prints."""
    done = subprocess.run(
        [sys.executable, "-c", code.format(repo=str(REPO)), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure(what: str, path: Path, *extra: str) -> dict[str, Any]:
    return run_child(MEASURE, what, str(path), "-", *extra, what=what)


def drop_rollup(path: Path) -> None:
    import sqlite3

    from store.alert_summary import ROLLUP_MARK, ROLLUP_TABLE

    with sqlite3.connect(path) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {ROLLUP_TABLE}")
        conn.execute("DELETE FROM meta WHERE key = ?", (ROLLUP_MARK,))


def run_measures(path: Path, names: tuple[str, ...]) -> None:
    targets = {"report": "< 3 s", "executive": "< 3 s"}
    for what in names:
        result = measure(what, path)
        print(
            f"  {what:<10} {result['seconds']:6.2f} s {targets.get(what, ''):<6}  peak RSS "
            f"{result['peak_mb']:6.1f} MB (target < 300 MB; interpreter and imports "
            f"{result['baseline_mb']:.1f} MB)  output {result['size']:,} chars"
        )


def cached_record(alerts: int, timeline: int, *, rebuild: bool = False) -> Path:
    """The benchmark record with `alerts` alerts and `timeline` entries, built once in /tmp."""
    path = Path(f"/tmp/warroom-bench-report-{alerts}-{timeline}.db")
    if rebuild or not path.exists():
        print(f"building {path} ...")
        started = time.perf_counter()
        build(path, alerts, timeline)
        print(
            f"  built in {time.perf_counter() - started:.1f} s, {path.stat().st_size / 1e6:.0f} MB"
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--timeline", type=int, default=10_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--export", action="store_true", help="also time exporting the incident")
    parser.add_argument("--skip-cold", action="store_true", help="only measure with the rollup")
    args = parser.parse_args()
    path = cached_record(args.alerts, args.timeline, rebuild=args.rebuild)
    print(f"record: {path} ({args.alerts:,} alerts, {args.timeline:,} timeline entries)")
    if not args.skip_cold:
        drop_rollup(path)
        print("without the alert rollup (a record no report or ingest has refreshed):")
        run_measures(path, ("report", "executive"))
        result = measure("refresh", path)
        print(
            f"  refresh_rollup over all alerts: {result['seconds']:.2f} s, "
            f"peak RSS {result['peak_mb']:.1f} MB"
        )
    print("with the alert rollup up to date:")
    run_measures(path, ("report", "executive", "metrics"))
    if args.export:
        out = Path(f"/tmp/warroom-bench-export-{time.time_ns()}.db")
        try:
            result = measure("export", path, str(out))
            print(
                f"  export     {result['seconds']:6.2f} s         "
                f"peak RSS {result['peak_mb']:6.1f} MB  entries {result['size']:,}"
            )
        finally:
            out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
