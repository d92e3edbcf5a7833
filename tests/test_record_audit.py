"""The findings of the 2026-12-07 adversarial test of the record, each as a test (issue 15).

What `verify` must find beyond the chain, what it proves only with an anchor
kept elsewhere, and the clear messages where there were tracebacks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store import Record, chain, verify_chain
from store.schema import SCHEMA_VERSION, migrate
from store.verify import Anchor
from tests.plugins.record import FrozenClock
from tests.record_tamper import rechain, reproject_incidents
from tui.cli.main import main

FALCO = (
    '{"hostname":"node-1","output":"%s","priority":"Warning","rule":"Terminal shell",'
    '"source":"syscall","tags":["shell"],"time":"%s","output_fields":{"evt.time":%d}}'
)


def falco(output: str, time: str = "2026-03-14T09:12:01.004518233Z", evt: int = 1) -> str:
    return FALCO % (output, time, evt)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def populated(record: Record) -> str:
    incident = record.incidents.open("Outbound connection to 203.0.113.66", severity="P1")
    record.evidence.add(incident.id, "events.yaml", b"kind: EventList\n")
    raw = b"garbage\xff"
    record.alerts.add_batch([], [{
        "received_at": record.now(), "origin": "falco", "line_no": 3, "reason": "not JSON",
        "raw": raw, "raw_size": len(raw), "raw_sha256": hashlib.sha256(raw).hexdigest(),
    }])  # fmt: skip
    record.outbox.enqueue(incident.id, "pagerduty", "opened", "page-1", {"text": "P1 opened"})
    record.timeline.add(incident.id, "note", "pod restarted by its owner", actor="ic")
    return incident.id


def tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def verify(path: Path, *anchors: str) -> Any:
    with Record.open(path) as record:
        return verify_chain(record.conn, [Anchor.parse(a) for a in anchors])


# ----- finding 1: one odd line loses a whole file ----------------------------------------------


def test_a_time_beyond_64_bit_nanoseconds_loses_nothing(
    record_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        falco("before"),
        falco("year 9999", "9999-12-31T23:59:59.999999999Z", 1741944600000000000),
        falco("epoch", "1970-01-01T00:00:00.000000000Z", 1741944600000000000),
        falco("huge field", evt=10**30),
        falco("after"),
    ]
    source = tmp_path / "falco.jsonl"
    source.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "ingest", str(source), "--json")
    assert code == 0, err
    assert json.loads(out)["accepted"] == 5
    with Record.open(record_path) as record:
        rows = {r["output"]: r for r in record.query("SELECT output, time, time_ns FROM alerts")}
        assert rows["year 9999"]["time"] == "9999-12-31T23:59:59.999999999Z"  # kept as written
        assert rows["year 9999"]["time_ns"] is None  # no 64-bit count of nanoseconds for it
        assert rows["epoch"]["time_ns"] == 0
        assert verify_chain(record.conn).ok


def test_an_integer_beyond_sqlite_is_kept_as_text_and_hashed_as_the_integer(
    record: Record, tmp_path: Path, clock: FrozenClock
) -> None:
    incident = record.incidents.open("x", severity="P3")
    big = 253_402_300_799 * 10**9  # year 9999 in nanoseconds: beyond SQLite's INTEGER
    alert = {"incident_id": incident.id, "dedupe_key": "k", "time": "9999-12-31T23:59:59Z",
             "time_ns": big, "rule": "r", "priority": "Warning", "output": "o"}  # fmt: skip
    record.alerts.add_batch([alert])
    assert record.query("SELECT time_ns FROM alerts")[0][0] == f"bigint:{big}"
    assert verify_chain(record.conn).ok
    from store.transfer import export_incident, import_incident

    out = tmp_path / "x.db"
    export_incident(record, incident.id, out)
    with Record.open(tmp_path / "other.db", clock=clock) as other:
        import_incident(other, out)
        assert verify_chain(other.conn).ok
        assert other.query("SELECT time_ns FROM alerts")[0][0] == f"bigint:{big}"


# ----- finding 3: evidence can be wiped unseen -------------------------------------------------


def test_a_blob_and_the_text_of_its_digest_hash_apart() -> None:
    data = b"captured pod log"
    text = "sha256:" + hashlib.sha256(data).hexdigest()
    assert chain.content_hash("evidence", {"content": data}) != chain.content_hash(
        "evidence", {"content": text}
    )


@pytest.mark.parametrize(("table", "column"), [("evidence", "content"), ("rejected_inputs", "raw")])
def test_content_replaced_by_the_text_of_its_digest_is_found(
    record: Record, record_path: Path, table: str, column: str
) -> None:
    populated(record)
    record.close()
    tamper(record_path, f"UPDATE {table} SET {column} = 'sha256:' || lower(hex({column}))")
    problem = verify(record_path).problem
    assert (problem.table, "edited" in problem.problem) == (table, True)


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("evidence", "UPDATE evidence SET content = 'sha256:' || sha256"),
        ("evidence", "UPDATE evidence SET content = x'00'"),
        ("rejected_inputs", "UPDATE rejected_inputs SET raw = 'sha256:' || raw_sha256"),
    ],
)
def test_content_that_does_not_match_its_own_digest_is_found_in_an_older_record(
    tmp_path: Path, clock: FrozenClock, table: str, statement: str
) -> None:
    """A record written before schema 4 hashed a BLOB as the text of its digest: the
    content checks find what the chain there cannot."""
    path = tmp_path / "old.db"
    with Record.open(path, clock=clock) as record:
        populated(record)
    tamper(path, "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
           "DROP INDEX idx_rejected_inputs_raw_sha256")  # fmt: skip
    rechain(path, typed_blobs=False)  # as schema 3 wrote it
    with Record.open(path) as record:  # upgrading marks where the old form ends
        assert verify_chain(record.conn).ok
        upgraded = record.query("SELECT kind FROM timeline ORDER BY seq DESC LIMIT 1")[0][0]
        assert upgraded == "record.upgraded"
    tamper(path, statement)
    rechain_legacy_until_upgrade(path)
    problem = verify(path).problem
    assert problem is not None
    assert problem.table == table
    assert "replaced" in problem.problem or "BLOB" in problem.problem


def rechain_legacy_until_upgrade(path: Path) -> None:
    """An attacker who knows the old form: entries before the upgrade hashed as schema 3 did."""
    conn = sqlite3.connect(path)
    (boundary,) = conn.execute("SELECT seq FROM timeline WHERE kind = 'record.upgraded'").fetchone()
    conn.close()
    rechain(path, typed_blobs=False)
    # Entries from the upgrade on use the typed form; recompute those links as verify does.
    conn = sqlite3.connect(path, isolation_level=None)
    import heapq

    from store.schema import CHAINED_TABLES, from_stored

    streams = [conn.execute(f"SELECT seq, '{t}', * FROM {t} ORDER BY seq") for t in CHAINED_TABLES]
    prev = chain.GENESIS
    for row in heapq.merge(*streams, key=lambda r: r[0]):
        seq, table = row[0], row[1]
        names = [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
        stored = dict(zip(names, row[2:], strict=True))
        columns = tuple(CHAINED_TABLES[table])
        values = from_stored(table, tuple(stored[c] for c in columns))
        content_sha = chain.content_hash(
            table, dict(zip(columns, values, strict=True)), typed_blobs=seq >= boundary
        )
        digest = chain.link_hash(prev, seq, content_sha)
        conn.execute(
            f"UPDATE {table} SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq)
        )
        prev = digest
    conn.execute("UPDATE meta SET value = (SELECT max(seq) FROM timeline) || ':' || ? "
                 "WHERE key = 'chain_head'", (prev,))  # fmt: skip
    conn.close()


# ----- finding 4: truncation, forged appends and rollbacks, against an anchor ------------------


def test_deleting_the_newest_entries_is_found_against_an_anchor(
    record: Record, record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = populated(record)
    record.incidents.update(incident_id, severity="P0", actor="ic")
    anchor = "{}:{}".format(*record.head())
    record.close()
    # Delete the last entries, point the head at what is left, reset the incident row.
    tamper(record_path, "DELETE FROM timeline WHERE kind = 'incident.updated'")
    rechain(record_path)
    reproject_incidents(record_path)
    assert verify(record_path).ok  # the file alone cannot tell: said so in the README
    code, _out, err = run(capsys, "verify", "--anchor", anchor)
    assert code == 1
    assert "truncated or rolled back" in err or "rewritten" in err


def test_a_rolled_back_file_and_forged_appends_are_found_against_an_anchor(
    record: Record, record_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = populated(record)
    backup = tmp_path / "backup.db"
    record.conn.execute(f"VACUUM INTO '{backup}'")
    record.actions.intent(incident_id, "isolate", "payment", actor="ic")
    anchor = "{}:{}".format(*record.head())
    record.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{record_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, record_path)  # the whole file rolled back
    with Record.open(record_path) as rolled:
        assert verify_chain(rolled.conn).ok
        code, _out, err = run(capsys, "verify", "--anchor", anchor)
        assert code == 1
        assert "truncated or rolled back" in err
        # ... and appends forged after the rollback do not bring the anchored entry back.
        rolled.timeline.add(incident_id, "note", "nothing to see")
        rolled.timeline.add(incident_id, "note", "all clear")
    code, _out, err = run(capsys, "verify", "--anchor", anchor)
    assert code == 1
    assert "rewritten" in err
    code, out, _err = run(capsys, "verify", "--anchor", anchor, "--json")
    assert code == 1
    assert json.loads(out)["first_problem"]["table"] == "anchor"


def test_an_anchor_the_chain_holds_passes_and_a_bad_one_is_a_usage_error(
    record: Record, capsys: pytest.CaptureFixture[str]
) -> None:
    populated(record)
    middle = record.query("SELECT seq, hash FROM timeline ORDER BY seq LIMIT 1")[0]
    head = "{}:{}".format(*record.head())
    code, out, _err = run(capsys, "verify", "--anchor", f"{middle[0]}:{middle[1]}",
                          "--anchor", head)  # fmt: skip
    assert code == 0
    assert head in out
    code, _out, err = run(capsys, "verify", "--anchor", "12:not-a-hash")
    assert code == 2
    assert "64 hex digits" in err


def test_notifications_quote_the_chain_head(record: Record, tmp_path: Path) -> None:
    from actions.config import load_settings
    from actions.notify import notify_incident_event

    config = tmp_path / "c.toml"
    config.write_text(
        '[alerting.pagerduty]\nrouting_key_env = "PD_KEY"\n'
        '[alerting.slack]\nwebhook_url_env = "SLACK_URL"\n'
    )
    settings = load_settings(config)
    incident = record.incidents.open("x", severity="P0")
    head = "{}:{}".format(*record.head())
    notify_incident_event(record, settings, incident, "opened")
    payloads = {item.channel: json.dumps(item.payload) for item in record.outbox.items()}
    assert head in payloads["pagerduty"]
    assert head in payloads["slack"]


# ----- finding 5: state outside the chain; verify writes nothing --------------------------------


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (
            "CREATE TRIGGER quiet AFTER INSERT ON outbox_state BEGIN UPDATE outbox_state "
            "SET status = 'delivered' WHERE outbox_id = new.outbox_id; END",
            "trigger",
        ),
        ("CREATE VIEW v AS SELECT 1", "view"),
        ("UPDATE outbox_state SET status = 'delivered'", "no chained delivery entry"),
        ("UPDATE outbox_state SET status = 'failed'", "no chained entry says why"),
        ("DELETE FROM outbox_state", "no delivery state"),
        ("UPDATE outbox_state SET status = 'lost'", "unknown delivery status"),
        ("DROP INDEX idx_alerts_dedupe_key", "missing"),
        ("ALTER TABLE alerts ADD COLUMN note TEXT", "differs"),
        ("UPDATE alerts SET time_ns = 'soon'", "text, not an integer"),
    ],
)
def test_what_lies_outside_the_chain_is_checked(
    record: Record, record_path: Path, statement: str, words: str
) -> None:
    incident_id = populated(record)
    alert = {"incident_id": incident_id, "dedupe_key": "k", "time": "t", "time_ns": 1,
             "rule": "r", "priority": "p", "output": "o"}  # fmt: skip
    record.alerts.add_batch([alert])
    record.close()
    tamper(record_path, statement)
    result = verify(record_path)
    assert not result.ok
    assert words in result.problem.problem


def test_a_delivery_and_a_give_up_are_chained(record: Record) -> None:
    incident_id = populated(record)
    second = record.outbox.enqueue(incident_id, "slack", "opened", "slack-1", {"text": "x"})
    record.outbox.mark_delivered(1)
    assert second is not None  # queued, not a duplicate
    record.outbox.mark_failed(second, "HTTP 404 no_service", retry_at=None, give_up=True)
    kinds = [e.kind for e in record.timeline.for_incident(incident_id)]
    assert kinds[-2:] == ["notification.delivered", "notification.gave-up"]
    assert verify_chain(record.conn).ok


def test_verify_never_writes_nor_upgrades(
    tmp_path: Path, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=2)
    conn.close()
    before = path.read_bytes()
    code, out, err = run(capsys, "--db", str(path), "verify")
    assert code == 0, err
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()
    code, out, err = run(capsys, "--db", str(tmp_path / "missing.db"), "verify", "--json")
    assert code == 1
    assert "no record" in json.loads(out)["error"]
    assert not (tmp_path / "missing.db").exists()


# ----- finding 10: messages instead of tracebacks ----------------------------------------------


@pytest.mark.parametrize(
    "content", [b"not a database at all" * 300, b"SQLite format 3\x00" + b"\xff" * 2000]
)
def test_verify_of_a_file_that_is_not_a_record_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    code, out, err = run(capsys, "--db", str(path), "verify")
    assert code == 1
    assert "not a warroom record" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, "--db", str(path), "verify", "--json")
    assert code == 1
    assert "not a warroom record" in json.loads(out)["error"]


def test_verify_of_a_folder_or_a_device_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "no record at PATH", as for a missing file, where every other command says
    the path is not a record."""
    for path, what in ((tmp_path, "a folder"), (Path("/dev/null"), "not a regular file")):
        code, _, err = run(capsys, "--db", str(path), "verify")
        assert (code, err.strip()) == (1, f"warroom verify: {path}: not a warroom record ({what})")


UNREACHABLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
ANY_ID = "NSI-2026-03-14-001"


@pytest.mark.parametrize(
    "command",
    [
        ["incidents"],
        ["incidents", "--json"],
        ["incidents", "show", ANY_ID],
        ["incidents", "open", "Beaconing"],
        ["incidents", "ack", ANY_ID],
        ["review"],
        ["notify"],
        ["notify", "--retry", "--json"],
        ["ingest", "{falco}"],
        ["metrics"],
        ["report", ANY_ID],
        ["export", ANY_ID, "-o", "{out}"],
        ["act", "capture", "--dry-run", "--kubeconfig", "{kubeconfig}"],
        ["watch", "--kubeconfig", "{kubeconfig}"],
    ],
)
def test_every_command_refuses_a_file_that_is_not_a_record_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """`--db` at a text file was a traceback ("file is not a database") in every command
    but verify, metrics, report and export: the record's first read came before the
    check that says so. The file is left as it was."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 300)
    notes.chmod(0o644)
    (tmp_path / "falco.jsonl").write_text(falco("shell") + "\n")
    (tmp_path / "kubeconfig").write_text(UNREACHABLE_KUBECONFIG)
    paths = {
        "falco": tmp_path / "falco.jsonl",
        "out": tmp_path / "out.db",
        "kubeconfig": tmp_path / "kubeconfig",
    }
    argv = [part.format(**paths) for part in command]
    code, out, err = run(capsys, "--db", str(notes), *argv)
    assert code == 1, err
    said = json.loads(out)["error"] if "--json" in command else err
    assert f"{notes}: not a warroom record" in said
    assert "Traceback" not in err
    assert notes.read_text() == "not a database at all\n" * 300
    assert notes.stat().st_mode & 0o777 == 0o644  # not made a record's 0600 either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["falco.jsonl", "kubeconfig", "notes.txt"]


@pytest.mark.parametrize(
    "command",
    [["incidents", "open", "Beaconing"], ["ingest", "{falco}"], ["notify"], ["incidents"],
     ["review"]],
)  # fmt: skip
def test_a_folder_named_as_the_record_is_refused_and_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """`--db ~/records` (a folder) was a traceback, and a command that writes made the
    folder 0600 first: its owner could no longer enter it."""
    folder = tmp_path / "records"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (tmp_path / "falco.jsonl").write_text(falco("shell") + "\n")
    argv = [part.format(falco=tmp_path / "falco.jsonl") for part in command]
    code, out, err = run(capsys, "--db", str(folder), *argv)
    assert code == 1, err
    assert f"{folder}" in err
    assert "a folder" in err
    assert folder.stat().st_mode & 0o777 == 0o755
    assert not any(folder.iterdir())


@pytest.mark.parametrize(
    "command", [["verify"], ["incidents"], ["incidents", "--json"], ["metrics"]]
)
def test_a_record_of_a_newer_schema_is_refused_in_words(
    record: Record, record_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    populated(record)
    record.close()
    tamper(
        record_path, f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'"
    )
    code, out, err = run(capsys, *command)
    assert code == 1
    said = json.loads(out)["error"] if "--json" in command else err
    assert "newer warroom" in said
    assert "Traceback" not in err


def test_a_full_disk_during_ingest_says_how_much_was_recorded(
    record_path: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    # Ingest commits a block of about 4 MiB of lines at a time (about 10 MB of record):
    # 12 MB of lines is three commits, and the limit below lets the first through.
    lines = [falco(f"alert {n}", evt=n) for n in range(60_000)]
    source = tmp_path / "falco.jsonl"
    source.write_text("\n".join(lines) + "\n")
    Record.open(record_path).close()
    # The file may grow to this many bytes, no more: SQLite meets "disk full" on the way.
    limit = record_path.stat().st_size + 12 * 1024 * 1024
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from tui.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--db", str(record_path), "ingest", str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "the record holds lines 1-" in done.stderr
    held = int(done.stderr.split("the record holds lines 1-")[1].split()[0])
    with Record.open(record_path, readonly=True) as record:
        assert record.alerts.count() == held
        assert 0 < held < len(lines)
        assert verify_chain(record.conn).ok


# ----- finding 11: re-ingesting records nothing twice ------------------------------------------


def test_reingesting_a_file_records_its_rejected_lines_once(
    record_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mixed.log"
    source.write_text(falco("one") + "\nFalco initialized with configuration file\n{truncated\n")
    first = json.loads(run(capsys, "ingest", str(source), "--json")[1])
    second = json.loads(run(capsys, "ingest", str(source), "--json")[1])
    assert (first["accepted"], first["rejected"]) == (1, 2)
    assert (second["accepted"], second["rejected"], second["rejected_duplicates"]) == (0, 0, 2)
    with Record.open(record_path) as record:
        assert record.alerts.rejected_count() == 2


# ----- finding 7 (record side): private files --------------------------------------------------


def test_the_record_its_companions_exports_and_reports_are_private(
    tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import os

    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "folder" / "record.db"
        monkeypatch.setenv("WARROOM_DB", str(path))
        with Record.open(path, clock=clock) as record:
            incident_id = populated(record)
            for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert file.stat().st_mode & 0o777 == 0o600, file
            assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
            assert (tmp_path / "new" / "folder").stat().st_mode & 0o777 == 0o700
        export = tmp_path / "x.db"
        assert run(capsys, "export", incident_id, "-o", str(export))[0] == 0
        report = tmp_path / "report.md"
        assert run(capsys, "report", incident_id, "-o", str(report))[0] == 0
        for file in (export, report):
            assert file.stat().st_mode & 0o777 == 0o600, file
        # A record made by an older warroom (0644) is made private when opened for writing.
        path.chmod(0o644)
        Record.open(path).close()
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
