"""`warroom ingest` says why the lines it did not record as alerts were refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_record_audit import falco, run


def test_ingest_names_the_first_refused_lines_and_why(
    record_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed only "15 not Falco alerts (kept raw in the record)": the user had to open
    the SQLite file to learn that a time had month 13."""
    source = tmp_path / "mixed.log"
    bad = [
        "Falco initialized with configuration file",
        "{truncated",
        falco("bad month", time="2026-13-45T09:12:01Z"),
        "\x1b]0;owned\x07 not json",
        "[red]markup[/red]",
        "plain words",
        "more words",
    ]
    source.write_text("\n".join([falco("one"), *bad]) + "\n")
    code, out, _ = run(capsys, "ingest", str(source))
    assert code == 0
    lines = out.splitlines()
    assert "7 not Falco alerts" in lines[0]
    assert [line.split(":")[0] for line in lines[1:6]] == [f"  line {n}" for n in range(2, 7)]
    assert "month 13" in lines[3]
    assert "\x1b" not in out
    assert "\x07" not in out
    assert lines[6] == "  ... and 2 more (the record keeps each line and why)"

    again = tmp_path / "again.log"
    again.write_text("{still truncated\n")
    doc = json.loads(run(capsys, "ingest", str(again), "--json")[1])
    (first,) = doc["first_rejected"]
    assert first["line"] == 1
    assert first["reason"]
