"""The drill's score as a modal: each line of the answer key, what the team did, its points.

Built from `actions.drill.score.Score` (the same lines `warroom drill` prints
when it ends), in the checklist's and the runbook's words. The table shows
the verdict, the points, the item, what was done and what was expected; the
line under it says, for the highlighted line, how it was done or, when
missed, how it is done from the console (the cursor starts on the first
missed line). The notes and the debrief scroll under it: tab reaches them,
the arrows and page keys read on. When there is nothing to score yet the
modal says why. Escape, enter or S closes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from tui.safe import safe_text
from tui.screens.styled_once import StyledOnce

if TYPE_CHECKING:
    from actions.drill.score import Score, ScoreLine

ITEM_WIDTH = 36  # a long item is cut in the table; the line under it gives it whole
FAILED = ("MISSED", "WRONG")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\N{HORIZONTAL ELLIPSIS}"


def points_text(line: ScoreLine) -> str:
    """`1/1`, `0/2`; `-` for a line that earns nothing either way."""
    return f"{line.earned}/{line.possible}" if line.possible else "-"


def how_text(line: ScoreLine) -> str:
    """The highlighted line in full: the item, what was expected, and how (to do) it."""
    expected = f" (expected {line.expected})" if line.expected else ""
    verb = "To do it" if line.verdict in FAILED else "How"
    how = f"\n{verb}: {line.how}" if line.how else ""
    return f"{line.item}: {line.result}{expected}{how}"


class ScoreScreen(StyledOnce, ModalScreen[None]):
    """The score against the answer key, per line with its points; or why there is none yet."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,S", "dismiss", "Close", id="score.close"),
    ]

    def __init__(self, score: Score | None, *, status: str = "", why_none: str = "") -> None:
        super().__init__()
        self.score = score
        self.status = status
        self.why_none = why_none

    def compose(self) -> ComposeResult:
        score = self.score
        with Vertical(classes="dialog score-dialog"):
            yield Label("Drill score", classes="dialog-title")
            if self.status:
                yield Static(Text(safe_text(self.status)), id="score-status", markup=False)
            if score is None:
                yield Static(
                    Text(safe_text(self.why_none or "nothing to score yet")),
                    id="score-summary",
                    markup=False,
                )
                return
            earned, possible = score.points
            yield Static(
                Text(
                    safe_text(
                        f"{score.scenario} · {score.incident_id} · {earned}/{possible} points"
                    )
                ),
                id="score-summary",
                markup=False,
            )
            table: DataTable[Text] = DataTable(id="score-table", cursor_type="row")
            # The verdict and the points first: at 80 columns they are what must show.
            table.add_columns("verdict", "points", "item", "result", "expected")
            styles = self._verdict_styles()
            for line in score.items:
                table.add_row(
                    Text(line.verdict, style=styles.get(line.verdict, "")),
                    Text(points_text(line), justify="right"),
                    Text(_cut(safe_text(line.item), ITEM_WIDTH)),
                    Text(safe_text(line.result)),
                    Text(safe_text(line.expected)),
                )
            yield table
            yield Static("", id="score-how", markup=False)
            why = [*score.notes, score.explanation.strip()]
            text = "\n".join(line for line in why if line)
            if text:
                with VerticalScroll(id="score-why-scroll"):
                    yield Static(Text(safe_text(text, multiline=True)), id="score-why",
                                 markup=False)

    def _verdict_styles(self) -> dict[str, str]:
        """Verdict colours from the theme, so dark and light both read well."""
        theme = self.app.current_theme
        good = theme.success or "green"
        bad = f"bold {theme.error or 'red'}"
        return {
            "met": good,
            "right": good,
            "MISSED": bad,
            "WRONG": bad,
            "extra": theme.warning or "yellow",
        }

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            table.focus()
            if self.score is not None:
                missed = [i for i, line in enumerate(self.score.items) if line.verdict in FAILED]
                table.move_cursor(row=missed[0] if missed else 0)
                self._show_how(table.cursor_row)

    @on(DataTable.RowHighlighted, "#score-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_how(event.cursor_row)

    def _show_how(self, row: int) -> None:
        if self.score is None or not 0 <= row < len(self.score.items):
            return
        line = self.score.items[row]
        self.query_one("#score-how", Static).update(Text(safe_text(how_text(line), multiline=True)))
