"""The facilitator's strip in a drill: scenario, playing or paused, speed, position, next inject.

One line under the phase bar, only in `warroom drill`. The facilitator keys
(`tui/screens/keys/facilitator.py`) set what it shows; it reads nothing itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from tui.safe import safe_text

if TYPE_CHECKING:
    from actions.drill.player import PlayerStatus

PLAYING, PAUSED = "\N{BLACK RIGHT-POINTING TRIANGLE}", "\N{DOUBLE VERTICAL BAR}"
OVER = "\N{BLACK SQUARE}"
KEYS_HINT = "P pause · +/- speed · J inject next · S score"
KEYS_HINT_NARROW = "P · +/- · J · S"  # 80 columns: the keys still shown, ? says what they do


def scenario_clock(seconds: float) -> str:
    """Scenario seconds as T+mm:ss (T+h:mm:ss past an hour)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def speed_label(speed: float) -> str:
    return f"x{speed:g}"


def state_text(status: PlayerStatus) -> str:
    if status.finished:
        return f"{OVER} over"
    return f"{PAUSED} paused" if status.paused else f"{PLAYING} playing"


def next_text(status: PlayerStatus) -> str:
    if status.next_inject is None or status.next_at is None:
        return "no inject left"
    return (
        f"next {safe_text(status.next_inject)} at T+{scenario_clock(status.next_at)} "
        f"({status.remaining} to go)"
    )


def describe(scenario: str, status: PlayerStatus) -> str:
    """The strip's facts in one line of plain words (toasts and the score modal reuse it)."""
    return (
        f"drill {safe_text(scenario)} · {state_text(status)} {speed_label(status.speed)} · "
        f"T+{scenario_clock(status.position)}/{scenario_clock(status.length)} · {next_text(status)}"
    )


class DrillStrip(Horizontal):
    """Scenario name, state (-paused / -finished classes), speed, position, next inject, keys."""

    def __init__(self, scenario: str, *, id: str | None = "drill-strip") -> None:  # noqa: A002
        super().__init__(id=id)
        self.scenario = scenario
        self.status: PlayerStatus | None = None

    def compose(self) -> ComposeResult:
        yield Label(Text(f"DRILL {safe_text(self.scenario)}"), id="drill-scenario", markup=False)
        yield Label(Text("starting"), id="drill-state", markup=False)
        yield Label(Text(""), id="drill-position", markup=False)
        yield Label(Text(""), id="drill-next", markup=False)
        yield Label(Text(KEYS_HINT), id="drill-keys", markup=False)
        yield Label(Text(KEYS_HINT_NARROW), id="drill-keys-narrow", markup=False)

    def show_status(self, status: PlayerStatus) -> None:
        """Show where the drill is (called by the facilitator keys, about once a second)."""
        self.status = status
        self.set_class(status.paused and not status.finished, "-paused")
        self.set_class(status.finished, "-finished")
        self.query_one("#drill-state", Label).update(
            Text(f"{state_text(status)} {speed_label(status.speed)}")
        )
        self.query_one("#drill-position", Label).update(
            Text(f"T+{scenario_clock(status.position)}/{scenario_clock(status.length)}")
        )
        self.query_one("#drill-next", Label).update(Text(next_text(status)))

    def show_gone(self, why: str) -> None:
        """The drill is no longer reachable (it stopped): say so instead of freezing."""
        self.add_class("-finished")
        self.query_one("#drill-state", Label).update(Text(safe_text(why)))
