"""The facilitator's controls of a `--serve-only` drill, from another terminal, and their door.

A drill in a subprocess, controlled by `warroom drill control ...` from other
processes: pause stops its clock, speed changes it, inject plays the next step
(the cluster shows it), score prints what the drill prints at its end and at
Ctrl-C (the console's `q`), and the score is kept in the record. The control
socket is the facilitator's alone: not the participants' kubeconfig, not
another user.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.drill.control import MAX_REQUEST_BYTES, ControlError, ControlServer, send
from tests.drill_process import DrillProcess, warroom
from tests.plugins.drill import kubeconfig_client
from tests.plugins.waiting import wait_for

SCENARIO = """\
name: control-drill
title: A drill to control from another terminal
class: P2
length: 180
cluster:
  base: voicehive-istio
injects:
  - at: 60
    id: one
    malicious: true
    log: {pod: orchestrator-6f8d9c7b5d-k2x9p, line: hello from one}
  - {at: 120, id: two, log: {pod: orchestrator-6f8d9c7b5d-k2x9p, line: hello from two}}
answer_key: {severity: P2, decision: misconfiguration}
"""


@pytest.fixture
def drill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DrillProcess]:
    """The drill, and this process as the facilitator's second terminal (same record)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WARROOM_DB", str(tmp_path / "facilitator.db"))
    monkeypatch.setenv("WARROOM_CONFIG", str(tmp_path / "no-config.toml"))
    scenario = tmp_path / "control.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    kubeconfig = tmp_path / "drill" / "kubeconfig"
    with DrillProcess(["drill", str(scenario), "--serve-only", "--kubeconfig-out",
                       str(kubeconfig)], kubeconfig) as process:
        yield process


def pod_log(drill: DrillProcess) -> str:
    return drill.get("/api/v1/namespaces/voicehive/pods/orchestrator-6f8d9c7b5d-k2x9p/log")


def test_a_serve_only_drill_is_controlled_and_scored_from_another_terminal(
    drill: DrillProcess, drill_control_socket: Path
) -> None:
    assert drill.banner["control"] == str(drill_control_socket)
    status = drill.status()
    assert (status["paused"], status["next_inject"], status["speed"]) == (False, "one", 1.0)
    # The team's incident in the facilitator's record, as `warroom drill` scores it.
    opened = warroom("incidents", "open", "Orchestrator log noise", "--drill", "--severity", "P2")
    assert opened.returncode == 0, opened.stderr
    incident = opened.stdout.strip()
    assert warroom("incidents", "ack", incident).returncode == 0

    paused = drill.control("pause")
    assert paused.returncode == 0, paused.stderr
    assert "paused the drill at T+00:" in paused.stdout
    assert "drill control-drill: paused at x1" in paused.stdout
    # Paused, even the fastest speed moves nothing: the clock has stopped.
    assert drill.control("speed", "60").returncode == 0
    first, second = drill.status(), drill.status()
    assert first["speed"] == 60
    assert first["paused"]
    assert first["position_seconds"] == second["position_seconds"] < 60

    injected = drill.control("inject")
    assert injected.returncode == 0, injected.stderr
    assert "injected one now" in injected.stdout
    wait_for(lambda: "hello from one" in pod_log(drill), "the inject's log line in the pod")
    status = drill.status()
    assert status["paused"]
    assert status["next_inject"] == "two"
    assert status["position_seconds"] == 60  # scenario time jumped to the inject
    assert "hello from two" not in pod_log(drill)

    scored = drill.control("score")
    assert scored.returncode == 0, scored.stderr
    score = scored.stdout.splitlines()
    assert score[0].startswith(f"Score for control-drill ({incident}): ")
    assert any(line.split()[:3] == ["right", "1/1", "Severity:"] for line in score)

    # Resumed at x100000, the rest of the scenario plays at once, and its end prints the score.
    assert drill.control("resume").returncode == 0
    wait_for(lambda: drill.status()["finished"], "the scenario's end")
    wait_for(lambda: "hello from two" in pod_log(drill), "the last inject")
    over = drill.control("pause")
    assert over.returncode == 1
    assert "the drill is over" in over.stderr

    code, out, err = drill.interrupt()
    assert code == 0, err
    assert "The scenario has ended; the cluster serves on until Ctrl-C." in out
    # Printed at the scenario's end and again at Ctrl-C: what the control printed.
    assert out.count("\n".join(score)) == 2, out
    assert "drill cluster stopped" in err
    from store import Record
    from tui.drill_score import recorded_score

    with Record.open(Path(os.environ["WARROOM_DB"])) as record:
        kept, why = recorded_score(record, incident)
        controls = record.timeline.for_incident(incident, kinds=("drill.control",))
    assert kept is not None, why
    assert kept.lines() == score  # review shows the same score later
    # Each control is on the incident's timeline, as the console's keys are.
    assert [entry.data["control"] for entry in controls] == ["pause", "speed", "inject", "resume"]
    assert controls[2].data["inject"] == "one"
    assert controls[2].summary.startswith("Facilitator injected one now at T+00:")


def test_a_pause_before_the_incident_is_opened_is_kept_on_it(drill: DrillProcess) -> None:
    """The MTTD window was a pause: the review must see it, though no incident was open."""
    assert drill.control("pause").returncode == 0
    assert drill.control("speed", "5").returncode == 0
    opened = warroom("incidents", "open", "Orchestrator log noise", "--drill")
    assert opened.returncode == 0, opened.stderr
    incident = opened.stdout.strip()
    assert drill.control("resume").returncode == 0
    from store import Record

    with Record.open(Path(os.environ["WARROOM_DB"])) as record:
        controls = record.timeline.for_incident(incident, kinds=("drill.control",))
        opened_at = record.incidents.get_required(incident).opened_at
    assert [(e.data or {}).get("control") for e in controls] == ["pause", "speed", "resume"]
    assert controls[0].summary.startswith("Facilitator paused the drill at T+00:")
    assert (controls[1].data or {})["speed"] == 5
    assert controls[0].at <= controls[1].at <= opened_at <= controls[2].at


def test_only_the_facilitator_controls_the_drill(
    drill: DrillProcess, drill_control_socket: Path
) -> None:
    # The socket: the facilitator's, 0600 in a 0700 folder.
    info = drill_control_socket.lstat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(drill_control_socket.parent.stat().st_mode) == 0o700
    assert info.st_uid == os.getuid()

    # The participants' kubeconfig opens the API server, which has no control at all.
    import urllib.error
    import urllib.request

    headers, tls = kubeconfig_client(drill.kubeconfig)
    server = drill.banner["API server"]
    for method, path in (("POST", "/control"), ("POST", "/drill/control/pause"),
                         ("GET", "/drill/score"), ("POST", "/api/v1/control/pause")):
        request = urllib.request.Request(server + path, method=method, headers=headers,
                                         data=b'{"control": "pause"}')
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10, context=tls)
        assert refused.value.code == 404, path

    if hasattr(os, "setuid") and os.getuid() == 0:
        # A process of user `nobody`: the socket's mode and folder refuse it.
        attempt = (
            "import os, socket\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            f"    s.connect({str(drill_control_socket)!r})\n"
            "    s.sendall(b'{\"control\": \"pause\"}\\n'); print('answered', s.recv(4096))\n"
            "except PermissionError:\n"
            "    print('refused')\n"
        )
        other = subprocess.run([sys.executable, "-c", attempt], capture_output=True,
                               text=True, timeout=30)
        assert other.stdout.strip() == "refused", other.stdout + other.stderr

    # Bad controls: refused with a reason, nothing changed.
    for args, code, said in (
        (("speed",), 2, "speed X: the speed must be a number from 0.5 to 60"),
        (("speed", "fast"), 2, "speed X: the speed must be a number from 0.5 to 60"),
        (("speed", "0"), 2, "speed X: the speed must be a number from 0.5 to 60"),
        # The console's + and - range: `speed 1000` ended a 15-minute drill in a second.
        (("speed", "1000"), 2, "speed X: the speed must be a number from 0.5 to 60"),
        (("speed", "0.25"), 2, "speed X: the speed must be a number from 0.5 to 60"),
        (("pause", "now"), 2, "pause takes no value"),
        (("status", "--from", "a.db"), 2, "--from is for `score`"),
        (("rewind",), 2, "invalid choice"),
        (("score", "--from", "missing.db"), 1, "missing.db: no such file"),
    ):
        result = drill.control(*args)
        assert (result.returncode, said in result.stderr) == (code, True), (args, result.stderr)
    assert drill.status()["paused"] is False

    # `stop` from the other terminal ends the drill, which prints its score.
    stopped = drill.control("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopping the drill" in stopped.stdout
    code, out, err = drill.ended()
    assert code == 0, err
    assert "(no score: no drill incident was opened in the record during the drill" in out
    assert not drill_control_socket.exists()  # the socket went with it
    gone = drill.control("status")
    assert gone.returncode == 1
    assert "no drill answers at" in gone.stderr


async def _paused(request: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "message": f"did {request.get('control')}"}


async def test_a_process_of_another_user_is_refused_by_its_credentials(
    drill_control_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The peer check (SO_PEERCRED), whatever the file's mode: the server as another user."""
    if not hasattr(socket, "SO_PEERCRED"):
        pytest.skip("the platform does not say who connects (SO_PEERCRED is Linux's)")
    server = ControlServer(_paused)
    await server.start(drill_control_socket)
    try:
        assert (await send(drill_control_socket, {"control": "pause"}, within=10)) == {
            "ok": True, "message": "did pause"}
        real = os.getuid()
        monkeypatch.setattr("actions.drill.control.os.getuid", lambda: real + 1)
        reader, writer = await asyncio.open_unix_connection(str(drill_control_socket))
        writer.write(b'{"control": "pause"}\n')
        answer = json.loads(await reader.readline())
        writer.close()
        assert answer == {"ok": False, "error": "not the facilitator's process"}
    finally:
        monkeypatch.undo()
        await server.stop()


async def test_the_socket_never_replaces_what_is_not_a_dead_drills(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wr-"))
    try:
        path = folder / "drill.sock"
        path.write_text("the user's notes")
        with pytest.raises(ControlError, match="exists and is not a drill's control socket"):
            await ControlServer(_paused).start(path)
        assert path.read_text() == "the user's notes"
        path.unlink()
        path.symlink_to(tmp_path / "elsewhere")
        with pytest.raises(ControlError, match="exists and is not a drill's control socket"):
            await ControlServer(_paused).start(path)
        path.unlink()

        live = ControlServer(_paused)
        await live.start(path)
        with pytest.raises(ControlError, match="another drill answers at"):
            await ControlServer(_paused).start(path)
        # A drill that died left its socket: the next one takes the path over.
        dead = socket.socket(socket.AF_UNIX)
        await live.stop()
        dead.bind(str(path))
        dead.close()
        assert path.is_socket()
        again = ControlServer(_paused)
        await again.start(path)
        assert (await send(path, {"control": "status"}, within=10))["ok"]
        await again.stop()
        assert not path.exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wr-"))
    try:
        os.chmod(folder, 0o777)
        with pytest.raises(ControlError, match="writable by other users"):
            await ControlServer(_paused).start(folder / "drill.sock")
        too_long = folder / ("x" * 120) / "drill.sock"
        with pytest.raises(ControlError, match="too long for a Unix socket"):
            await ControlServer(_paused).start(too_long)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
async def test_hostile_requests_get_an_answer_not_a_crash(drill_control_socket: Path) -> None:
    server = ControlServer(_paused)
    await server.start(drill_control_socket)
    try:
        for request, said in ((b"not json\n", "one JSON object"), (b"[1, 2]\n", "one JSON object"),
                              (b"x" * 70_000 + b"\n", "at most")):
            reader, writer = await asyncio.open_unix_connection(str(drill_control_socket))
            writer.write(request)
            answer = json.loads(await reader.readline())
            writer.close()
            assert answer["ok"] is False, answer
            assert said in answer["error"], answer
        # 5 MB gets the same answer as 70 KB, not a connection closed under the writer.
        reader, writer = await asyncio.open_unix_connection(str(drill_control_socket))
        writer.write(b"x" * 5_000_000 + b"\n")
        await writer.drain()
        answer = json.loads(await reader.readline())
        writer.close()
        assert answer == {"ok": False, "error": f"a request is at most {MAX_REQUEST_BYTES} bytes"}
        # And through the client: the answer, not "broken pipe".
        huge = {"control": "score", "exports": ["x" * 5_000_000]}
        too_big = await send(drill_control_socket, huge, within=10)
        assert too_big == answer
        assert (await send(drill_control_socket, {"control": "x"}, within=10))["ok"]
    finally:
        await server.stop()
