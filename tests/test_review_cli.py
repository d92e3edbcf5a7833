"""`warroom review --at --speed` as a user types it: bad input says why before any console opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from store import Record
from tests.plugins.record import FrozenClock
from tests.plugins.terminal import terminal, warroom_argv
from tui.widgets.phase_bar import LONG_TITLES_WIDTH

REPO = Path(__file__).resolve().parents[1]


def warroom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def incident(record: Record, clock: FrozenClock) -> str:
    opened = record.incidents.open("Exfiltration over DNS", severity="P1")
    clock.advance(minutes=20)
    record.timeline.add(opened.id, "note", "contained", actor="ic")
    return opened.id


@pytest.mark.parametrize("typed", ["soon", "25:00", "+12x"])
def test_a_bad_start_time_is_a_usage_error_that_says_what_would_do(
    incident: str, typed: str
) -> None:
    done = warroom("review", incident, "--at", typed)
    assert done.returncode == 2
    assert "--at" in done.stderr
    assert "+12m" in done.stderr
    assert not done.stdout


@pytest.mark.parametrize("typed", ["+99999999h", "-99999999h", "+1000000000000000000000m"])
def test_a_start_time_out_of_range_is_a_usage_error_not_a_traceback(
    incident: str, typed: str
) -> None:
    """OverflowError: date value out of range (or Python int too large to convert to C
    int) was printed as a traceback, exit 1."""
    done = warroom("review", incident, f"--at={typed}")  # = : argparse takes -9h for an option
    assert done.returncode == 2, done.stderr
    assert f"warroom review: --at: {typed!r} is out of range" in done.stderr
    assert "Traceback" not in done.stderr
    assert not done.stdout


@pytest.mark.parametrize("speed", ["0", "-3", "fast"])
def test_a_bad_speed_is_a_usage_error(incident: str, speed: str) -> None:
    done = warroom("review", incident, "--speed", speed)
    assert done.returncode == 2
    assert "speed" in done.stderr
    assert "between 0 and" not in done.stderr  # 0 is refused: it said "between 0 and 100000"


def test_good_options_still_need_a_terminal(incident: str) -> None:
    done = warroom("review", incident, "--at", "+5m", "--speed", "10x")
    assert done.returncode == 2
    assert "needs a terminal" in done.stderr


@pytest.mark.parametrize("typed", [("--at", "-2m"), ("--at=-2m",)])
def test_a_time_before_detection_is_taken_spaced_or_attached(
    incident: str, typed: tuple[str, ...]
) -> None:
    """argparse took the -2m of `--at -2m` for an option: "expected one argument"."""
    done = warroom("review", incident, *typed)
    assert (done.returncode, done.stderr.strip()) == (
        2, "warroom review: the console needs a terminal; try `warroom report ID`"), done.stderr


def test_an_unknown_incident_fails_with_its_name(incident: str) -> None:
    done = warroom("review", "NSI-1999-01-01-001", "--at", "+5m")
    assert done.returncode == 1
    assert "no incident NSI-1999-01-01-001" in done.stderr


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_review_says_it_is_loading_then_the_truth_at_each_moment(
    incident: str, size: tuple[int, int]
) -> None:
    """The review console said "no incident: o opens one" while it read the record, drew the
    phase bar's long titles cut into each other at 80 columns, and `g -5m` showed the
    incident as if it had existed before it was opened."""
    with terminal(warroom_argv("review", incident), size=size) as console:
        console.wait_for(f"{incident} P1", what="the incident in the header")
        before = console.plain_output()
        assert "no incident" not in before
        assert "opens one" not in before
        if size[0] < LONG_TITLES_WIDTH:
            assert "Detection & Analysis" not in before
        console.press("g")
        console.wait_for("Go to")
        console.type("-5m")
        console.press("enter")
        screen = console.wait_for(f"{incident} not opened yet", what="the moment before it")
        assert f"{incident} P1" not in screen
        console.press("G")
        console.wait_for(f"{incident} P1", what="the end of the recording")
        console.press("q")
        assert console.wait_exit() == 0
