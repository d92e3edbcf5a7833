"""An unexpected error in the console ends it safely: the record closed and intact, the
terminal restored, the drill stopped and scored, a log file named, a failing exit status."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actions.config import Settings
from store import Record
from tests.plugins.terminal import terminal
from tests.plugins.tui import AppFactory, until
from tui.app import ConsoleCrashed, WarRoomApp, run_console
from tui.crash import scrubbed, write_crash_log
from tui.drill_score import recorded_score
from tui.screens.war_room import WarRoomScreen
from tui.services import Services

REPO = Path(__file__).resolve().parent.parent
# `warroom` with one handler broken on purpose: `z` (zoom) raises.
BROKEN_ZOOM = (
    "import sys\n"
    "from tui.screens.war_room import WarRoomScreen\n"
    "def broken(self):\n"
    "    raise RuntimeError('injected: zoom broke')\n"
    "WarRoomScreen.action_zoom = broken\n"
    "from tui.cli import main\n"
    "sys.exit(main.main(sys.argv[1:]))\n"
)
LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"


def test_an_error_in_a_drill_handler_ends_the_console_safely(tmp_path: Path) -> None:
    db, state = tmp_path / "record.db", tmp_path / "state"
    env = {"HOME": str(tmp_path), "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(state)}
    argv = [sys.executable, "-c", BROKEN_ZOOM, "--db", str(db), "drill"]
    with terminal(argv, env=env) as term:
        term.wait_for("DRILL")
        term.wait_for("external-api-segmentation")  # the console, then the cluster
        term.press("o")
        term.wait_for("Open an incident")
        term.type("Beacon from orchestrator")
        term.press("ctrl+s")
        term.wait_for("opened")
        opened = term.mark()
        term.press("z")
        code = term.wait_exit()
    said = term.plain_output(opened)
    assert code == 1, said[-3000:]
    # The terminal is handed back before anything is said.
    raw = bytes(term.written[opened:])
    assert LEAVE_ALTERNATE_SCREEN in raw
    after = raw.rsplit(LEAVE_ALTERNATE_SCREEN, 1)[1].decode()
    assert "the console stopped on an unexpected error (RuntimeError)" in after, after
    logs = list(state.joinpath("warroom").glob("crash-*.log"))
    assert len(logs) == 1, logs
    assert str(logs[0]) in re.sub(r"\s*\n\s*", "", after) or str(logs[0]) in after
    log = logs[0].read_text()
    assert "injected: zoom broke" in log
    assert "in broken" in log
    assert "mode: drill" in log
    # The drill was stopped and scored against the incident the commander opened.
    with Record.open(db) as record:
        (incident,) = record.incidents.list()
    assert re.search(rf"(?i)score.*{incident.id}", after), after
    # ... and the score's inputs are in the record: review shows the same score later.
    with Record.open(db) as record:
        score, why = recorded_score(record, incident.id)
    assert score is not None, why
    earned, possible = score.points
    assert f"{earned}/{possible}" in after
    verify = subprocess.run(
        [sys.executable, "-c", BROKEN_ZOOM, "--db", str(db), "verify"],
        capture_output=True, text=True, env={**env, "PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_an_error_in_a_handler_is_logged_and_the_exit_code_fails(
    make_app: AppFactory, record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: the console exits at once with return code 1 and the log written."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    incident = record.incidents.open("Shell in orchestrator", severity="P1")

    def broken(self: Any) -> None:
        raise KeyError("injected")

    monkeypatch.setattr(WarRoomScreen, "action_zoom", broken)
    app = make_app(incident_id=incident.id)

    async def press_z() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room")
            await pilot.press("z")
            await until(pilot, lambda: not app.is_running, "the console closed")

    with pytest.raises(KeyError):  # Pilot raises what stopped the app
        await press_z()
    assert app.return_code == 1
    assert app.crash_log is not None
    assert app.crash_log.parent == tmp_path / "state" / "warroom"
    text = app.crash_log.read_text()
    assert f"incident: {incident.id}" in text
    assert "KeyError: 'injected'" in text


def test_run_console_raises_console_crashed_with_the_log(
    record: Record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error past Textual's own handling (here: building the app's driver) is caught too."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def no_driver(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise OSError("injected: no terminal")

    monkeypatch.setattr(WarRoomApp, "run", no_driver)
    with pytest.raises(ConsoleCrashed) as crashed:
        run_console(Services(record, mode="live"))
    assert isinstance(crashed.value.error, OSError)
    assert crashed.value.log is not None
    assert "no terminal" in crashed.value.log.read_text()


def test_the_log_holds_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    webhook = "https://hooks.slack.example/services/T0000/B0000/abcdefghijklmnopqrstuvwx"
    monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", webhook)
    monkeypatch.setenv("WARROOM_PAGERDUTY_ROUTING_KEY", "R0UT1NGKEY0123456789abcdef")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    settings = Settings()
    try:
        raise ConnectionError(
            f"POST {webhook} failed; routing R0UT1NGKEY0123456789abcdef; "
            "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload; https://ic:hunter22@proxy/"
        )
    except ConnectionError as error:
        log = write_crash_log(error, settings=settings, about={"mode": "live"})
    assert log is not None
    text = log.read_text()
    for secret in ("abcdefghijklmnopqrstuvwx", "R0UT1NGKEY", "eyJhbGci", "hunter22"):
        assert secret not in text, text
    assert "ConnectionError" in text
    assert log.stat().st_mode & 0o077 == 0
    assert scrubbed("nothing secret here", settings) == "nothing secret here"
