"""Benchmark: `warroom export` and `warroom import` of one incident with 1,000,000 alerts.

    .venv/bin/python bench/transfer.py [--alerts N] [--timeline N] [--rebuild] [--keep]

Reuses bench/report.py's record (built once, cached under /tmp). Exports its
incident to a new file, imports that file into a fresh record, then verifies
the receiving record's whole chain (what `warroom verify` does), each in a
fresh subprocess so its peak RSS is its own. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import cached_record, run_child  # noqa: E402 - after the path

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from store import Record, verify_chain
from store.transfer import export_incident, import_incident
what, source, target = sys.argv[1:4]
started = time.perf_counter()
if what == "export":
    with Record.open(source, readonly=True) as record:
        result = export_incident(record, record.incidents.list()[0].id, target)
    entries = result.entries
elif what == "import":
    with Record.open(target) as record:
        result = import_incident(record, source)
    entries = result.entries
else:
    with Record.open(target, readonly=True) as record:
        verified = verify_chain(record.conn)
    if not verified.ok:
        raise SystemExit(f"the imported record does not verify: {{verified.problem}}")
    entries = verified.entries
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": elapsed, "peak_mb": peak, "entries": entries}}))
"""


def measure(what: str, source: Path, target: Path) -> dict[str, float]:
    return run_child(CHILD, what, str(source), str(target), what=what)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--timeline", type=int, default=10_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the export and the target")
    args = parser.parse_args()
    path = cached_record(args.alerts, args.timeline, rebuild=args.rebuild)
    print(f"record: {path} ({args.alerts:,} alerts, {args.timeline:,} timeline entries)")
    work = Path(tempfile.mkdtemp(prefix="warroom-bench-transfer-"))
    export, target = work / "incident.db", work / "target.db"
    try:
        for what, source, into in (
            ("export", path, export),
            ("import", export, target),
            ("verify", export, target),
        ):
            result = measure(what, source, into)
            print(
                f"  {what:<7} {result['seconds']:7.2f} s  peak RSS {result['peak_mb']:6.1f} MB  "
                f"entries {int(result['entries']):,}"
            )
        print(f"  export file {export.stat().st_size / 1e6:.0f} MB")
    finally:
        if args.keep:
            print(f"  kept in {work}")
        else:
            for leftover in work.iterdir():
                leftover.unlink()
            work.rmdir()


if __name__ == "__main__":
    main()
