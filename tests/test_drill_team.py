"""Team drills: participants with records of their own, scored together from their exports.

Alice and Bob each do part of the right path through `warroom act` against the
facilitator's drill cluster, each into their own record; each exports the drill
incident; the facilitator scores the team from the two files while the drill
runs. A tampered export is refused by the import checks, naming it. And a
team on other machines: `--listen ADDRESS`, tried on a second loopback address.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.drill_process import DrillProcess, warroom


@pytest.fixture
def drill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DrillProcess]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WARROOM_DB", str(tmp_path / "facilitator.db"))
    monkeypatch.setenv("WARROOM_CONFIG", str(tmp_path / "no-config.toml"))
    kubeconfig = tmp_path / "drill" / "kubeconfig"
    with DrillProcess(["drill", "dns-exfiltration", "--serve-only", "--kubeconfig-out",
                       str(kubeconfig)], kubeconfig) as process:
        yield process


def participant(tmp_path: Path, name: str, kubeconfig: Path, *steps: list[str]) -> Path:
    """`name` works from a record of their own, then exports their drill incident."""
    record = tmp_path / f"{name}-record.db"
    for step in steps:
        cluster = ["--kubeconfig", str(kubeconfig)] if step[0] == "act" else []
        done = warroom("--db", str(record), *step, *cluster)
        assert done.returncode == 0, (name, step, done.stderr)
    listed = json.loads(warroom("--db", str(record), "incidents", "--json").stdout)
    (incident,) = listed["incidents"]
    assert incident["drill"] is True  # `act` on the drill cluster opened a drill incident
    export = tmp_path / f"{name}.db"
    exported = warroom("--db", str(record), "export", incident["id"], "-o", str(export))
    assert exported.returncode == 0, exported.stderr
    return export


def lines_by_ref(score: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["ref"]: line for line in score["items"]}


def test_a_team_of_two_is_scored_together_from_their_exports(
    drill: DrillProcess, tmp_path: Path
) -> None:
    alice = participant(tmp_path, "alice", drill.kubeconfig,
                        ["act", "isolate", "orchestrator", "--yes"])
    bob = participant(tmp_path, "bob", drill.kubeconfig,
                      ["act", "block-ip", "203.0.113.66", "--yes"])
    bob_record = str(tmp_path / "bob-record.db")
    # Bob acknowledges after his export: his export is what counts, not his record now.
    (bob_incident,) = json.loads(warroom("--db", bob_record, "incidents", "--json").stdout)[
        "incidents"]
    assert warroom("--db", bob_record, "incidents", "ack", bob_incident["id"]).returncode == 0

    scored = drill.control("score", "--from", str(alice), "--from", str(bob), "--json")
    assert scored.returncode == 0, scored.stderr
    score = json.loads(scored.stdout)["score"]
    lines = lines_by_ref(score)
    # Both containments count, each saying who did it; one answer key, one set of points.
    assert lines["isolate"]["verdict"] == "met"
    assert lines["isolate"]["how"].startswith("alice: action #")
    assert lines["block-ip"]["verdict"] == "met"
    assert lines["block-ip"]["how"].startswith("bob: action #")
    assert lines["rotate-sa"]["verdict"] == "MISSED"
    assert lines["acknowledge"]["verdict"] == "MISSED"  # not in Bob's export
    assert lines["mttc"]["verdict"] == "met"
    assert lines["mttc"]["how"].endswith("(first: alice)")
    assert score["points"]["earned"] == sum(line["points"]["earned"] for line in score["items"])
    assert score["points"]["possible"] == 16  # the answer key's, once, not twice
    team = {member["name"]: member for member in score["team"]}
    assert team["alice"]["did"] == ["first contained", "Isolate Affected Services (orchestrator)"]
    assert team["bob"]["did"] == ["Block Suspicious External IPs (203.0.113.66)"]
    assert team["alice"]["incident_id"] == team["bob"]["incident_id"]  # each record's own 001

    text = drill.control("score", "--from", str(alice), "--from", str(bob))
    assert text.returncode == 0
    said = text.stdout.splitlines()
    assert said[0].startswith(f"Team score for dns-exfiltration: {score['points']['earned']}/16")
    assert "Who did what:" in said
    assert any(line.startswith("  bob (") and "Block Suspicious" in line for line in said)

    # The same incident twice, under two names, would count Alice twice: refused.
    copy = tmp_path / "carol.db"
    copy.write_bytes(alice.read_bytes())
    twice = drill.control("score", "--from", str(alice), "--from", str(copy))
    assert twice.returncode == 1
    assert "alice and carol hold the same incident" in twice.stderr


def test_a_tampered_export_is_refused_naming_it(drill: DrillProcess, tmp_path: Path) -> None:
    alice = participant(tmp_path, "alice", drill.kubeconfig,
                        ["act", "isolate", "orchestrator", "--yes"])
    mallory = tmp_path / "mallory.db"
    mallory.write_bytes(alice.read_bytes())
    with sqlite3.connect(mallory) as conn:  # claim the block Bob never did
        conn.execute("UPDATE actions SET action = 'block-ip', target = '203.0.113.66' "
                     "WHERE action = 'isolate'")
    conn.close()
    refused = drill.control("score", "--from", str(alice), "--from", str(mallory))
    assert refused.returncode == 1
    assert f"mallory's export {mallory}:" in refused.stderr
    assert "does not verify" in refused.stderr
    assert refused.stdout == ""


def _second_loopback_address() -> str | None:
    """127.0.0.2 where this machine routes it (Linux does; macOS only once aliased)."""
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.2", 0))
    except OSError:
        return None
    finally:
        probe.close()
    return "127.0.0.2"


def test_a_team_drill_listens_on_the_address_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--listen`: the address in the kubeconfig and the certificate, the door open to it,
    and participants' `warroom act` knows it as the drill (its CA), not a real cluster."""
    address = _second_loopback_address()
    if address is None:
        pytest.skip("this machine does not route 127.0.0.2")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WARROOM_DB", str(tmp_path / "facilitator.db"))
    monkeypatch.setenv("WARROOM_CONFIG", str(tmp_path / "no-config.toml"))
    kubeconfig = tmp_path / "drill" / "kubeconfig"
    with DrillProcess(["drill", "--serve-only", "--listen", address, "--kubeconfig-out",
                       str(kubeconfig)], kubeconfig) as drill:
        server = drill.banner["API server"]
        assert server.startswith(f"https://{address}:")
        assert f"listening on {address}: whoever holds the kubeconfig" in "".join(drill.said)
        assert f"server: {server}" in kubeconfig.read_text()
        assert "orchestrator-6f8d9c7b5d-k2x9p" in drill.get("/api/v1/namespaces/voicehive/pods")
        port = int(server.rpartition(":")[2])
        with pytest.raises(ConnectionRefusedError):  # loopback's usual address is not listened on
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        participant(tmp_path, "alice", kubeconfig, ["act", "isolate", "orchestrator", "--yes"])
        code, _out, err = drill.interrupt()
        assert code == 0, err


@pytest.mark.parametrize(("argv", "said"), [
    (["--listen", "0.0.0.0", "--serve-only"], "would listen on every network"),
    (["--listen", "::", "--serve-only"], "would listen on every network"),
    (["--listen", "drill.example", "--serve-only"], "takes an IP address"),
    # TEST-NET-1 (RFC 5737): no machine's own; refused before the drill starts.
    (["--listen", "192.0.2.1", "--serve-only"], "no network of this machine has that address"),
    (["--listen", "192.168.1.20"], "--listen is for a team drill: add --serve-only"),
])
def test_listen_is_explicit_and_names_one_address(argv: list[str], said: str) -> None:
    refused = warroom("drill", *argv)
    assert refused.returncode == 2
    assert said in refused.stderr


class SteppedClock:
    """The record's clock, moved by hand: who did what when is the test's to say."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_the_team_has_one_clock_and_the_last_word(tmp_path: Path) -> None:
    """No drill needed: two records exported, scored against the built-in answer key."""
    from actions.drill.scenario import load_builtin
    from actions.drill.team_score import score_team
    from store import Record
    from store.transfer import export_incident

    first_sign = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    clocks = {name: SteppedClock(first_sign) for name in ("alice", "bob")}
    records = {name: Record.open(tmp_path / f"{name}-record.db", clock=clock)
               for name, clock in clocks.items()}
    ids = {}
    for name, minute in (("alice", 1), ("bob", 2)):
        clocks[name].now = first_sign + timedelta(minutes=minute)
        ids[name] = records[name].incidents.open("DNS tunnel", severity="P0", drill=True).id
    clocks["alice"].now = first_sign + timedelta(minutes=7)
    records["alice"].incidents.acknowledge(ids["alice"])  # late
    clocks["bob"].now = first_sign + timedelta(minutes=4)
    records["bob"].incidents.acknowledge(ids["bob"])  # within 5 minutes of the drill's sign
    clocks["bob"].now = first_sign + timedelta(minutes=5)
    records["bob"].decisions.add(ids["bob"], "false-positive", actor="bob")
    records["bob"].incidents.update(ids["bob"], severity="P3")
    clocks["alice"].now = first_sign + timedelta(minutes=8)
    records["alice"].decisions.add(ids["alice"], "active-attack", actor="alice")
    exports = []
    for name, record in records.items():
        export_incident(record, ids[name], tmp_path / f"{name}.db")
        record.close()
        exports.append((name, tmp_path / f"{name}.db"))
    workdir = tmp_path / "scratch"
    workdir.mkdir()

    team = score_team(load_builtin("dns-exfiltration", schemas=False), exports,
                      clock_started_at=first_sign, observations=[], workdir=workdir)
    lines = {line.ref: line for line in team.score.items}
    # MTTD on the drill's clock: 4 minutes (Bob's), although Bob's own incident opened at 2.
    assert (lines["mttd"].result, lines["mttd"].verdict) == ("4m00s", "met")
    assert lines["mttd"].how.endswith("(first: bob)")
    # The decision recorded last (Alice's, at 8) stands; the severity set last (Bob's P3).
    assert (team.score.decision_given, lines["decision"].verdict) == ("active-attack", "right")
    assert "(recorded by alice 09:08:00)" in lines["decision"].how
    assert (team.score.severity_given, lines["severity"].verdict) == ("P3", "WRONG")
    assert "(set by bob 09:05:00)" in lines["severity"].how
    assert team.score.notes[0].startswith("Team times run on the drill's clock")
    # Each member's own steps count for them, late or not; the firsts go to whoever was first.
    assert [m.did for m in team.members] == [("Acknowledge the Alert",),
                                             ("first acknowledged", "Acknowledge the Alert")]
