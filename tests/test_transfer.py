"""Export one incident to its own SQLite file and import it elsewhere, audit chains intact."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store import Record, UnknownIncident, verify_chain
from store.report.render import render_report
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


def rows_of(conn: sqlite3.Connection, table: str, incident_id: str) -> list[tuple[Any, ...]]:
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


# ----- issue 15: an export that verifies is held to what the live path writes -------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"detected_at": "not-a-date"}, "detected_at 'not-a-date' is not an ISO 8601 time"),
        ({"severity": "P9"}, "severity 'P9' is not one of P0, P1, P2, P3"),
        ({"status": "pwned"}, "status 'pwned' is not one of"),
        ({"detected_at": "9999-12-31T23:59:59+00:00"}, "outside the years"),
        ({"drill": "yes"}, "drill 'yes' is not 0 or 1"),
    ],
)
def test_a_crafted_export_that_verifies_is_refused_whole_and_the_record_stays_usable(
    record: Record,
    two_incidents: tuple[str, str],
    tmp_path: Path,
    clock: FrozenClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, object],
    words: str,
) -> None:
    from tests.record_tamper import edit_opened
    from tui.cli.main import main

    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    edit_opened(out, **changes)
    with Record.open(out) as crafted:
        problem = verify_chain(crafted.conn).problem
        assert problem is not None
        assert problem.table == "incidents"  # verify names it too
    target = tmp_path / "other.db"
    monkeypatch.setenv("WARROOM_DB", str(target))
    Record.open(target, clock=clock).close()
    assert main(["import", str(out)]) == 1
    err = capsys.readouterr().err
    assert words in err
    assert "nothing imported" in err
    for command in (["incidents"], ["metrics"], ["incidents", "--json"]):
        assert main(command) == 0
    capsys.readouterr()
    with Record.open(target) as other:
        assert other.incidents.list() == []
        assert verify_chain(other.conn).ok


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (
            # A table replaced by a view that makes rows out of nothing, at CPU's expense.
            "ALTER TABLE decisions RENAME TO decisions_kept; CREATE VIEW decisions AS "
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 50000000) "
            "SELECT i AS id, i AS seq, '' AS prev_hash, '' AS hash, NULL AS incident_id, "
            "'x' AS decision, NULL AS rationale, NULL AS rule_to_tune, NULL AS actor, "
            "'' AS at, NULL AS data FROM n",
            "a view that warroom never makes",
        ),
        (
            "CREATE TRIGGER t AFTER INSERT ON timeline BEGIN SELECT 1; END",
            "a trigger that warroom never makes",
        ),
        ("CREATE TABLE extra (x)", "a table that warroom schema"),
    ],
)
def test_views_triggers_and_unknown_tables_in_an_export_are_refused_before_reading_it(
    record: Record,
    two_incidents: tuple[str, str],
    tmp_path: Path,
    clock: FrozenClock,
    statement: str,
    words: str,
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    conn = sqlite3.connect(out)
    conn.executescript(statement)
    conn.close()
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        before = other.head()
        with pytest.raises(TransferError, match=f"{words}.*nothing imported"):
            import_incident(other, out)
        assert other.head() == before


def test_reading_a_hostile_export_costs_cpu_in_proportion_to_its_size(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import store.transfer

    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    # A budget too small for even an honest file: the import is stopped, not run to its end.
    monkeypatch.setattr(store.transfer, "BASE_STEPS", 0)
    monkeypatch.setattr(store.transfer, "STEPS_PER_BYTE", 0)
    monkeypatch.setattr(store.transfer, "_STEPS_PER_CHECK", 100)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        with pytest.raises(TransferError, match="costs far more than a file of its size"):
            import_incident(other, out)
        assert other.incidents.list() == []


def test_an_id_taken_by_another_incident_is_imported_under_a_new_id_with_an_alias(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        clock.advance(seconds=1)
        theirs = other.incidents.open("Something else entirely", severity="P3")
        assert theirs.id == first  # the same day's first incident: the same ID
        result = import_incident(other, out)
        assert result.original_id == first
        assert result.incident_id == first[:-3] + "002"
        assert other.incidents.get_required(first).title == "Something else entirely"
        imported = other.incidents.get_required(result.incident_id)
        assert imported.title == "DNS tunnel"
        assert imported.severity == "P0"
        entry = other.timeline.for_incident(result.incident_id)[-1]
        assert entry.kind == "incident.imported"
        assert entry.data["original_id"] == first
        assert other.alerts.count(result.incident_id) == 5
        assert verify_chain(other.conn).ok
        # The same incident again, under either ID, is refused.
        with pytest.raises(TransferError, match=f"already in .*as {result.incident_id}"):
            import_incident(other, out)


def test_imported_notifications_never_hold_back_the_records_own_siem_feed(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path, clock: FrozenClock
) -> None:
    first, _ = two_incidents
    for seq in (5000, 5001):  # a source whose SIEM feed had gone far
        record.outbox.enqueue(first, "siem-hec", "record-entry", f"siem-hec:entry:{seq}", {})
    out = exported(record, first, tmp_path)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        import_incident(other, out)
        keys = [i.dedup_key for i in other.outbox.items()]
        assert all(key.startswith("imported:") for key in keys)
        assert other.outbox.items(status="queued") == []
        assert verify_chain(other.conn).ok
        # Marking a copy to be sent from here is found.
        other.conn.execute("UPDATE outbox_state SET status = 'queued' WHERE status = 'failed'")
        problem = verify_chain(other.conn).problem
        assert problem is not None
        assert "imported copy" in problem.problem


def test_provenance_against_an_older_copy_of_the_source_names_the_missing_head(
    record: Record, two_incidents: tuple[str, str], tmp_path: Path
) -> None:
    """The source may be a copy from before alert links were chained (schema 2) that ends
    before the head the export names: said as a difference, with the copy's own tables."""
    from store.schema import CHAINED_SINCE, chained_tables

    first, _ = two_incidents
    out = exported(record, first, tmp_path)
    head_seq = record.head()[0]
    older = tmp_path / "older-copy.db"
    with sqlite3.connect(older) as copy:
        record.conn.backup(copy)
    with sqlite3.connect(older) as copy:
        for table in CHAINED_SINCE:
            copy.execute(f"DROP TABLE {table}")
        copy.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        for table in chained_tables(2):
            copy.execute(f"DELETE FROM {table} WHERE seq = ?", (head_seq,))
    problems = check_provenance(connect_readonly(out), connect_readonly(older))
    assert f"the source's entry {head_seq} is not the head the export names" in problems
