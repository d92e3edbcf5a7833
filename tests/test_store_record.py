"""The record file: IDs, migrations, WAL, two writers at once, and the layers it may not cross."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import Record, UnknownIncident, verify_chain
from store.schema import SCHEMA_VERSION, migrate, schema_version
from tests.plugins.record import FrozenClock


def test_incident_ids_follow_the_runbook_and_count_per_day(
    record: Record, clock: FrozenClock
) -> None:
    first = record.incidents.open("DNS tunneling from tts-router", severity="P0")
    second = record.incidents.open("Policy drift", severity="P2")
    clock.advance(days=1)
    next_day = record.incidents.open("Suspicious IP", severity="P1")
    assert [first.id, second.id, next_day.id] == [
        "NSI-2026-03-14-001",
        "NSI-2026-03-14-002",
        "NSI-2026-03-15-001",
    ]
    assert re.fullmatch(r"NSI-\d{4}-\d{2}-\d{2}-\d{3}", first.id)


def test_incident_fields_are_validated(record: Record) -> None:
    with pytest.raises(ValueError, match="severity must be one of P0"):
        record.incidents.open("x", severity="P9")
    incident = record.incidents.open("x")
    with pytest.raises(ValueError, match="phase must be one of"):
        record.incidents.update(incident.id, phase="panic")
    with pytest.raises(UnknownIncident):
        record.incidents.update("NSI-2026-01-01-001", severity="P1")


def test_updates_record_only_what_changed(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("x", severity="P2")
    record.incidents.update(incident.id, severity="P2")  # no change, no entry
    clock.advance(minutes=2)
    updated = record.incidents.update(incident.id, severity="P0", phase="containment", actor="ic")
    entries = record.timeline.for_incident(incident.id)
    assert [e.kind for e in entries] == ["incident.opened", "incident.updated"]
    assert entries[1].data == {"severity": "P0", "phase": "containment"}
    assert entries[1].actor == "ic"
    assert (updated.severity, updated.phase) == ("P0", "containment")


def test_acknowledgement_is_kept_from_the_first_time(record: Record, clock: FrozenClock) -> None:
    incident = record.incidents.open("x", severity="P1")
    clock.advance(minutes=4)
    first = record.incidents.acknowledge(incident.id, actor="ic")
    clock.advance(minutes=10)
    again = record.incidents.acknowledge(incident.id, actor="someone else")
    assert again.acknowledged_at == first.acknowledged_at == datetime(2026, 3, 14, 9, 4, tzinfo=UTC)


def test_intent_without_outcome_is_reported_as_unfinished(record: Record) -> None:
    incident = record.incidents.open("x")
    crashed = record.actions.intent(incident.id, "isolate", "orchestrator")
    done = record.actions.intent(incident.id, "block-ip", "203.0.113.66/32")
    record.actions.outcome(done, "succeeded", "added to except list")
    assert [a.action_id for a in record.actions.unfinished(incident.id)] == [crashed]


def test_record_uses_wal_and_a_busy_timeout(record: Record) -> None:
    assert record.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert record.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_opening_an_older_file_upgrades_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute(
        "INSERT INTO incidents "
        "(id, title, severity, status, phase, opened_at, drill, false_positive) VALUES "
        "('NSI-2025-01-02-001', 'old', 'P1', 'closed', 'lessons-learned', "
        "'2025-01-02T00:00:00+00:00', 0, 0)"
    )
    conn.close()
    with Record.open(path) as record:
        assert schema_version(record.conn) == SCHEMA_VERSION
        old = record.incidents.get("NSI-2025-01-02-001")
        assert old is not None
        assert old.data_breach is False
        assert record.outbox.items() == []


def test_a_newer_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Record.open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(RuntimeError, match="newer warroom"):
        Record.open(path)


WRITER = textwrap.dedent(
    """
    import sys
    from store import Record
    record = Record.open(sys.argv[1])
    incident = sys.argv[2]
    for n in range(int(sys.argv[3])):
        record.timeline.add(incident, "note", f"{sys.argv[4]} {n}")
    print("done")
    """
)


def test_two_processes_writing_at_once_never_fail(record: Record, record_path: Path) -> None:
    incident = record.incidents.open("x").id
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(record_path), incident, "300", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    results = [writer.communicate(timeout=120) for writer in writers]
    for writer, (_out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err
    assert record.timeline.count(incident) == 601
    assert verify_chain(record.conn).ok


NOTE_AND_CLOSE = textwrap.dedent(
    """
    import sys
    from store import Record
    with Record.open(sys.argv[1]) as record:
        record.timeline.add(sys.argv[2], "note", sys.argv[3])
    """
)


def test_a_second_connection_keeps_the_first_ones_commits_visible_to_other_processes(
    record: Record, record_path: Path
) -> None:
    """A console opens the record more than once (its linker, its sources); opening it must
    not drop the locks the first connection holds, or a `warroom act` that closes next
    deletes the WAL under the console, and what the console commits after is lost to
    every other process."""
    incident = record.incidents.open("x").id
    with Record.open(record_path):  # the second connection, in this process
        def note_from_another_process(text: str) -> None:
            subprocess.run([sys.executable, "-c", NOTE_AND_CLOSE, str(record_path), incident,
                            text], check=True, timeout=60)

        note_from_another_process("from act")
        record.timeline.add(incident, "note", "from the console, after")
        note_from_another_process("from act, later")
    seen = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom store import Record\n"
         "with Record.open(sys.argv[1], readonly=True) as r:\n"
         "    print([e.summary for e in r.timeline.for_incident(sys.argv[2])])",
         str(record_path), incident], capture_output=True, text=True, check=True, timeout=60)
    assert "from the console, after" in seen.stdout
    assert verify_chain(record.conn).ok


@pytest.mark.parametrize("package", ["store", "actions"])
def test_back_end_layers_never_import_textual(package: str) -> None:
    # Rich itself may arrive through httpx (its optional CLI); our own code never imports it.
    code = (
        f"import importlib, pkgutil, sys, {package}\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] == 'textual')\n"
        "assert not bad, bad\n"
        f"if '{package}' == 'store':\n"
        "    assert 'kubernetes' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("package", ["store", "actions"])
def test_back_end_sources_never_mention_rich(package: str) -> None:
    root = Path(__file__).resolve().parents[1] / package
    offenders = [
        str(path.relative_to(root.parent))
        for path in root.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+(rich|textual)\b", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_readonly_open_takes_any_path(tmp_path: Path) -> None:
    path = tmp_path / "odd ?#% name.db"
    with Record.open(path) as record:
        record.incidents.open("x")
    with Record.open(path, readonly=True) as readonly:
        assert [i.title for i in readonly.incidents.list()] == ["x"]


def test_close_waits_for_a_write_under_way_on_another_thread(record_path: Path) -> None:
    """Closing under a write crashed sqlite3 (a source's writer thread as the console quit)."""
    record = Record.open(record_path)
    incident = record.incidents.open("Closing while writing", severity="P3")
    writing, may_finish = threading.Event(), threading.Event()

    def write() -> None:
        with record.write() as txn:
            record.timeline.add_in(txn, incident.id, "note", "written while closing", actor="ic")
            writing.set()
            may_finish.wait(10)

    writer = threading.Thread(target=write)
    writer.start()
    assert writing.wait(10)
    closer = threading.Thread(target=record.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # waiting for the write, not closing under it
    may_finish.set()
    writer.join(10)
    closer.join(10)
    assert not closer.is_alive()
    with Record.open(record_path) as reopened:
        assert reopened.timeline.for_incident(incident.id)[-1].summary == "written while closing"
        assert verify_chain(reopened.conn).ok
