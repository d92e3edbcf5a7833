"""The review's go-to form: type a time, the replay jumps there (bad input says why and stays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Button, Input, Label

from tui.dialogs.forms import FormScreen
from tui.replay import BadMoment, parse_moment
from tui.widgets.timeline_pane import relative


@dataclass(frozen=True, slots=True)
class GoTo:
    """Where to go: a moment, or None for the end of the recording."""

    moment: datetime | None


class GoToForm(FormScreen[GoTo]):
    """`g` in review mode: +12m, +1h5m, 09:42, an ISO time, or end."""

    CSS_PATH: ClassVar[str | Path] = Path(__file__).parent.parent / "styles" / "replay.tcss"
    TITLE_TEXT = "Go to a time in the recording"

    def __init__(self, start: datetime, last: datetime | None, current: datetime | None) -> None:
        super().__init__()
        self._start = start
        self._last = last
        self._current = current

    def compose_fields(self) -> ComposeResult:
        span = f"detection T+0 at {self._start:%Y-%m-%d %H:%M:%S} UTC"
        if self._last is not None:
            span += f", recording ends at {relative(self._last, self._start)}"
        yield Label(Text(span), id="goto-span", markup=False)
        now = "the end" if self._current is None else relative(self._current, self._start)
        yield Label(Text(f"now showing {now}"), id="goto-now", markup=False)
        yield Input(placeholder="+12m, +1h5m, 09:42, 2026-03-14T09:42:00Z or end", id="goto-time")
        yield Label(
            Text("+/- is relative to detection; times of day are UTC; end shows everything"),
            classes="goto-hint",
            markup=False,
        )

    def on_mount(self) -> None:
        self.query_one("#submit", Button).label = "Go"
        self.query_one("#goto-time", Input).focus()

    def value(self) -> GoTo | None:
        typed = self.query_one("#goto-time", Input).value
        try:
            return GoTo(parse_moment(typed, self._start, self._last))
        except BadMoment as error:
            self.error(str(error))
            return None
