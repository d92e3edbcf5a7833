"""Export one incident to its own SQLite file and import it elsewhere, audit chains intact."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from store import Record, UnknownIncident, verify_chain
from store.report import render_report
from store.transfer import (
    ORIGIN_TABLE,
    TransferError,
    check_provenance,
    connect_readonly,
    export_incident,
    import_incident,
)
from tests.plugins.record import FrozenClock


@pytest.fixture
def two_incidents(record: Record, clock: FrozenClock) -> tuple[str, str]:
    """Two interleaved incidents, so the export must pick one out of a shared chain."""
    first = record.incidents.open("DNS tunnel", severity="P0", category="exfiltration")
    second = record.incidents.open("Port scan", severity="P3", drill=True)
    for n in range(5):
        record.alerts.add_batch(
            [
                {
                    "incident_id": incident,
                    "dedupe_key": f"{incident}-{n}",
                    "time": "2026-03-14T09:00:00Z",
                    "time_ns": 1_773_478_800_000_000_000 + n,
                    "rule": "Outbound DNS",
                    "priority": "Critical",
                    "output": "x",
                    "output_fields": json.dumps({"k8s.pod.name": f"pod-{n}"}),
                }
                for incident in (first.id, second.id)
            ]
        )
    clock.advance(minutes=2)
    record.incidents.acknowledge(first.id, actor="alice")
    action = record.actions.intent(first.id, "isolate", "payment", actor="alice")
    record.actions.outcome(action, "succeeded", "applied")
    record.evidence.add(first.id, "pod.log", b"\x00binary\xffcontent")
    record.decisions.add(first.id, "active-attack", rationale="TXT bursts")
    record.checklist.tick(first.id, "containment", "Isolate affected pods", actor="alice")
    record.outbox.enqueue(first.id, "slack", "opened", "first-opened", {"text": "P0 opened"})
    record.outbox.enqueue(first.id, "pagerduty", "opened", "first-paged", {"text": "P0"})
    record.outbox.mark_delivered(1)
    record.timeline.add(second.id, "note", "unrelated")
    clock.advance(minutes=10)
    record.incidents.update(first.id, contained_at=clock.now, status="contained")
    return first.id, second.id


def rows_of(conn: sqlite3.Connection, table: str, incident_id: str) -> list[tuple]:
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    content = [c for c in columns if c not in ("id", "seq", "prev_hash", "hash")]
    return conn.execute(
        f"SELECT {', '.join(content)} FROM {table} WHERE incident_id = ? ORDER BY seq",
        (incident_id,),
    ).fetchall()



def exported(record: Record, incident_id: str, folder: Path) -> Path:
    """`incident_id` exported to a new file in `folder`."""
    out = folder / "first.db"
    export_incident(record, incident_id, out)
    return out


def tamper_with(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql, params)

def test_export_holds_exactly_the_incident_and_verifies_on_its_own(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path
) -> None:
    first, second = two_incidents
    out = tmp_path / "first.db"
    result = export_incident(record, first, out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("first")) == ["first.db"]

    export = connect_readonly(out)
    verified = verify_chain(export)
    assert verified.ok, verified.problem
    assert (verified.entries, verified.head_hash) == (result.head_entries, result.head_hash)
    for table in ("alerts", "timeline", "actions", "evidence", "checklist", "decisions", "outbox"):
        source_rows = rows_of(record.conn, table, first)
        exported = rows_of(export, table, first)
        if table == "timeline":
            assert exported[-1][2] == "incident.exported"
            exported = exported[:-1]
        assert exported == source_rows, table
        assert rows_of(export, table, second) == []
    assert export.execute("SELECT id FROM incidents").fetchall() == [(first,)]
    # Provenance: the source head, the original seq of each entry, and a check against the source.
    source_entries, source_hash = record.head()
    meta = dict(export.execute("SELECT key, value FROM meta WHERE key LIKE 'export.%'").fetchall())
    assert meta["export.source_head"] == f"{source_entries}:{source_hash}"
    assert meta["export.incident_id"] == first
    original = [r[0] for r in export.execute(f"SELECT source_seq FROM {ORIGIN_TABLE} ORDER BY seq")]
    in_source = [
        r[0]
        for table in (
            "alerts",
            "timeline",
            "actions",
            "evidence",
            "checklist",
            "decisions",
            "outbox",
        )
        for r in record.conn.execute(f"SELECT seq FROM {table} WHERE incident_id = ?", (first,))
    ]
    assert original == sorted(in_source)
    assert check_provenance(export, record.conn) == []
    # Notifications never leave a copy queued.
    states = export.execute("SELECT status FROM outbox_state ORDER BY outbox_id").fetchall()
    assert states == [("delivered",), ("failed",)]


def test_import_into_another_record_verifies_and_keeps_the_incident(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        clock.advance(days=1)  # IDs count per day and record: the next day's 001 cannot clash
        mine = other.incidents.open("already here", severity="P2")
        result = import_incident(other, out)
        assert result.incident_id == first
        verified = verify_chain(other.conn)
        assert verified.ok, verified.problem
        assert other.incidents.get(first) == record.incidents.get(first)
        assert other.incidents.get(mine.id) is not None
        assert rows_of(other.conn, "alerts", first) == rows_of(record.conn, "alerts", first)
        assert (
            other.evidence.content(other.evidence.for_incident(first)[0].id)
            == b"\x00binary\xffcontent"
        )
        kinds = [e.kind for e in other.timeline.for_incident(first)]
        assert kinds[-2:] == ["incident.exported", "incident.imported"]
        assert other.outbox.items(status="queued") == []
        report = render_report(other, first)
        assert "isolate payment by alice: succeeded" in report


def test_import_refuses_an_incident_id_already_in_the_record(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    before = record.head()
    with pytest.raises(TransferError, match=f"incident {first} is already in"):
        import_incident(record, out)
    assert record.head() == before


def test_import_refuses_alerts_already_recorded_there(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        other.alerts.add_batch(
            [{"dedupe_key": f"{first}-3", "time": "t", "rule": "r", "priority": "p", "output": "o"}]
        )
        before = other.head()
        with pytest.raises(TransferError, match=f"alerts entry '{first}-3'"):
            import_incident(other, out)
        assert other.head() == before
        assert other.incidents.get(first) is None


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE timeline SET summary = 'nothing happened' WHERE kind = 'incident.opened'",
        "DELETE FROM alerts WHERE id = (SELECT max(id) FROM alerts)",
        "UPDATE incidents SET severity = 'P3'",
        "UPDATE evidence SET content = x'00'",
        "UPDATE export_origin SET source_seq = source_seq + 1 WHERE seq = 1",
        "UPDATE actions SET status = 'succeeded' WHERE entry = 'intent'",
    ],
)
def test_a_tampered_export_is_refused(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock, tamper: str
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    tamper_with(out, tamper)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        before = other.head()
        with pytest.raises(TransferError, match="nothing imported|changed after export"):
            import_incident(other, out)
        assert other.head() == before
        assert other.incidents.get(first) is None


def test_export_refuses_an_existing_file_and_an_unknown_incident(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path
) -> None:
    first, _ = two_incidents
    existing = tmp_path / "taken.db"
    existing.write_bytes(b"keep me")
    with pytest.raises(TransferError, match="already exists"):
        export_incident(record, first, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(UnknownIncident):
        export_incident(record, "NSI-1999-01-01-001", tmp_path / "x.db")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_import_of_something_that_is_not_an_export_says_so(
    record: Record, tmp_path: Path, content: bytes
) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(content)
    with pytest.raises(TransferError, match="not a warroom export|schema 0"):
        import_incident(record, bogus)
    with pytest.raises(TransferError, match="no such file"):
        import_incident(record, tmp_path / "missing.db")


def test_a_whole_record_is_not_an_export(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        with pytest.raises(TransferError, match="not a warroom export"):
            import_incident(other, record.path)


def test_provenance_check_finds_an_export_that_does_not_match_its_source(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    # A different record that happens to use the same IDs is not the source.
    clock.advance(minutes=1)
    with Record.open(tmp_path / "impostor.db", clock=clock) as impostor:
        impostor.incidents.open("DNS tunnel", severity="P0")
        problems = check_provenance(connect_readonly(out), impostor.conn)
    assert problems
    assert problems[0].startswith("the source's entry") or "differs from source" in problems[0]


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        ("UPDATE alerts SET output = 'benign' WHERE id = 3", "content does not match its hash"),
        ("DELETE FROM timeline WHERE id = 2", "missing"),
        ("UPDATE timeline SET prev_hash = hash WHERE id = 2", "does not link"),
        ("UPDATE incidents SET severity = 'P3'", "severity is 'P3'"),
    ],
)
def test_a_refused_import_names_what_does_not_hold_and_writes_nothing(
    record: Record,
    two_incidents: tuple[str, str],
    tmp_path: Path,
    clock: FrozenClock,
    tamper: str,
    words: str,
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    tamper_with(out, tamper)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        clock.advance(days=1)  # another day's incident: another ID
        other.incidents.open("Already here", severity="P2")
        before = other.head()
        with pytest.raises(TransferError, match=f"does not verify .*{words}.*nothing imported"):
            import_incident(other, out)
        assert other.head() == before
        assert other.incidents.get(first) is None
        assert other.alerts.count() == 0
        assert verify_chain(other.conn).ok


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", ""])
def test_export_facts_that_are_not_facts_are_refused_in_words(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock, data: str
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    tamper_with(out, "UPDATE timeline SET data = ? WHERE kind = 'incident.exported'", data)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        with pytest.raises(TransferError, match="nothing imported"):
            import_incident(other, out)
        assert other.incidents.get(first) is None


def test_an_imported_incident_verifies_and_reviews_like_the_original(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        clock.advance(days=1)  # another day's incident: another ID
        other.incidents.open("Already here", severity="P2")
        result = import_incident(other, out)
        verified = verify_chain(other.conn)
        assert verified.ok, verified.problem
        assert (result.head_entries, result.head_hash) == (verified.entries, verified.head_hash)
        # (outbox rows come over too, with a delivery state that never sends them again)
        for table in ("alerts", "timeline", "actions", "evidence", "decisions", "checklist"):
            theirs = rows_of(other.conn, table, first)
            mine = rows_of(record.conn, table, first)
            if table == "timeline":
                theirs = [
                    r for r in theirs if r[2] not in ("incident.exported", "incident.imported")
                ]
            assert theirs == mine, table
