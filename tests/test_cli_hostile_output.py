"""Every command's text and `--json` output over a record holding hostile values.

The record is what an attacker can reach: an incident whose ID, title and
commander carry terminal escapes (an imported record, or one edited on disk),
Falco alerts with them in every field, a notification whose receiver answered
with them, a scenario file and file names holding them. Whatever a command
prints, no terminal control, bidi or invisible character reaches the
terminal raw; `--json` stays valid and gives back the exact values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from actions.drill.server import DrillServerThread
from store import Record
from store.safe_text import UNSAFE, terminal
from tests.plugins.record import FrozenClock
from tui.cli.main import main

HOSTILE = {
    "retitle": "\x1b]0;PWNED\x07",
    "clipboard": "\x1b]52;c;cHduZWQ=\x07",
    "c1-csi": "\x9b2J",
    "nul": "pod\x00name",
    "right-to-left override": "\u202eexe.txt",
    "arabic letter mark": "\u061cx",
    "zero-width space": "a\u200bb",
    "markup close": "[/oops]",
    "markup open": "[red]x",
    "bare url": "http://evil.example/login",
}
EVERYTHING = " ".join(HOSTILE.values())
# Argv cannot hold NUL, so the ID carries the rest (it must still be typed to `report`).
GFM = MarkdownIt("gfm-like")  # tables, strikethrough and linkify (bare URLs become links)
HOSTILE_ID = "NSI-2026-03-14-001\x1b]0;PWNED\x07\u202e\x9b2J"
TABLES_WITH_INCIDENT_ID = (
    "alerts", "timeline", "actions", "evidence", "checklist", "decisions", "outbox",
)  # fmt: skip


def falco_line(text: str) -> str:
    return json.dumps({
        "hostname": f"node-1{text}",
        "output": f"09:00:30.123456789: Critical Outbound connection {text}",
        "priority": "Critical",
        "rule": f"Outbound Connection to C2 Servers {text}",
        "source": "syscall",
        "tags": ["network", text],
        "time": "2026-03-14T09:00:30.123456789Z",
        "output_fields": {"k8s.pod.name": f"orchestrator{text}", "fd.sip.name": text,
                          "proc.cmdline": text},
    })  # fmt: skip


@pytest.fixture
def hostile_record(record_path: Path, clock: FrozenClock, tmp_path: Path) -> Path:
    """A record whose every free-text field, and one incident's ID, is hostile."""
    alerts = tmp_path / "falco.jsonl"
    alerts.write_text(falco_line(EVERYTHING) + "\n{not json " + EVERYTHING + "\n")
    with Record.open(record_path, clock=clock) as record:
        incident = record.incidents.open(EVERYTHING, severity="P1", commander=EVERYTHING)
        record.timeline.add(incident.id, "note", EVERYTHING, actor=EVERYTHING)
        outbox_id = record.outbox.enqueue(incident.id, "slack", "opened", "k1", {"x": 1})
        assert outbox_id is not None
        record.outbox.mark_failed(outbox_id, EVERYTHING, retry_at=clock() + timedelta(hours=1))
    assert main(["ingest", str(alerts), "--incident", incident.id]) == 0
    # What a crafted import or an edit on disk leaves: the ID itself is hostile.
    with Record.open(record_path, clock=clock) as record:
        with record.conn:
            record.conn.execute("UPDATE incidents SET id = ?", (HOSTILE_ID,))
            for table in TABLES_WITH_INCIDENT_ID:
                record.conn.execute(f"UPDATE {table} SET incident_id = ?", (HOSTILE_ID,))
    return record_path


def hostile_scenario(folder: Path) -> Path:
    path = folder / f"scenario{HOSTILE['retitle']}.yaml"
    path.write_text(json.dumps({"name": EVERYTHING, "title": EVERYTHING, EVERYTHING: 1}))
    return path


def hostile_kubeconfig(folder: Path) -> str:
    return str(folder / f"kubeconfig{HOSTILE['retitle']}{HOSTILE['c1-csi']}")


Argv = Callable[[Path], list[str]]
COMMANDS: dict[str, Argv] = {
    "incidents": lambda _: ["incidents"],
    "incidents open": lambda _: ["incidents", "open", EVERYTHING.replace("\x00", "")],
    "incidents show": lambda _: ["incidents", "show", HOSTILE_ID],
    "incidents close": lambda _: ["incidents", "close", HOSTILE_ID, "--resolution", EVERYTHING],
    "incidents note": lambda _: ["incidents", "note", HOSTILE_ID, EVERYTHING],
    "report": lambda _: ["report", HOSTILE_ID],
    "report --executive": lambda _: ["report", HOSTILE_ID, "--executive"],
    "report -o": lambda tmp: ["report", HOSTILE_ID, "-o", str(tmp / "report.md")],
    "verify": lambda _: ["verify"],
    "metrics": lambda _: ["metrics"],
    "export": lambda tmp: ["export", HOSTILE_ID, "-o", str(tmp / "out.db")],
    "export (no such incident)": lambda tmp: ["export", HOSTILE_ID + "x", "-o", str(tmp / "x.db")],
    "import": lambda tmp: ["import", str(tmp / f"missing{HOSTILE['retitle']}.db")],
    "ingest": lambda tmp: ["ingest", str(tmp / "falco.jsonl")],
    "ingest --incident": lambda tmp: ["ingest", str(tmp / "falco.jsonl"), "--incident", HOSTILE_ID],
    "notify": lambda _: ["notify"],
    "scenarios": lambda _: ["scenarios"],
    "review": lambda _: ["review", HOSTILE_ID + "x"],
    "drill": lambda tmp: ["drill", str(hostile_scenario(tmp))],
    "act": lambda tmp: ["act", "isolate", "x", "--dry-run",
                        "--kubeconfig", hostile_kubeconfig(tmp)],
    "status": lambda tmp: ["status", "--kubeconfig", hostile_kubeconfig(tmp)],
    "watch": lambda tmp: ["watch", "--kubeconfig", hostile_kubeconfig(tmp)],
}  # fmt: skip
JSON_COMMANDS: dict[str, Argv] = {
    "incidents --json": lambda _: ["incidents", "--json"],
    "incidents open --json": lambda _: ["incidents", "open", EVERYTHING.replace("\x00", ""),
                                        "--json"],
    "incidents show --json": lambda _: ["incidents", "show", HOSTILE_ID, "--json"],
    "verify --json": lambda _: ["verify", "--json"],
    "metrics --json": lambda _: ["metrics", "--json"],
    "export --json": lambda tmp: ["export", HOSTILE_ID, "-o", str(tmp / "out.db"), "--json"],
    "import --json": lambda tmp: ["import", str(tmp / f"missing{HOSTILE['retitle']}.db"),
                                  "--json"],
    "ingest --json": lambda tmp: ["ingest", str(tmp / "falco.jsonl"), "--json"],
    "notify --json": lambda _: ["notify", "--json"],
    "scenarios --json": lambda _: ["scenarios", "--json"],
}  # fmt: skip


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def raw_unsafe(text: str) -> list[str]:
    """Unsafe characters printed raw (a line feed and a tab are layout, not a threat)."""
    return sorted({char for char in text if UNSAFE.match(char) and char not in "\n\t"})


@pytest.mark.parametrize("name", COMMANDS)
def test_text_output_shows_hostile_values_inert(
    name: str, hostile_record: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(COMMANDS[name](tmp_path), capsys)
    assert out or err, f"{name} printed nothing (exit {code})"
    assert raw_unsafe(out) == [], f"{name}: raw on stdout"
    assert raw_unsafe(err) == [], f"{name}: raw on stderr"
    assert terminal(out, multiline=True) == out


def test_the_incident_list_shows_every_field_with_markers(
    hostile_record: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["incidents"], capsys)
    assert code == 0
    assert terminal(HOSTILE_ID) in out
    # Markup-like text and URLs are shown as they are: a terminal does not read them.
    for shown in ("[/oops]", "[red]x", "http://evil.example/login", "pod\ufffdname"):
        assert shown in out


@pytest.mark.parametrize("name", JSON_COMMANDS)
def test_json_output_is_valid_lossless_and_inert(
    name: str, hostile_record: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(JSON_COMMANDS[name](tmp_path), capsys)
    document = json.loads(out)  # one document, whatever the values
    assert raw_unsafe(out) == [], f"{name}: raw in the JSON"
    assert raw_unsafe(err) == [], f"{name}: raw on stderr"
    if name == "incidents --json":
        (incident,) = document["incidents"]
        assert incident["id"] == HOSTILE_ID
        assert incident["title"] == EVERYTHING
        assert incident["commander"] == EVERYTHING
    if name == "notify --json":
        assert document["items"][0]["last_error"] == EVERYTHING


def test_the_report_on_stdout_is_inert(
    hostile_record: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["report", HOSTILE_ID], capsys)
    assert code == 0
    assert raw_unsafe(out) == []
    tokens = [t for block in GFM.parse(out) for t in [block, *(block.children or [])]]
    assert [t.type for t in tokens if t.type.startswith(("link", "html", "image"))] == []
    shown = "".join(t.content for t in tokens if t.type == "text")
    # The reviewer sees what was hidden, where it was: nothing cut, nothing invisible.
    for marked in ("pod␀name", "⟨U+202E⟩exe.txt", "⟨U+061C⟩x",
                   "a⟨U+200B⟩b", "␛]52;c;cHduZWQ=␇", "[/oops] [red]x",
                   "http://evil.example/login"):  # fmt: skip
        assert marked in shown


@pytest.mark.parametrize("argv", [["status"], ["status", "--json"]])
def test_status_over_a_cluster_holding_hostile_text(
    argv: list[str], drill_server: DrillServerThread, drill_kubeconfig: Path,
    record_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A Warning event's reason and message are the cluster's: anyone with create on events."""
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "hostile.1", "namespace": "voicehive"},
        "involvedObject": {"kind": "Pod", "name": "orchestrator-6f8d9c7b5d-k2x9p",
                           "namespace": "voicehive", "apiVersion": "v1"},
        "type": "Warning", "reason": f"Bad{HOSTILE['retitle']}", "message": EVERYTHING,
        "count": 1, "lastTimestamp": "2026-11-01T08:59:00Z",
    }  # fmt: skip
    drill_server.state.create(event)
    _code, out, err = run([*argv, "--kubeconfig", str(drill_kubeconfig)], capsys)
    assert raw_unsafe(out) == []
    assert raw_unsafe(err) == []
    if "--json" in argv:
        document = json.loads(out)
        assert EVERYTHING in [w["message"] for w in document["warnings"]]
    else:
        assert "[/oops] [red]x http://evil.example/login" in out
