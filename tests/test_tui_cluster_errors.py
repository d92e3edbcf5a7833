"""A cluster that cannot be used is said at once in the console, in `warroom status`'s words:
no kubeconfig, an unknown context, nothing listening, a forbidden read, no answer."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Label

from actions.config import Settings
from actions.drill.server import DrillServerThread
from actions.kube.cluster import ClusterOptions
from actions.runbook.status import FIRST_ANSWER_TIMEOUT
from store import Record
from tests.plugins.terminal import terminal
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.cli import main
from tui.cli.console import console_services
from tui.screens.war_room import WarRoomScreen
from tui.widgets.policy_pane import PolicyPane

REPO = Path(__file__).resolve().parent.parent
# The drill user may do anything but touch NetworkPolicies (networking.k8s.io): a 403.
NO_NETWORK_POLICIES = [{
    "verbs": ["*"], "resources": ["*"],
    "apiGroups": ["", "apps", "security.istio.io", "networking.istio.io", "policy.linkerd.io",
                  "authorization.k8s.io"],
}]


@pytest.fixture
def sources_record(record_path: Path, clock: Any, record: Record) -> Iterator[Record]:
    with Record.open(record_path, clock=clock) as opened:
        yield opened


def status_says(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    """The problems `warroom status` prints about this cluster, without their prefixes."""
    main.main(["status", *args])
    said = capsys.readouterr()
    lines = [line.removeprefix("warroom status: ").removeprefix("PROBLEM: ")
             for line in (said.err + said.out).splitlines()
             if line.startswith(("warroom status: ", "PROBLEM: "))]
    assert lines, said
    return lines


async def console_says(record: Record, sources: Record, options: ClusterOptions) -> str:
    """The cluster banner of a live console started with these options (also in a toast)."""
    services, setup = console_services(
        record, sources, Settings(), mode="live", options=options, actor="ic"
    )
    app = WarRoomApp(services, setup=setup, clock=record.clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        banner = screen.query_one("#cluster-problem", Label)
        await until(pilot, lambda: banner.has_class("-shown") and len(app._notifications),
                    "the cluster banner and its toast")
        said = str(banner.render())
        notices = [str(n.message) for n in app._notifications]
        if services.cluster is None:  # no cluster at all: the panes say why, not "loading"
            state = screen.query_one(PolicyPane).query_one("#policy-state").render()
            assert str(state) == f"unavailable: {said.removeprefix('Cluster: ')}"
        app.exit()
    assert any(said.removeprefix("Cluster: ") == n for n in notices), (said, notices)
    return said.removeprefix("Cluster: ")


@pytest.mark.parametrize("case", ["missing", "unknown-context", "refused"])
async def test_a_cluster_that_cannot_be_reached_is_said_in_status_words(
    case: str, record: Record, sources_record: Record, tmp_path: Path,
    closed_port_kubeconfig: Path, drill_kubeconfig: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    options = {
        "missing": ClusterOptions(kubeconfig=str(tmp_path / "nonexistent")),
        "unknown-context": ClusterOptions(kubeconfig=str(drill_kubeconfig), context="nope"),
        "refused": ClusterOptions(kubeconfig=str(closed_port_kubeconfig)),
    }[case]
    flags = ["--kubeconfig", str(options.kubeconfig)]
    flags += ["--context", options.context] if options.context else []
    (expected,) = await asyncio.to_thread(status_says, capsys, *flags)
    assert await console_says(record, sources_record, options) == expected


async def test_a_forbidden_read_is_said_in_status_words(
    record: Record, sources_record: Record, drill_server: DrillServerThread,
    drill_kubeconfig: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    drill_server.state.set_rbac(NO_NETWORK_POLICIES)
    expected = await asyncio.to_thread(status_says, capsys, "--kubeconfig", str(drill_kubeconfig))
    said = await console_says(record, sources_record, ClusterOptions(
        kubeconfig=str(drill_kubeconfig)))
    assert said in expected
    assert "forbidden (403)" in said
    assert "networkpolicies" in said


async def test_a_server_that_does_not_answer_is_said_without_waiting_for_the_timeout(
    record: Record, sources_record: Record, drill_server: DrillServerThread,
    drill_kubeconfig: Path,
) -> None:
    drill_server.state.faults.add("GET", r"^/apis$", 0, delay=30.0)  # accepts, never answers
    said = await console_says(record, sources_record, ClusterOptions(
        kubeconfig=str(drill_kubeconfig), timeout=10.0))
    assert said.startswith("list the API groups: timed out")
    assert f"did not answer within {FIRST_ANSWER_TIMEOUT:g} s" in said


def test_live_with_a_missing_kubeconfig_says_so_on_screen(tmp_path: Path) -> None:
    """As a user types it: the words appear on the terminal, not "loading" forever."""
    env = {"HOME": str(tmp_path), "PYTHONPATH": str(REPO), "KUBECONFIG": ""}
    argv = [sys.executable, "-m", "tui.cli", "--db", str(tmp_path / "r.db"), "live",
            "--kubeconfig", "/nonexistent"]
    with terminal(argv, env=env, size=(80, 24)) as term:
        term.wait_for("LIVE")
        term.wait_for("kubeconfig /nonexistent does not exist")
        term.press("q")
        assert term.wait_exit() == 0
