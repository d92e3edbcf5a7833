"""A SIGKILL in the middle of a large ingest loses nothing that was committed."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from bench.falco_lines import falco_lines
from store import Record, verify_chain
from tests.plugins.waiting import wait_for


def _committed(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # not created yet


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
            except OSError:
                continue  # ended while we looked
            if text in cmdline:
                found.append(int(entry.name))
    return found


def test_sigkill_midway_leaves_a_verifiable_record(tmp_path: Path) -> None:
    lines = list(falco_lines(60_000))
    source = tmp_path / "falco.jsonl"
    source.write_text("\n".join(lines) + "\n")
    db = tmp_path / "record.db"
    ingest = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db), "ingest", str(source)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for(lambda: _committed(db) >= 4_000 or ingest.poll() is not None,
             "4,000 alerts committed", within=60)
    ingest.send_signal(signal.SIGKILL)
    ingest.wait()
    assert ingest.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    # Its worker processes (the input is large enough for them) do not outlive it.
    wait_for(lambda: not _processes_mentioning(str(db)), "its worker processes gone",
             within=10)

    with Record.open(db) as record:
        result = verify_chain(record.conn)
        assert result.ok, result.problem
        rows = record.query("SELECT output, time FROM alerts ORDER BY seq")
    assert 4_000 <= len(rows) < len(lines)
    # Every committed alert is exactly the line it came from, in order, none skipped.
    for row, line in zip(rows, lines, strict=False):
        original = json.loads(line)
        assert (row["output"], row["time"]) == (original["output"], original["time"])
