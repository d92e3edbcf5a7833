"""`warroom report`, `metrics`, `export` and `import` run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from store import Record, verify_chain
from store.report.deadlines import due_for
from store.transfer import connect_readonly
from tests.plugins.record import FrozenClock

REPO = Path(__file__).resolve().parents[1]


def warroom(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def incident(record: Record, clock: FrozenClock) -> str:
    opened = record.incidents.open("Exfiltration over DNS", severity="P1", category="exfiltration")
    clock.advance(minutes=4)
    record.incidents.acknowledge(opened.id, actor="alice")
    clock.advance(minutes=10)
    record.incidents.update(opened.id, contained_at=clock.now, status="contained")
    return opened.id


def test_report_to_stdout_reads_only(record: Record, record_path: Path, incident: str) -> None:
    before = record.head()
    done = warroom("--db", record_path, "report", incident)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Network Security Incident Report\n")
    assert f"**Incident ID**: {incident}" in done.stdout
    assert record.head() == before


def test_report_to_a_file_records_it_saved_not_issued(
    record: Record, record_path: Path, incident: str, tmp_path: Path, clock: FrozenClock
) -> None:
    out = tmp_path / "exec.md"
    done = warroom("--db", record_path, "report", incident, "--executive", "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    text = out.read_bytes()
    assert text.startswith(b"# Network Security Incident Executive Summary\n")
    digest = hashlib.sha256(text).hexdigest()
    assert digest in done.stderr
    assert "recorded as saved, not as issued" in done.stderr
    saved = record.timeline.for_incident(incident)[-1]
    assert saved.kind == "report.saved"
    assert saved.data == {
        "item": "executive-summary",
        "file": str(out),
        "sha256": digest,
        "bytes": len(text),
    }
    # Saving is not sending: the 24 h clock runs on until the summary is marked issued.
    summary = next(
        d
        for d in due_for(record, record.incidents.get_required(incident), clock.now)
        if d.kind == "executive-summary"
    )
    assert not summary.done


def test_report_of_an_unknown_incident_or_missing_record_fails(
    record_path: Path, record: Record, tmp_path: Path
) -> None:
    done = warroom("--db", record_path, "report", "NSI-2026-01-01-404")
    assert done.returncode == 1
    assert "no incident NSI-2026-01-01-404" in done.stderr
    missing = tmp_path / "nowhere.db"
    done = warroom("--db", missing, "report", "NSI-2026-01-01-404")
    assert done.returncode == 1
    assert f"no record at {missing}" in done.stderr
    assert not missing.exists()
    assert warroom("--db", record_path, "report").returncode == 2


def test_metrics_json_is_one_document(record_path: Path, incident: str) -> None:
    done = warroom("--db", record_path, "metrics", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    real = document["groups"]["real"]
    assert real["incidents"] == 1
    assert real["mttd"]["median_seconds"] == 240.0
    assert real["mttc"]["median_seconds"] == 840.0
    assert real["mttd"]["met"] is True
    assert real["mttc"]["met"] is True
    assert document["groups"]["drill"]["incidents"] == 0


def test_metrics_text_and_since(record_path: Path, incident: str) -> None:
    done = warroom("--db", record_path, "metrics")
    assert done.returncode == 0, done.stderr
    assert (
        "| Mean Time to Detection (MTTD) | 1 | 4m 00s | 4m 00s | 4m 00s | < 5m 00s | met |"
        in done.stdout
    )
    later = json.loads(
        warroom("--db", record_path, "metrics", "--json", "--since", "2026-03-15").stdout
    )
    assert later["groups"]["real"]["incidents"] == 0
    assert later["since"] == "2026-03-15T00:00:00+00:00"
    bad = warroom("--db", record_path, "metrics", "--since", "last tuesday")
    assert bad.returncode == 2
    assert "--since 'last tuesday' is not a date" in bad.stderr


def test_export_then_import_from_the_command_line(
    record_path: Path, record: Record, incident: str, tmp_path: Path
) -> None:
    out = tmp_path / "incident.db"
    done = warroom("--db", record_path, "export", incident, "-o", out, "--json")
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert exported["incident_id"] == incident
    assert exported["source_head"] == "{}:{}".format(*record.head())
    assert verify_chain(connect_readonly(out)).ok

    again = warroom("--db", record_path, "export", incident, "-o", out)
    assert again.returncode == 1
    assert "already exists" in again.stderr

    other = tmp_path / "other.db"
    done = warroom("--db", other, "import", out, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["incident_id"] == incident
    verified = warroom("--db", other, "verify")
    assert verified.returncode == 0, verified.stderr

    clash = warroom("--db", other, "import", out)
    assert clash.returncode == 1
    assert f"incident {incident} is already in" in clash.stderr


def test_import_of_a_tampered_export_fails_and_writes_nothing(
    record_path: Path, incident: str, tmp_path: Path
) -> None:
    out = tmp_path / "incident.db"
    assert warroom("--db", record_path, "export", incident, "-o", out).returncode == 0
    with sqlite3.connect(out) as conn:
        conn.execute("UPDATE timeline SET actor = 'mallory' WHERE kind = 'incident.updated'")
    other = tmp_path / "other.db"
    done = warroom("--db", other, "import", out, "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["ok"] is False
    assert "does not verify" in document["error"]
    with Record.open(other) as opened:
        assert opened.incidents.list() == []


def test_a_folder_given_to_o_gets_the_default_file_name_in_it(
    record_path: Path, incident: str, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    done = warroom("--db", record_path, "report", incident, "-o", folder)
    assert done.returncode == 0, done.stderr
    assert (folder / f"incident-{incident}.md").read_text().startswith("# Network Security")
    done = warroom("--db", record_path, "report", incident, "--executive", "-o", f"{folder}/")
    assert done.returncode == 0, done.stderr
    assert (folder / f"incident-{incident}-executive.md").is_file()
    done = warroom("--db", record_path, "export", incident, "-o", folder)
    assert done.returncode == 0, done.stderr
    assert verify_chain(connect_readonly(folder / f"incident-{incident}.db")).ok
