"""One incident row no warroom writes is skipped with one warning, never a traceback (issue 15).

The row is spoiled with plain sqlite3, as a crafted file or a damaged disk
leaves it; every command that lists incidents still lists the others, says on
stderr which one it skipped and why, and exits as it would without it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from actions.drill.server import DrillServerThread
from store import Record
from tests.plugins.record import FrozenClock
from tests.plugins.terminal import terminal, warroom_argv
from tests.test_session_incident import shown
from tui.cli.main import main

SPOILED = [
    pytest.param("detected_at", "not-a-date", "is not an ISO 8601 time", id="not-a-date"),
    pytest.param("severity", "P9", "is not one of P0, P1, P2, P3", id="P9"),
    pytest.param("status", "pwned", "is not one of open", id="pwned"),
    pytest.param("detected_at", "9999-12-31T23:59:59+00:00", "outside the years", id="year-9999"),
]


def spoil(path: Path, incident_id: str, column: str, value: str) -> None:
    """Write a value into the incidents table behind the record's back."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (value, incident_id))
    conn.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def skipped(err: list[str], incident_id: str) -> list[str]:
    return [line for line in err if "skipped" in line and incident_id in line]


@pytest.fixture
def three(record: Record, clock: FrozenClock) -> tuple[str, str, str]:
    """A real P1, a real P2 (the one to spoil) and a drill, each an hour apart."""
    first = record.incidents.open("Beaconing from tts-router", severity="P1")
    clock.advance(hours=1)
    middle = record.incidents.open("Shell in payment", severity="P2")
    clock.advance(hours=1)
    drill = record.incidents.open("Tabletop", severity="P0", drill=True)
    return first.id, middle.id, drill.id


@pytest.mark.parametrize(("column", "value", "words"), SPOILED)
def test_incidents_lists_the_others_and_names_the_one_skipped(
    record_path: Path,
    three: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
    words: str,
) -> None:
    first, bad, drill = three
    spoil(record_path, bad, column, value)

    code, out, err = run(capsys, "incidents")
    assert code == 0
    assert first in out
    assert drill in out
    assert bad not in out
    (warning,) = err
    assert warning.startswith(f"warroom incidents: incident '{bad}' skipped, it cannot be read:")
    assert f"{column} " in warning
    assert words in warning

    code, out, err = run(capsys, "incidents", "--json")
    assert code == 0
    assert [i["id"] for i in json.loads(out)["incidents"]] == [first, drill]
    assert len(skipped(err, bad)) == 1
    assert len(err) == 1


@pytest.mark.parametrize(("column", "value", "words"), SPOILED)
def test_metrics_count_the_others_and_name_the_one_skipped(
    record_path: Path,
    three: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
    words: str,
) -> None:
    spoil(record_path, three[1], column, value)
    code, out, err = run(capsys, "metrics", "--json")
    assert code == 0
    groups = json.loads(out)["groups"]
    assert (groups["real"]["incidents"], groups["drill"]["incidents"]) == (1, 1)
    (warning,) = err
    assert warning.startswith("warroom metrics: incident")
    assert words in warning

    code, out, err = run(capsys, "metrics")
    assert code == 0
    assert "## Real incidents (1)" in out
    assert len(skipped(err, three[1])) == 1


@pytest.mark.parametrize(("column", "value", "words"), SPOILED)
def test_the_report_of_another_incident_is_whole_and_of_the_bad_one_says_why(
    record_path: Path,
    three: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
    words: str,
) -> None:
    first, bad, _ = three
    spoil(record_path, bad, column, value)
    code, out, err = run(capsys, "report", first)
    assert (code, err) == (0, [])
    assert f"**Incident ID**: {first}" in out

    code, out, err = run(capsys, "report", bad)
    assert (code, out) == (1, "")
    (message,) = err
    assert message.startswith(f"warroom report: incident {bad} in {record_path} cannot be read:")
    assert words in message
    assert "warroom verify" in message
    code, out, err = run(capsys, "incidents", "show", bad)
    assert code == 1
    assert words in err[0]


@pytest.mark.parametrize(("column", "value", "words"), SPOILED)
def test_act_without_incident_joins_the_one_readable_drill_incident(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record: Record,
    clock: FrozenClock,
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
    words: str,
) -> None:
    good = record.incidents.open("DNS tunnel drill", severity="P0", drill=True)
    bad = record.incidents.open("Spoiled drill", severity="P0", drill=True)
    spoil(record.path, bad.id, column, value)
    code, out, err = run(
        capsys, "act", "block-ip", "203.0.113.9", "--yes", "--kubeconfig", str(drill_kubeconfig)
    )
    assert code == 0, err
    assert f"recorded in {good.id}" in out
    assert len(skipped(err, bad.id)) == 1
    assert [line for line in err if "skipped" in line][0].startswith("warroom act: incident")
    rows = record.query("SELECT DISTINCT incident_id FROM actions")
    assert [row[0] for row in rows] == [good.id]


@pytest.mark.parametrize(("column", "value"), [("detected_at", "not-a-date"), ("severity", "P9")])
async def test_the_console_takes_the_readable_incident(
    record: Record, clock: FrozenClock, column: str, value: str
) -> None:
    good = record.incidents.open("Beaconing from tts-router", severity="P1")
    clock.advance(minutes=5)
    newer = record.incidents.open("Spoiled, and newer", severity="P1")
    spoil(record.path, newer.id, column, value)
    assert await shown(record, clock, "live") == good.id


def test_live_says_on_screen_when_it_cannot_read_the_incident(
    record: Record, tmp_path: Path
) -> None:
    """The only open incident's row is spoiled: `live` says the record cannot be read and
    names the row, instead of "no incident" (issue 15 item 4), at 80x24."""
    incident = record.incidents.open("Beaconing from tts-router", severity="P1")
    spoil(record.path, incident.id, "severity", "P9")
    env = {"HOME": str(tmp_path), "KUBECONFIG": ""}
    argv = warroom_argv("--db", str(record.path), "live", "--kubeconfig", "/nonexistent")
    with terminal(argv, env=env, size=(80, 24)) as term:
        term.wait_for("LIVE")
        screen = term.wait_for("cannot read the record").replace("\n", "")
        assert incident.id in screen
        term.press("q")
        assert term.wait_exit() == 0
