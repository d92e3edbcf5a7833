"""The drill's Hubble: its `hubble` command, read by the runbook's line and by warroom's source."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from actions.drill.clock import ManualClock
from actions.falco.classify import Classifier
from actions.sources.hubble import HubbleFlow, HubbleSource, parse_flow
from store import Record
from tests.isolation_helpers import cut_off
from tests.plugins.drill_scenarios import DRILL_START
from tests.sources_helpers import RunningSource, eventually


def hubble(shim: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(shim), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


async def test_hubble_observe_prints_the_drills_flows_as_the_cli_does(drill_factory: Any) -> None:
    drill = await drill_factory("dns-exfiltration", clock=ManualClock(DRILL_START), speed=100_000)
    drill.player.subscribe(
        lambda e: (
            cut_off(drill.state, "orchestrator") if e.inject_id == "https-upload-starts" else None
        )
    )
    await drill.play()
    shim = drill.hubble_bin / "hubble"

    as_json = await asyncio.to_thread(
        hubble, shim, "observe", "-o", "json", "--last", "400", "--namespace", "voicehive"
    )
    assert as_json.returncode == 0, as_json.stderr
    lines = as_json.stdout.splitlines()
    assert len(lines) == 400
    flows = [parse_flow(line.encode()) for line in lines]
    dropped = [f for f in flows if isinstance(f, HubbleFlow) and f.verdict == "DROPPED"]
    assert dropped
    assert all(json.loads(line)["node_name"].startswith("voicehive-eu-west-1/") for line in lines)

    compact = await asyncio.to_thread(hubble, shim, "observe", "--verdict", "DROPPED")
    assert compact.returncode == 0, compact.stderr
    shown = compact.stdout.splitlines()
    assert len(shown) == 20  # the CLI's default --last
    assert all(" <> " in line and "Policy denied DROPPED" in line for line in shown)
    assert any("voicehive/orchestrator-6f8d9c7b5d-k2x9p:" in line for line in shown)


async def test_warroom_hubble_source_follows_the_drills_hubble(
    drill_factory: Any, record: Record
) -> None:
    """With the drill's bin first on PATH, `hubble observe -o json --follow` is this command."""
    drill = await drill_factory("dns-exfiltration", clock=ManualClock(DRILL_START))
    engine = drill.engine
    source = HubbleSource(
        record,
        Classifier.load(None),
        command=[str(drill.hubble_bin / "hubble"), "observe", "-o", "json", "--follow"],
    )
    running = RunningSource(source.run)
    try:
        await eventually(lambda: bool(running.health("hubble")))
        cut_off(drill.state, "orchestrator")
        ticks = iter(range(15, 100_000, 15))

        def dropped_seen() -> bool:
            # The command follows from where the file ends when it starts: tick until it shows.
            engine.tick(next(ticks))
            return any(f.verdict == "DROPPED" for f in running.of(HubbleFlow))

        await eventually(dropped_seen)
    finally:
        await running.stop()
    dropped = [f for f in running.of(HubbleFlow) if f.verdict == "DROPPED"]
    assert {f.drop_reason for f in dropped} == {"POLICY_DENIED"}


async def test_hubble_says_so_when_the_drill_has_stopped(
    drill_factory: Any, tmp_path: Path
) -> None:
    drill = await drill_factory("dns-exfiltration")
    shim = drill.hubble_bin / "hubble"
    copy = tmp_path / "hubble"
    copy.write_text(shim.read_text())
    copy.chmod(0o755)
    await drill.stop()
    gone = await asyncio.to_thread(hubble, copy, "observe")
    assert gone.returncode == 1
    assert "the drill has stopped" in gone.stderr
