"""The README's tour, pasted line by line into one bash shell by someone with no kube config.

Each line of the tour's block runs, in order, in one bash process with an empty
home (no kube config, no record, no configuration of their own) and the venv's
`warroom` and `kubectl` on PATH, against the drill cluster the tour starts in
the background; every line must exit 0. Then the record must hold what the tour
did: one drill incident, closed with its resolution, whose alerts, actions,
evidence and saved report are all in it, the restore among them succeeded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store import Record

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tour_lines() -> list[str]:
    """The tour block's command lines, as a reader pastes them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index("### A tour") :]
    match = re.search(r"^```sh\n(.*?)^```", after, flags=re.MULTILINE | re.DOTALL)
    assert match, "the tour has no sh block"
    return [line for line in match.group(1).splitlines() if line.strip()]


@pytest.mark.slow
def test_the_tour_works_pasted_into_one_shell(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    statuses = tmp_path / "statuses"
    lines = tour_lines()
    # After each line, its exit status, as the reader would see it in `$?`.
    script = "".join(f"{line}\nprintf '%s\\n' \"$?\" >> {statuses}\n" for line in lines)
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
    }
    shell = subprocess.Popen(
        ["bash"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=work,
        env=env,
        text=True,
        start_new_session=True,  # the drill it starts in the background is in its group
    )
    try:
        output, _ = shell.communicate(script, timeout=240)
    finally:
        try:
            os.killpg(shell.pid, signal.SIGTERM)  # whatever the tour left running
        except ProcessLookupError:
            pass
    ran = statuses.read_text().split() if statuses.exists() else []
    failed = [(line, code) for line, code in zip(lines, ran, strict=False) if code != "0"]
    assert (len(ran), failed) == (len(lines), []), output[-4000:]

    with Record.open(home / ".local" / "share" / "warroom" / "record.db") as record:
        (incident,) = record.incidents.list()
        assert (incident.drill, incident.category) == (True, "dns-exfiltration")
        assert incident.status == "closed"
        assert "isolated" in (incident.resolution or "")
        assert incident.acknowledged_at is not None
        assert record.alerts.count(incident.id) >= 1  # the Falco log, ingested into it
        outcomes = {
            entry.action: entry.status
            for entry in record.actions.for_incident(incident.id)
            if entry.entry == "outcome"
        }
        assert outcomes == {
            "isolate": "succeeded",
            "block-ip": "succeeded",
            "capture": "succeeded",
            "restore": "succeeded",
        }
        (restore,) = [
            e
            for e in record.actions.for_incident(incident.id)
            if e.action == "restore" and e.entry == "intent"
        ]
        undone = {ref["kind"] for ref in restore.data["restores"]}
        assert "NetworkPolicy" in undone  # the isolation policy and the except-list entry
        kinds = [entry.kind for entry in record.timeline.for_incident(incident.id)]
        assert "report.saved" in kinds
        assert "report.issued" not in kinds
        captured = [e for e in record.evidence.for_incident(incident.id) if e.action_id]
        assert len(captured) == 6  # capture's bundle
        # `watch` started after the incident was opened: a session of its own, which
        # records beside the incident but adds nothing to it (no health, no evidence).
        assert "source.health" not in kinds
        assert [e.name for e in record.evidence.for_incident(incident.id) if not e.action_id] == []
        assert record.query("SELECT count(*) FROM timeline WHERE kind = 'source.health'")[0][0]
    assert (work / "report.md").read_text().startswith("# Network Security Incident Report")
    watched = (work / "watch.jsonl").read_text().splitlines()
    assert watched
    assert all(json.loads(line)["type"] for line in watched)
