"""tui.replay: the review's replay clock and the times a reviewer types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tui.replay import SPEEDS, BadMoment, ReplayClock, parse_moment, speed_text

DETECTED = datetime(2026, 3, 14, 9, 30, 0, tzinfo=UTC)
WALL = datetime(2026, 3, 20, 12, 0, 0, tzinfo=UTC)


class Ticks:
    """Real time as a test says it passes."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+12m", DETECTED + timedelta(minutes=12)),
        ("+1h5m", DETECTED + timedelta(hours=1, minutes=5)),
        ("+1h 5m 10s", DETECTED + timedelta(hours=1, minutes=5, seconds=10)),
        ("90s", DETECTED + timedelta(seconds=90)),
        ("-2m", DETECTED - timedelta(minutes=2)),
        ("09:42", datetime(2026, 3, 14, 9, 42, tzinfo=UTC)),
        ("09:42:10", datetime(2026, 3, 14, 9, 42, 10, tzinfo=UTC)),
        ("2026-03-14T09:42:00Z", datetime(2026, 3, 14, 9, 42, tzinfo=UTC)),
        ("2026-03-14T11:42:00+02:00", datetime(2026, 3, 14, 9, 42, tzinfo=UTC)),
        ("2026-03-14 09:42", datetime(2026, 3, 14, 9, 42, tzinfo=UTC)),
        ("end", None),
        (" Live ", None),
    ],
)
def test_typed_moments(typed: str, expected: datetime | None) -> None:
    assert parse_moment(typed, DETECTED) == expected


def test_a_time_of_day_after_midnight_lands_on_the_incidents_next_day() -> None:
    late = datetime(2026, 3, 14, 23, 50, tzinfo=UTC)
    moment = parse_moment("00:10", late, late + timedelta(hours=2))
    assert moment == datetime(2026, 3, 15, 0, 10, tzinfo=UTC)
    assert parse_moment("23:55", late) == datetime(2026, 3, 14, 23, 55, tzinfo=UTC)


@pytest.mark.parametrize("typed", ["", "soon", "+12x", "25:00", "09:61", "12", "+", "[red]x"])
def test_bad_moments_say_what_would_do(typed: str) -> None:
    with pytest.raises(BadMoment, match=r"\+12m"):
        parse_moment(typed, DETECTED)


@pytest.mark.parametrize(
    "typed",
    [
        "+99999999h",  # past the year 9999
        "-99999999h",  # before the year 1
        "+1000000000000000000000m",  # more than a timedelta holds
        "+" + "9" * 5000 + "s",  # more digits than int() reads
        "0001-01-01T00:00:00+01:00",  # the year 0 in UTC
        "9999-12-31T23:59:59-01:00",  # the year 10000 in UTC
    ],
)
def test_a_time_out_of_range_says_so_with_the_recordings_span(typed: str) -> None:
    """Each was an OverflowError (or ValueError): the console stopped, the CLI's --at
    printed a traceback."""
    last = DETECTED + timedelta(minutes=40)
    with pytest.raises(BadMoment, match=r"out of range") as raised:
        parse_moment(typed, DETECTED, last)
    said = str(raised.value)
    assert "detection at 2026-03-14 09:30:00 UTC" in said
    assert "the recording ends at 2026-03-14 10:10:00 UTC" in said
    assert "+12m" in said
    assert len(said) < 300  # the digits are cut, not repeated whole


def test_at_the_end_the_clock_is_the_wall_clock_and_nothing_is_cut() -> None:
    clock = ReplayClock(lambda: WALL)
    assert clock.at_end
    assert clock() == WALL
    assert clock.cut() is None


def test_playing_moves_at_its_speed_and_pausing_holds() -> None:
    ticks = Ticks()
    clock = ReplayClock(lambda: WALL, at=DETECTED, speed=10, playing=True, monotonic=ticks)
    ticks.seconds += 6
    assert clock() == DETECTED + timedelta(minutes=1)
    clock.pause()
    ticks.seconds += 60
    assert clock.cut() == DETECTED + timedelta(minutes=1)
    assert clock.change_speed(+1) == 30
    clock.play(DETECTED)
    ticks.seconds += 2
    assert clock() == DETECTED + timedelta(minutes=2)


def test_a_speed_change_keeps_the_moment_reached() -> None:
    ticks = Ticks()
    clock = ReplayClock(lambda: WALL, at=DETECTED, speed=60, playing=True, monotonic=ticks)
    ticks.seconds += 1
    assert clock.change_speed(-1) == 30
    ticks.seconds += 2
    assert clock() == DETECTED + timedelta(minutes=2)
    clock.speed = SPEEDS[-1]
    assert clock.change_speed(+1) == SPEEDS[-1]  # the fastest stays the fastest
    clock.speed = SPEEDS[0]
    assert clock.change_speed(-1) == SPEEDS[0]


def test_play_from_the_end_starts_at_detection_and_stops_at_the_end() -> None:
    ticks = Ticks()
    clock = ReplayClock(lambda: WALL, monotonic=ticks)
    clock.last = DETECTED + timedelta(minutes=5)
    clock.change_speed(+1)
    clock.play(DETECTED)
    assert clock() == DETECTED
    assert not clock.finished()
    ticks.seconds += 1000
    assert clock() == clock.last
    assert clock.finished()
    clock.seek(None)
    assert clock.at_end
    assert not clock.playing
    assert clock() == WALL


def test_a_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="above zero"):
        ReplayClock(lambda: WALL, speed=0)
    assert speed_text(300) == "300x"
    assert speed_text(0.5) == "0.5x"
