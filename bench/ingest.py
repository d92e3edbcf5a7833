"""`python bench/ingest.py N`: end-to-end `warroom ingest` against the raw SQLite limit.

Prints alerts/s for `warroom ingest` (read, parse, classify, hash chain, commit,
in its own process, with its peak RSS) and for the raw limit (the same rows,
already parsed and hashed, inserted by plain sqlite3 executemany in one
transaction), their ratio, and the CPU per alert of each (which the machine's
load does not change). Targets: >= 90 % of the raw limit, peak RSS flat in N.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.falco_lines import falco_lines  # noqa: E402

RAW = r"""
import sqlite3, sys, time
from datetime import date
from actions.falco.classify import Classifier
from actions.falco.parse import parse_line
from actions.falco.ingest import alert_row
from store import Record
from store.alerts import ALERT_COLUMNS
from store.chain import content_hash, link_hash, GENESIS

source, target = sys.argv[1], sys.argv[2]
Record.open(target).close()  # same schema, indexes and pragmas as the real record
classifier = Classifier.load()
rows, prev = [], GENESIS
with open(source, "rb") as lines:
    for seq, raw in enumerate(lines, 1):
        alert = parse_line(raw.rstrip(b"\n"), reference_date=date(2026, 3, 14))
        row = alert_row(alert, classifier.classify(alert), incident_id=None, origin="falco",
                        received_at="2026-03-14T09:00:00.000000+00:00")
        digest = link_hash(prev, seq, content_hash("alerts", row))
        rows.append((seq, prev, digest, *(row[c] for c in ALERT_COLUMNS)))
        prev = digest
conn = sqlite3.connect(target, isolation_level=None)
conn.execute("PRAGMA synchronous = FULL")
columns = ("seq", "prev_hash", "hash", *ALERT_COLUMNS)
sql = f"INSERT INTO alerts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
started, cpu = time.perf_counter(), time.process_time()
conn.execute("BEGIN")
conn.executemany(sql, rows)
conn.execute("COMMIT")
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "falco.jsonl"
        with source.open("w") as out:
            for line in falco_lines(count):
                out.write(line + "\n")
        load_before = os.getloadavg()[0]
        children_before = _children_cpu()
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "--db",
                str(Path(folder) / "ingest.db"),
                "ingest",
                str(source),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        ingest_cpu = _children_cpu() - children_before
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        counts = json.loads(result.stdout)
        assert counts["accepted"] == count, counts
        raw = subprocess.run(
            [sys.executable, "-c", RAW, str(source), str(Path(folder) / "raw.db")],
            capture_output=True,
            text=True,
            check=True,
        )
        raw_elapsed, raw_cpu = map(float, raw.stdout.split())
    ingest_rate, raw_rate = count / elapsed, count / raw_elapsed
    print(f"alerts:              {count:,}")
    print(f"warroom ingest:      {ingest_rate:,.0f} alerts/s ({elapsed:.2f} s, whole process)")
    print(f"raw executemany:     {raw_rate:,.0f} alerts/s ({raw_elapsed:.2f} s, one transaction)")
    print(f"ratio:               {ingest_rate / raw_rate:.0%}")
    print(f"ingest peak RSS:     {peak_kib / 1024:.0f} MiB")
    # On a shared machine the wall times follow the load; the CPU per alert does not.
    print(f"CPU per alert:       ingest {ingest_cpu / count * 1e6:.1f} us (all its processes), "
          f"raw insert {raw_cpu / count * 1e6:.1f} us; "
          f"{os.cpu_count()} cores: the ratio cannot pass "
          f"{min(1.0, (os.cpu_count() or 1) * raw_cpu / ingest_cpu):.0%} however quiet the machine")
    print(f"load average:        {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
