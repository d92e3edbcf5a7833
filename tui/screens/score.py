"""The drill's score as a modal: each item of the answer key, what the team did, met or not.

Built from `actions.drill.score.Score` (the same figures `warroom drill`
prints when it ends); when there is nothing to score yet the modal says why.
Escape, enter or S closes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from actions.drill.score import RUNBOOK_STEPS
from tui.safe import safe_text
from tui.widgets.clocks import duration, target_text

if TYPE_CHECKING:
    from actions.drill.score import Score, TimeScore

ScoreRow = tuple[str, str, str, str, str]  # item, result, expected, verdict, how
ITEM_WIDTH = 40  # a long step title is cut in the table; its id stays in the "how" column


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _timing_row(timing: TimeScore) -> ScoreRow:
    target = f"< {target_text(timedelta(seconds=timing.target))}"
    if timing.met is None and timing.seconds is None:
        return (timing.name.upper(), "-", target, "n/a", timing.basis)
    result = "not reached" if timing.seconds is None else duration(
        timedelta(seconds=timing.seconds)
    )
    return (timing.name.upper(), result, target, "met" if timing.met else "MISSED", timing.basis)


def score_rows(score: Score) -> list[ScoreRow]:
    """One row per item of the answer key, in the order `Score.lines()` gives them."""
    rows = [_timing_row(t) for t in (score.mttd, score.mttc, score.mttr)]
    rows.append(("Severity", score.severity_given or "not set", score.severity_expected,
                 "right" if score.severity_correct else "WRONG", ""))
    rows.append(("Decision", score.decision_given or "none recorded", score.decision_expected,
                 "right" if score.decision_correct else "WRONG", ""))
    for item in score.containment:
        rows.append((f"Contain: {item.action} {item.target}",
                     "done" if item.done else "not done", "done",
                     "met" if item.done else "MISSED", item.how))
    for step in score.steps_done:
        rows.append((f"Step: {RUNBOOK_STEPS[step]['title']}", "done", "done", "met", step))
    for step in score.steps_missed:
        rows.append((f"Step: {RUNBOOK_STEPS[step]['title']}", "missed", "done", "MISSED", step))
    for extra in score.extra_actions:
        rows.append((f"Extra: {extra}", "done", "not in the answer key", "extra", ""))
    return rows


class ScoreScreen(ModalScreen[None]):
    """The score against the answer key, per item; or why there is none yet."""

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
                yield Static(Text(safe_text(self.why_none or "nothing to score yet")),
                             id="score-summary", markup=False)
                return
            earned, possible = score.points
            yield Static(
                Text(safe_text(f"{score.scenario} · {score.incident_id} · "
                               f"{earned}/{possible} points")),
                id="score-summary", markup=False,
            )
            table: DataTable[Text] = DataTable(id="score-table", cursor_type="row")
            # The verdict first: at 80 columns it is what must show.
            table.add_columns("verdict", "item", "result", "expected", "how")
            styles = self._verdict_styles()
            for item, result, expected, verdict, how in score_rows(score):
                table.add_row(
                    Text(verdict, style=styles.get(verdict, "")),
                    Text(_cut(safe_text(item), ITEM_WIDTH)), Text(safe_text(result)),
                    Text(safe_text(expected)), Text(safe_text(how)),
                )
            yield table
            why = [*score.notes, score.explanation.strip()]
            text = "\n".join(line for line in why if line)
            if text:
                yield Static(Text(safe_text(text, multiline=True)), id="score-why", markup=False)

    def _verdict_styles(self) -> dict[str, str]:
        """Verdict colours from the theme, so dark and light both read well."""
        theme = self.app.current_theme
        good = theme.success or "green"
        bad = f"bold {theme.error or 'red'}"
        return {"met": good, "right": good, "MISSED": bad, "WRONG": bad,
                "extra": theme.warning or "yellow"}

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            table.focus()
