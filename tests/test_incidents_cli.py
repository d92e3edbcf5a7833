"""`warroom incidents`, `incidents open`, `ingest` and `verify` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.falco_lines import falco_lines
from store import Record
from store.report.deadlines import due_items
from tests.plugins.notify import ShapeReceiver
from tui.cli.main import main


def warroom(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result


def test_open_prints_the_new_id_and_lists_what_is_due(record_path: Path) -> None:
    opened = warroom(
        "incidents", "open", "DNS tunneling from orchestrator", "--severity", "P0", "--data-breach"
    )
    assert opened.returncode == 0, opened.stderr
    incident_id = opened.stdout.strip()
    assert incident_id.startswith("NSI-")
    assert len(incident_id) == len("NSI-2026-11-27-001")

    listing = warroom("incidents", "--json")
    document = json.loads(listing.stdout)
    (incident,) = document["incidents"]
    assert (incident["id"], incident["severity"], incident["data_breach"]) == (
        incident_id,
        "P0",
        True,
    )
    assert [due["kind"] for due in incident["due"]] == [
        "executive-summary",
        "gdpr-notification",
        "detailed-report",
    ]
    table = warroom("incidents")
    assert "executive summary in 23h" in table.stdout


def test_open_with_json_prints_one_document(record_path: Path) -> None:
    result = warroom("incidents", "open", "Policy drift", "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["severity"] == "P2"
    assert document["status"] == "open"


def test_open_sends_the_configured_notifications_at_once(
    record_path: Path, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    notify_config(slack=slack_receiver)
    result = warroom("incidents", "open", "Beaconing to 203.0.113.66", "--severity", "P1", "--json")
    assert result.returncode == 0, result.stderr
    assert len(slack_receiver.received) == 1
    assert slack_receiver.rejected == []
    with Record.open(record_path) as record:
        assert [item.status for item in record.outbox.items()] == ["delivered"]


def test_a_channel_that_is_down_leaves_the_incident_opened_and_the_page_queued(
    record_path: Path, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    notify_config(slack=slack_receiver)
    slack_receiver.fail_next(500)
    result = warroom("incidents", "open", "Beaconing", "--severity", "P1")
    assert result.returncode == 0
    assert "still queued" in result.stderr or "failed" in result.stderr
    with Record.open(record_path) as record:
        assert len(record.incidents.list()) == 1
        assert [item.status for item in record.outbox.items()] == ["queued"]


def test_a_broken_config_is_an_error_before_anything_changes(
    record_path: Path, tmp_path: Path
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[alerting.slack\n")
    result = warroom("--config", str(config), "incidents", "open", "x")
    assert result.returncode == 2, result.stderr
    assert str(config) in result.stderr
    assert warroom("incidents", "open", "x").returncode == 0  # the record itself is fine
    with Record.open(record_path) as record:
        incident = record.incidents.list()[0].id
    for change in (("ack", incident), ("close", incident, "--resolution", "done"), ()):
        result = warroom("--config", str(config), "incidents", *change)
        assert result.returncode == 2, (change, result.stderr)
    with Record.open(record_path) as record:  # nothing changed: one incident, unacknowledged
        assert [i.acknowledged_at for i in record.incidents.list()] == [None]


def test_usage_errors_exit_2(record_path: Path) -> None:
    assert warroom("incidents", "open", "   ").returncode == 2
    assert warroom("incidents", "open", "x", "--severity", "P7").returncode == 2
    assert warroom("nonsense").returncode == 2


def test_ingest_counts_keeps_rejects_and_never_duplicates(
    record_path: Path, tmp_path: Path
) -> None:
    good = list(falco_lines(50))
    hostile = [
        b'{"rule": "truncated',
        b"Fri Mar 14 09:00:01 2025: Falco version: 0.41.3 (x86_64)",
        b"\xff\xfe not utf-8 at all \x00",
        b'{"rule": 7, "priority": "Warning", "time": "2026-03-14T09:00:00Z", "output": "x"}',
    ]
    source = tmp_path / "falco.log"
    source.write_bytes(b"\n".join([g.encode() for g in good] + hostile) + b"\n")
    first = warroom("ingest", str(source), "--json")
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert (counts["read"], counts["accepted"], counts["rejected"]) == (54, 50, 4)

    again = json.loads(warroom("ingest", str(source), "--json").stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 50)
    with Record.open(record_path) as record:
        assert record.alerts.count() == 50
        kept = {bytes(row["raw"]) for row in record.query("SELECT raw FROM rejected_inputs")}
    assert set(hostile) <= kept
    assert warroom("verify").returncode == 0


def test_a_repeated_ingest_counts_what_it_recorded_not_what_it_read(
    record_path: Path, tmp_path: Path
) -> None:
    source = tmp_path / "falco.log"
    source.write_text("\n".join(falco_lines(8)) + "\n", encoding="utf-8")
    first = warroom("ingest", str(source))
    assert first.returncode == 0, first.stderr
    assert "read 8 lines: 8 alerts recorded (" in first.stdout
    # Half of it again, half new: the severities are those of the 4 new alerts.
    source.write_text("\n".join(list(falco_lines(12))[4:]) + "\n", encoding="utf-8")
    again = warroom("ingest", str(source), "--json")
    counts = json.loads(again.stdout)
    assert (counts["accepted"], counts["duplicates"]) == (4, 4)
    assert sum(counts["by_severity"].values()) == 4
    repeat = warroom("ingest", str(source))
    assert repeat.stdout.startswith(
        "read 8 lines: 0 alerts recorded, 8 already in the record\n"), repeat.stdout


def test_ingest_from_stdin_into_an_incident(record_path: Path) -> None:
    incident_id = warroom("incidents", "open", "C2 beaconing", "--severity", "P1").stdout.strip()
    lines = "\n".join(falco_lines(10)).encode()
    result = warroom("ingest", "-", "--incident", incident_id, "--json", stdin=lines)
    assert json.loads(result.stdout)["incidents"] == [incident_id]
    with Record.open(record_path) as record:
        assert record.alerts.count(incident_id) == 10


def test_ingest_into_an_unknown_incident_fails_and_records_nothing(record_path: Path) -> None:
    result = warroom("ingest", "-", "--incident", "NSI-2020-01-01-001", stdin=b"{}\n")
    assert result.returncode == 1
    assert "no incident NSI-2020-01-01-001" in result.stderr


def test_verify_json_names_the_first_bad_entry(record_path: Path) -> None:
    warroom("incidents", "open", "x")
    warroom("ingest", "-", stdin="\n".join(falco_lines(5)).encode())
    assert json.loads(warroom("verify", "--json").stdout)["ok"] is True
    import sqlite3

    conn = sqlite3.connect(record_path)
    with conn:
        conn.execute("UPDATE alerts SET rule = 'nothing to see' WHERE seq = 3")
    conn.close()
    result = warroom("verify", "--json")
    assert result.returncode == 1
    problem = json.loads(result.stdout)["first_problem"]
    assert (problem["table"], problem["seq"]) == ("alerts", 3)


def test_verify_without_a_record_fails_clearly(tmp_path: Path) -> None:
    result = warroom("--db", str(tmp_path / "missing.db"), "verify")
    assert result.returncode == 1
    assert "no record at" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["incidents"], ["incidents", "--json"], ["incidents", "show", "NSI-2026-03-14-001"],
     ["incidents", "show", "NSI-2026-03-14-001", "--json"]],
)  # fmt: skip
def test_reading_incidents_without_a_record_says_so_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    """`--db` at a path with no record (a typo) listed "no incidents recorded", exit 0,
    and left an empty record there, its folder made: as metrics and report, it fails."""
    missing = tmp_path / "no-such-folder" / "x.db"
    result = warroom("--db", str(missing), *command)
    assert result.returncode == 1
    said = json.loads(result.stdout)["error"] if "--json" in command else result.stderr
    assert f"no record at {missing}" in said
    assert "Traceback" not in result.stderr
    assert not missing.parent.exists()


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_commander_takes_an_incident_through_its_life_from_the_shell(
    record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(capsys, "incidents", "open", "Beaconing", "--severity", "P2")
    incident_id = out.strip()
    assert code == 0
    steps = [
        (["ack", incident_id], "acknowledged"),
        (["severity", incident_id, "P1"], "severity set: P1"),
        (["phase", incident_id], "moved: P1, open, phase containment"),
        (["note", incident_id, "isolated by hand"], "note added"),
        (["phase", incident_id, "recovery"], "contained, phase recovery"),
        (["resolve", incident_id, "--note", "traffic normal"], "recovered, phase lessons-learned"),
        (["close", incident_id, "--resolution", "C2 blocked, token rotated"], "closed"),
    ]
    for argv, said in steps:
        code, out, err = run_main(capsys, "incidents", *argv)
        assert code == 0, err
        assert said in out
    code, out, _ = run_main(capsys, "incidents", "show", incident_id, "--json")
    shown = json.loads(out)
    assert (shown["status"], shown["resolution"]) == ("closed", "C2 blocked, token rotated")
    assert all(shown[when] for when in ("acknowledged_at", "contained_at", "recovered_at"))
    with Record.open(record_path) as record:
        closing = record.timeline.for_incident(incident_id)[-1]
        assert closing.summary == "Closed: C2 blocked, token rotated"
        assert closing.actor  # who: the login name
    assert run_main(capsys, "verify")[0] == 0


def test_personal_data_found_mid_incident_starts_the_gdpr_clock_from_detection(
    record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exfiltration turns out to carry guests' data: `breach` flags it, the 72 h
    notification is due from detection, the timeline says who flagged it; --not-involved
    takes it back, also on the record."""
    incident_id = run_main(capsys, "incidents", "open", "DNS tunnel", "--severity", "P0")[1].strip()
    code, out, err = run_main(capsys, "incidents", "breach", incident_id)
    assert code == 0, err
    assert "personal data involved (GDPR 72 h)" in out
    code, out, _ = run_main(capsys, "incidents", "show", incident_id, "--json")
    shown = json.loads(out)
    assert shown["data_breach"] is True
    with Record.open(record_path) as record:
        incident = record.incidents.get_required(incident_id)
        (gdpr,) = [d for d in due_items(incident, incident.opened_at)
                   if d.kind == "gdpr-notification"]
        assert gdpr.due_at == incident.opened_at + timedelta(hours=72)
        flagged = record.timeline.for_incident(incident_id)[-1]
        assert "GDPR breach notification is due 72 h from detection" in flagged.summary
        assert flagged.actor
    code, out, _ = run_main(capsys, "incidents", "breach", incident_id, "--not-involved")
    assert (code, "GDPR" in out) == (0, False)
    assert run_main(capsys, "verify")[0] == 0


def test_lifecycle_refusals_exit_1_and_usage_errors_exit_2(
    record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = run_main(capsys, "incidents", "open", "Drift")[1].strip()
    assert run_main(capsys, "incidents", "close", incident_id, "--resolution", "reverted")[0] == 0
    code, _, err = run_main(capsys, "incidents", "close", incident_id, "--resolution", "twice")
    assert (code, "closed already" in err) == (1, True)
    code, _, err = run_main(capsys, "incidents", "phase", incident_id)
    assert (code, "reopen it" in err) == (1, True)
    code, out, _ = run_main(
        capsys, "incidents", "reopen", incident_id, "--reason", "back", "--json"
    )
    assert (code, json.loads(out)["status"]) == (0, "open")
    code, _, err = run_main(capsys, "incidents", "close", "NSI-2020-01-01-001", "--resolution", "x")
    assert (code, "no incident NSI-2020-01-01-001" in err) == (2, True)
    assert run_main(capsys, "incidents", "close", incident_id, "--resolution", "  ")[0] == 2
    with pytest.raises(SystemExit) as exited:  # argparse: --resolution is required
        main(["incidents", "close", incident_id])
    assert exited.value.code == 2



def test_a_closed_incident_keeps_what_it_was_closed_with_until_reopened(
    record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Severity, acknowledgement and personal data of a closed incident are what a drill's
    score and the report read: changing them needs a reopen, which the record says why."""
    incident_id = run_main(capsys, "incidents", "open", "Drift", "--severity", "P1")[1].strip()
    assert run_main(capsys, "incidents", "close", incident_id, "--resolution", "reverted")[0] == 0
    for change in (("severity", incident_id, "P0"), ("ack", incident_id),
                   ("breach", incident_id)):  # fmt: skip
        code, _, err = run_main(capsys, "incidents", *change)
        assert (code, f"{incident_id} is closed: reopen it" in err) == (1, True), change
    with Record.open(record_path) as record:
        incident = record.incidents.get_required(incident_id)
        assert (incident.severity, incident.acknowledged_at, incident.data_breach) == (
            "P1", None, False)
    # A note after closing is how lessons are added; an empty one says nothing.
    assert run_main(capsys, "incidents", "note", incident_id, "lessons: alert on drift")[0] == 0
    code, _, err = run_main(capsys, "incidents", "note", incident_id, "  ")
    assert (code, "a note needs words" in err) == (2, True)
    run_main(capsys, "incidents", "reopen", incident_id, "--reason", "wrong severity")
    code, out, _ = run_main(capsys, "incidents", "severity", incident_id, "P0", "--json")
    assert (code, json.loads(out)["severity"]) == (0, "P0")

def test_closing_tells_the_channels_it_is_resolved(
    record_path: Path,
    slack_receiver: ShapeReceiver,
    notify_config: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    notify_config(slack=slack_receiver)
    incident_id = run_main(capsys, "incidents", "open", "Beaconing", "--severity", "P1")[1].strip()
    code, out, _ = run_main(
        capsys, "incidents", "close", incident_id, "--resolution", "blocked", "--json"
    )
    assert code == 0
    assert [d["event"] for d in json.loads(out)["notifications"]["delivered"]] == ["resolved"]
    assert len(slack_receiver.received) == 2


@pytest.mark.parametrize("argv", [
    ("--config", "{config}", "incidents"),
    ("incidents", "--config", "{config}"),
    ("incidents", "show", "NSI-2026-03-14-001", "--config", "{config}"),
    ("--config", "{config}", "metrics"),
    ("verify", "--config", "{config}"),
])
def test_every_command_reads_the_configuration_the_same_way(
    record_path: Path, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    """`warroom incidents` went on as if --config named nothing (and refused it after the
    command) while `act`, `status` and `notify` refused a file they could not use."""
    missing = tmp_path / "missing.toml"
    result = warroom(*(arg.format(config=missing) for arg in argv))
    assert result.returncode == 2, result.stdout
    assert f"{missing}: no such configuration file" in result.stderr


def test_a_good_configuration_after_the_command_is_read(record: Record, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[cluster]\nnamespace = "payments"\n')
    listing = warroom("incidents", "--config", str(good), "--json")
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)["incidents"] == []


def test_a_class_that_is_not_the_runbooks_is_kept_with_a_warning(
    record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--category` is what `metrics` groups by: a typo would make a class of its own."""
    code, out, err = run_main(capsys, "incidents", "open", "Beacon", "--category",
                              "suspicious-external-connections")
    assert code == 0
    assert "did you mean suspicious-external-connection?" in err
    code, _, err = run_main(capsys, "incidents", "open", "Tunnel", "--category", "dns-exfiltration")
    assert (code, err) == (0, "")
