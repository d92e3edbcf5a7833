"""Benchmark: `warroom verify` of a record with 1,000,000 alerts and 10,000 timeline entries.

    .venv/bin/python bench/verify.py [--alerts N] [--timeline N] [--rebuild]

Reuses bench/report.py's record (built once, cached under /tmp), with some
evidence and rejected input added so the content checks have work. Runs
`warroom verify --json` in a fresh process (its time and peak RSS are its
own) and, as the limit, SHA-256 over the same bytes: the file read and hashed
whole, in another fresh process. Targets: under 10 s and 300 MB. Prints the
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import cached_record, run_child  # noqa: E402 - after the path

VERIFY = r"""
import json, resource, subprocess, sys, time
sys.path.insert(0, {repo!r})
from tui.cli.main import main
import contextlib, io
started = time.perf_counter()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["--db", sys.argv[1], "verify", "--json"])
elapsed = time.perf_counter() - started
result = json.loads(out.getvalue())
usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
cpu = sum(u.ru_utime + u.ru_stime for u in usage)
peak = max(u.ru_maxrss for u in usage) / 1024
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "peak_mb": peak, "ok": result["ok"],
                  "code": code, "checked": result.get("checked", {{}})}}))
"""

RAW = r"""
import hashlib, json, resource, sys, time
started = time.perf_counter()
with open(sys.argv[1], "rb") as source:
    digest = hashlib.file_digest(source, "sha256")
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": elapsed, "peak_mb": peak, "digest": digest.hexdigest()}}))
"""


def add_content(path: Path) -> None:
    """Evidence and rejected input, written as warroom writes them (once per cached record)."""
    from store import Record

    with Record.open(path) as record:
        if record.alerts.rejected_count():
            return
        incident = record.incidents.list()[0].id
        for n in range(200):
            record.evidence.add(incident, f"capture-{n}.pcap", os.urandom(64 * 1024))
        raws = [os.urandom(300) for _ in range(2_000)]
        record.alerts.add_batch([], [
            {"received_at": record.now(), "origin": "falco", "line_no": n, "reason": "not JSON",
             "raw": raw, "raw_size": len(raw), "raw_sha256": hashlib.sha256(raw).hexdigest()}
            for n, raw in enumerate(raws)
        ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--timeline", type=int, default=10_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = cached_record(args.alerts, args.timeline, rebuild=args.rebuild)
    add_content(path)
    size = path.stat().st_size
    raw = run_child(RAW, str(path), what="sha256 of the file")
    verified = run_child(VERIFY, str(path), what="warroom verify")
    load = os.getloadavg()
    print(f"record:              {path} ({size / 2**20:,.0f} MiB)")
    print(f"checked:             {verified['checked']}")
    print(f"warroom verify:      {verified['seconds']:.2f} s ({verified['cpu']:.1f} s of CPU over "
          f"its processes), peak RSS {verified['peak_mb']:.0f} MiB per process, "
          f"ok={verified['ok']} (targets: < 10 s, < 300 MiB)")  # fmt: skip
    rate = size / 2**20 / raw["seconds"]
    print(f"sha256 of the bytes: {raw['seconds']:.2f} s ({rate:,.0f} MiB/s)")
    print(f"verify / raw sha256: {verified['seconds'] / raw['seconds']:.1f}x")
    # On a shared machine the wall time follows the load; the CPU does not.
    cores = os.cpu_count() or 1
    print(f"idle machine, best:  {verified['cpu'] / cores:.1f} s (its CPU over {cores} cores)")
    print(f"load average:        {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
