"""`warroom act` and `warroom status` as a user runs them: exit codes, prompts, JSON, the record."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.drill.server import DrillServerThread
from actions.drill.sim.mesh import SynczModel
from store import Record
from tui.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
NS = "voicehive"


def emergency(server: DrillServerThread) -> list[str]:
    found = server.state.list(
        "networking.k8s.io/v1", "NetworkPolicy", NS, label_selector="emergency=true"
    )
    return [p["metadata"]["name"] for p in found]


def recorded(record_path: Path) -> list[tuple[str, str, str]]:
    if not record_path.exists():
        return []
    with Record.open(record_path) as record:
        rows = record.query("SELECT entry, action, status FROM actions ORDER BY seq")
    return [(row["entry"], row["action"], row["status"]) for row in rows]


def test_dry_run_prints_the_preview_and_changes_and_records_nothing(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "act",
            "isolate",
            "orchestrator",
            "--dry-run",
            "--json",
            "--kubeconfig",
            str(drill_kubeconfig),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    preview = json.loads(out)
    assert preview["kind"] == "preview"
    assert preview["ok"]
    assert preview["opens_incident"]
    change = preview["changes"][0]
    assert [c["verb"] for c in preview["changes"]] == ["create", "patch", "patch"]
    assert all(c["dry_run"] == "ok" for c in preview["changes"])
    assert change["body"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert emergency(drill_server) == []
    assert recorded(record_path) == []
    with Record.open(record_path) as record:
        assert record.incidents.list() == []


def test_yes_applies_opens_an_incident_and_prints_the_outcome(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["act", "isolate", "orchestrator", "--yes", "--json", "--kubeconfig", str(drill_kubeconfig)]
    )
    captured = capsys.readouterr()
    assert code == 0
    outcome = json.loads(captured.out)
    assert outcome["status"] == "succeeded"
    assert outcome["verified"]
    assert f"opened drill incident {outcome['incident_id']}" in captured.err
    assert len(emergency(drill_server)) == 1
    assert recorded(record_path) == [
        ("intent", "isolate", "pending"),
        ("outcome", "isolate", "succeeded"),
    ]

    code = main(["act", "block-ip", "203.0.113.9", "--yes", "--kubeconfig", str(drill_kubeconfig)])
    text = capsys.readouterr()
    assert code == 0
    assert "succeeded" in text.out
    assert outcome["incident_id"] in text.out


def test_failures_exit_1_and_are_recorded(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["act", "disable-sa", "ghost", "--yes", "--kubeconfig", str(drill_kubeconfig)])
    assert code == 1
    assert "service account ghost does not exist in voicehive" in capsys.readouterr().err
    assert recorded(record_path)[-1] == ("outcome", "disable-sa", "failed")


def test_unreachable_cluster_exits_1_naming_the_cause(
    closed_port_kubeconfig: Path, record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "act",
            "isolate",
            "orchestrator",
            "--yes",
            "--json",
            "--kubeconfig",
            str(closed_port_kubeconfig),
        ]
    )
    outcome = json.loads(capsys.readouterr().out)
    assert code == 1
    assert outcome["cause"] == "refused"
    assert "connection refused" in outcome["message"]
    assert recorded(record_path)[-1] == ("outcome", "isolate", "failed")
    assert main(["status", "--kubeconfig", str(closed_port_kubeconfig)]) == 1
    assert "connection refused" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["act", "block-ip", "0.0.0.0/0", "--yes"],
        ["act", "isolate", "Not_A_Name", "--yes"],
        ["act", "isolate", "orchestrator", "--yes", "--incident", "NSI-2020-01-01-001"],
    ],
)
def test_usage_errors_exit_2_and_record_nothing(
    drill_kubeconfig: Path, record_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--kubeconfig", str(drill_kubeconfig)]) == 2
    assert capsys.readouterr().err.startswith("warroom act: ")
    assert recorded(record_path) == []


def test_on_the_drill_cluster_an_action_opens_a_drill_incident_and_the_next_ones_join_it(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kube = ["--kubeconfig", str(drill_kubeconfig)]
    assert main(["act", "isolate", "orchestrator", "--yes", *kube]) == 0
    assert "opened drill incident" in capsys.readouterr().err
    assert main(["act", "block-ip", "203.0.113.66", "--yes", *kube]) == 0
    assert main(["act", "restore", "--unblock", "--yes", *kube]) == 0
    capsys.readouterr()
    with Record.open(record_path) as record:
        (incident,) = record.incidents.list()
        assert incident.drill
        actions = {entry.action for entry in record.actions.for_incident(incident.id)}
        assert actions == {"isolate", "block-ip", "restore"}
    # Restore undid what the incident's earlier actions did.
    assert emergency(drill_server) == []
    policy = drill_server.state.get(
        "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    assert policy is not None
    assert "203.0.113.66/32" not in policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]


def test_the_incident_an_action_opens_on_the_drill_cluster_is_a_drill_from_its_first_entry(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["act", "isolate", "orchestrator", "--yes", "--json", "--kubeconfig", str(drill_kubeconfig)]
    )
    incident_id = json.loads(capsys.readouterr().out)["incident_id"]
    assert code == 0
    with Record.open(record_path) as record:
        entries = record.timeline.for_incident(incident_id)
    opened = next(entry for entry in entries if entry.kind == "incident.opened")
    assert opened.data["drill"] == 1
    assert opened.summary.startswith("Drill opened: isolate orchestrator")
    # No second entry that makes it a drill afterwards: it never was a real incident.
    assert not [e for e in entries if e.kind == "incident.updated" and "drill" in e.data]


def test_an_action_ticks_the_checklist_item_it_proves_at_once_and_once(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from actions.checklists import tick_proven

    code = main(
        ["act", "isolate", "orchestrator", "--yes", "--json", "--kubeconfig", str(drill_kubeconfig)]
    )
    outcome = json.loads(capsys.readouterr().out)
    assert code == 0
    assert outcome["status"] == "succeeded"
    incident_id = outcome["incident_id"]
    with Record.open(record_path) as record:
        tick = record.checklist.state(incident_id)[("containment", "Isolate Affected Services")]
        assert tick.checked
        assert tick.actor == "warroom"
        assert tick.note is not None
        assert "isolate orchestrator succeeded" in tick.note
        # The console ticks what an outcome proves after it too: that adds nothing.
        assert tick_proven(record, incident_id) == []
        (count,) = record.query(
            "SELECT count(*) FROM checklist WHERE incident_id = ? AND item = ?",
            (incident_id, "Isolate Affected Services"),
        )[0]
        assert count == 1
    # A failed action proves nothing: a service account that does not exist stays unticked.
    kube = ["--kubeconfig", str(drill_kubeconfig)]
    assert main(["act", "disable-sa", "ghost", "--yes", *kube]) == 1
    with Record.open(record_path) as record:
        ticks = record.checklist.state(incident_id)
        assert ("containment", "Disable Compromised Service Accounts") not in ticks


def test_with_several_incidents_open_it_refuses_and_names_them(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Record.open(record_path) as record:
        first = record.incidents.open("drill one", drill=True).id
        second = record.incidents.open("drill two", drill=True).id
    code = main(["act", "isolate", "orchestrator", "--yes", "--kubeconfig", str(drill_kubeconfig)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"2 drill incidents are open ({first}, {second})" in err
    assert "--incident" in err
    assert emergency(drill_server) == []
    assert recorded(record_path) == []
    with Record.open(record_path) as record:
        assert len(record.incidents.list()) == 2  # not one more


def test_a_drill_action_never_joins_a_real_incident_unasked(
    drill_server: DrillServerThread,
    drill_kubeconfig: Path,
    record_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Record.open(record_path) as record:
        real = record.incidents.open("real, elsewhere", severity="P1").id
    kube = ["--kubeconfig", str(drill_kubeconfig)]
    assert main(["act", "isolate", "orchestrator", "--yes", *kube]) == 2
    assert f"the open incidents ({real}) are not drill incidents" in capsys.readouterr().err
    assert recorded(record_path) == []
    assert main(["act", "isolate", "orchestrator", "--yes", "--incident", real, *kube]) == 0


def test_the_drill_cluster_is_known_by_its_context_on_loopback() -> None:
    from types import SimpleNamespace

    from tui.cli.cmd_act import is_drill_cluster

    def cluster(context: str, server: str) -> object:
        return SimpleNamespace(context=context, server=server)

    assert is_drill_cluster(cluster("warroom-drill", "http://127.0.0.1:41234"))
    assert is_drill_cluster(cluster("warroom-drill", "https://[::1]:6443"))
    assert not is_drill_cluster(cluster("warroom-drill", "https://10.0.0.5:6443"))
    assert not is_drill_cluster(cluster("kind-kind", "https://127.0.0.1:6443"))


def test_a_bad_duration_is_refused_by_the_parser(drill_kubeconfig: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["act", "capture", "--since", "forever", "--kubeconfig", str(drill_kubeconfig)])
    assert exited.value.code == 2


def test_missing_kubeconfig_is_a_usage_error(
    tmp_path: Path, record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["act", "isolate", "orchestrator", "--kubeconfig", str(tmp_path / "none")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_capture_reports_each_piece(
    drill_kubeconfig: Path, record_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["act", "capture", "--yes", "--kubeconfig", str(drill_kubeconfig)])
    err = capsys.readouterr().err
    assert "[1/6] events-voicehive.yaml: stored" in err
    assert "[6/6] prometheus-tcp-received-rate.json: failed" in err
    assert code == 1  # Prometheus has no endpoints in the seeded cluster


def test_status_json_and_text(
    drill_server: DrillServerThread, drill_kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = SynczModel(seed=1, istio_version="1.24.3", clock=lambda: drill_server.state.clock())
    model.add_proxy("orchestrator-6f8d9c7b5d-k2x9p.voicehive")
    drill_server.state.syncz_provider = model.body
    assert main(["status", "--json", "--kubeconfig", str(drill_kubeconfig)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"]
    assert document["mesh"] == "istio"
    model.set_status("orchestrator-6f8d9c7b5d-k2x9p.voicehive", "STALE")
    assert main(["status", "--kubeconfig", str(drill_kubeconfig)]) == 1
    captured = capsys.readouterr()
    assert "=== Network Policies (voicehive) ===" in captured.out
    assert "orchestrator-6f8d9c7b5d-k2x9p.voicehive" in captured.out
    assert "Back-off restarting failed container" in captured.out
    assert "out of sync" in captured.err


# ----- the prompt, in a real child process ---------------------------------------------------


def child_env(record_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "WARROOM_DB": str(record_path)}


def test_without_yes_and_without_a_terminal_it_refuses(
    drill_server: DrillServerThread, drill_kubeconfig: Path, record_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "act",
            "isolate",
            "orchestrator",
            "--kubeconfig",
            str(drill_kubeconfig),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env(record_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "pass --yes" in done.stderr
    assert done.stdout == ""
    assert emergency(drill_server) == []
    assert recorded(record_path) == []


def run_on_terminal(argv: list[str], answer: str, record_path: Path) -> tuple[int, str]:
    """Run warroom with stdin/stderr on a pseudo-terminal; answer the prompt when it shows."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *argv],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=ROOT,
        env=child_env(record_path),
    )
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while b"Apply? [y/N]" not in shown:
            assert time.monotonic() < deadline, shown.decode(errors="replace")
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                shown += os.read(leader, 4096)
        os.write(leader, answer.encode() + b"\n")
        assert child.stdout is not None
        out = child.stdout.read().decode()
        code = child.wait(timeout=60)
    finally:
        child.kill()
        child.wait()
        os.close(leader)
    assert b"emergency-isolation-" in shown  # the preview came before the question
    return code, out


def test_terminal_prompt_applies_on_yes(
    drill_server: DrillServerThread, drill_kubeconfig: Path, record_path: Path
) -> None:
    code, out = run_on_terminal(
        ["act", "isolate", "orchestrator", "--kubeconfig", str(drill_kubeconfig)], "y", record_path
    )
    assert code == 0
    assert "succeeded" in out
    assert len(emergency(drill_server)) == 1


def test_terminal_prompt_declined_changes_and_records_nothing(
    drill_server: DrillServerThread, drill_kubeconfig: Path, record_path: Path
) -> None:
    code, _ = run_on_terminal(
        ["act", "isolate", "orchestrator", "--kubeconfig", str(drill_kubeconfig)], "", record_path
    )
    assert code == 1
    assert emergency(drill_server) == []
    assert recorded(record_path) == []
