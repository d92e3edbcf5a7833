"""The audit chain finds every edit, deletion, insertion and reordering made behind its back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import Record, verify_chain
from store.schema import SCHEMA_VERSION
from store.verify import ChainWalk, VerifyResult


def _populate(record: Record) -> str:
    incident = record.incidents.open("Outbound connection to 203.0.113.66", severity="P1")
    record.clock.advance(minutes=3)  # type: ignore[attr-defined]
    record.incidents.acknowledge(incident.id, actor="ic")
    action_id = record.actions.intent(
        incident.id, "isolate", "orchestrator", params={"ns": "voicehive"}
    )
    record.actions.outcome(action_id, "succeeded", "emergency-isolation-1 created")
    record.evidence.add(incident.id, "events.yaml", b"kind: EventList\n")
    record.decisions.add(incident.id, "active-attack", rationale="beaconing")
    record.checklist.tick(incident.id, "detection", "Acknowledge the alert", actor="ic")
    record.timeline.add(incident.id, "note", "pod restarted by its owner", actor="ic")
    return incident.id


def _verify(path: Path) -> VerifyResult:
    with Record.open(path) as record:
        return verify_chain(record.conn)


@pytest.fixture
def populated(record: Record, record_path: Path) -> Path:
    _populate(record)
    record.close()
    assert _verify(record_path).ok
    return record_path


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def test_intact_record_verifies_and_counts_entries(populated: Path) -> None:
    result = _verify(populated)
    assert result.ok
    assert result.entries == 12
    assert result.problem is None


def test_edited_row_is_named(populated: Path) -> None:
    _tamper(populated, "UPDATE actions SET status = 'failed' WHERE entry = 'outcome'")
    result = _verify(populated)
    assert result.problem is not None
    assert not result.ok
    assert result.problem.table == "actions"
    assert "edited" in result.problem.problem


def test_edited_evidence_content_is_found(populated: Path) -> None:
    _tamper(populated, "UPDATE evidence SET content = X'00'")
    result = _verify(populated)
    assert result.problem is not None
    assert (result.problem.table, "edited" in result.problem.problem) == ("evidence", True)


def test_deleted_row_is_found(populated: Path) -> None:
    _tamper(populated, "DELETE FROM decisions")
    result = _verify(populated)
    assert result.problem is not None
    assert not result.ok
    assert "missing" in result.problem.problem


def test_deleted_last_entry_is_found(populated: Path) -> None:
    _tamper(populated, "DELETE FROM timeline WHERE seq = (SELECT max(seq) FROM timeline)")
    result = _verify(populated)
    assert result.problem is not None
    assert not result.ok
    assert result.problem.table == "meta"


def test_inserted_row_is_found(populated: Path) -> None:
    conn = sqlite3.connect(populated)
    with conn:
        seq, prev, digest = conn.execute(
            "SELECT seq, prev_hash, hash FROM timeline ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        conn.execute("UPDATE timeline SET seq = seq + 1 WHERE seq = ?", (seq,))
        conn.execute(
            "INSERT INTO timeline (seq, prev_hash, hash, incident_id, at, kind, summary) "
            "VALUES (?, ?, ?, NULL, '2026-03-14T09:00:00+00:00', 'note', 'all clear')",
            (seq, prev, digest),
        )
    conn.close()
    result = _verify(populated)
    assert result.problem is not None
    assert not result.ok
    assert result.problem.table == "timeline"


def test_reordered_rows_are_found(populated: Path) -> None:
    _tamper(
        populated,
        # Swap the positions of the first two timeline entries.
        "UPDATE timeline SET seq = -seq WHERE seq IN "
        "(SELECT seq FROM timeline ORDER BY seq LIMIT 2)",
        "UPDATE timeline SET seq = (SELECT max(-seq) FROM timeline WHERE seq < 0) "
        "+ (SELECT min(-seq) FROM timeline WHERE seq < 0) + seq WHERE seq < 0",
    )
    result = _verify(populated)
    assert result.problem is not None
    assert not result.ok
    assert "link" in result.problem.problem or "edited" in result.problem.problem


def test_edited_incident_times_are_found(populated: Path) -> None:
    # Moving the acknowledgement earlier would fake a better MTTD.
    _tamper(populated, "UPDATE incidents SET acknowledged_at = detected_at")
    result = _verify(populated)
    assert result.problem is not None
    assert not result.ok
    assert result.problem.table == "incidents"
    assert "acknowledged_at" in result.problem.problem


def test_deleted_incident_is_found(populated: Path) -> None:
    _tamper(populated, "DELETE FROM incidents")
    result = _verify(populated)
    assert result.problem is not None
    assert result.problem.table == "incidents"
    assert "deleted" in result.problem.problem


def test_inserted_incident_is_found(populated: Path) -> None:
    _tamper(
        populated,
        "INSERT INTO incidents (id, title, severity, status, phase, opened_at) "
        "VALUES ('NSI-2026-03-14-099', 'x', 'P3', 'closed', 'detection', "
        "'2026-03-14T09:00:00+00:00')",
    )
    result = _verify(populated)
    assert result.problem is not None
    assert (result.problem.table, result.problem.row_id) == ("incidents", "NSI-2026-03-14-099")


def test_null_values_are_not_part_of_old_hashes(record: Record) -> None:
    # Migrations may add nullable columns; existing entries must keep verifying.
    _populate(record)
    record.conn.execute("ALTER TABLE timeline ADD COLUMN later_column TEXT")
    walk = ChainWalk(record.conn, SCHEMA_VERSION)
    assert len(list(walk)) == 12
    assert walk.problem is None
    # ... while this version's verify names the column it does not make.
    result = verify_chain(record.conn)
    assert result.problem is not None
    assert (result.problem.table, result.problem.row_id) == ("schema", "timeline")


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (None, None),
        ("UPDATE actions SET status = 'failed' WHERE entry = 'outcome'", "edited"),
        ("DELETE FROM checklist", "missing"),
        ("UPDATE timeline SET prev_hash = hash WHERE id = 2", "link"),
    ],
)
def test_a_long_chain_walked_in_parallel_finds_what_one_walk_finds(
    populated: Path, monkeypatch: pytest.MonkeyPatch, statement: str | None, words: str | None
) -> None:
    import store.chain_walk

    monkeypatch.setattr(store.chain_walk, "PARALLEL_MIN_ENTRIES", 1)  # every record is "long"
    if statement:
        _tamper(populated, statement)
    with Record.open(populated) as record:
        result = verify_chain(record.conn)
        one_walk = ChainWalk(record.conn, SCHEMA_VERSION, contents=False).check()
    assert result.ok == (statement is None)
    assert (result.entries, result.head_hash) == (one_walk.entries, one_walk.head_hash)
    if words:
        assert result.problem is not None
        assert words in result.problem.problem
