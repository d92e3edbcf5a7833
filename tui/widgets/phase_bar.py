"""The runbook's five phases with their time boxes, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from store import PHASE_TITLES, PHASES

# The runbook's time boxes, in minutes from detection.
PHASE_WINDOWS = {
    "detection": "0-15m",
    "containment": "15-30m",
    "eradication": "30-60m",
    "recovery": "1-2h",
    "lessons-learned": "after",
}

# For narrow terminals, where the full titles would be cut.
SHORT_TITLES = {
    "detection": "Detect",
    "containment": "Contain",
    "eradication": "Eradicate",
    "recovery": "Recover",
    "lessons-learned": "Lessons",
}


def long_title(number: int, phase: str) -> str:
    return f"{number} {PHASE_TITLES[phase]} {PHASE_WINDOWS[phase]}"


def _title(number: int, phase: str, *, short: bool) -> Text:
    return Text(f"{number} {SHORT_TITLES[phase]}" if short else long_title(number, phase))


# Each phase gets a fifth of the bar: below this width a long title would be cut.
LONG_TITLES_WIDTH = len(PHASES) * (max(len(long_title(n, p)) for n, p in enumerate(PHASES, 1)) + 2)


class PhaseBar(Horizontal):
    """Five phases; `phase` (set by the screen) gets the `-current` class, earlier ones `-done`.

    Short titles (`-short`) when the long ones would not fit in a fifth of the width.
    """

    def compose(self) -> ComposeResult:
        # The bar spans the terminal: decide from its width before the first frame, not after
        # it (at 80 columns the first frame showed the long titles cut into each other). One
        # label a phase, its text swapped on a resize: a hidden short one beside each long one
        # cost the first frame five widgets to build and style.
        short = self.app.size.width < LONG_TITLES_WIDTH
        self.set_class(short, "-short", update=False)
        for number, phase in enumerate(PHASES, start=1):
            with Horizontal(id=f"phase-{phase}", classes="phase"):
                yield Label(_title(number, phase, short=short), markup=False)

    def on_resize(self) -> None:
        short = self.size.width < LONG_TITLES_WIDTH
        if short == self.has_class("-short"):
            return
        self.set_class(short, "-short")
        for number, (phase, label) in enumerate(zip(PHASES, self.query(Label), strict=True), 1):
            label.update(_title(number, phase, short=short))

    def set_phase(self, phase: str | None) -> None:
        current = PHASES.index(phase) if phase in PHASES else -1
        for number, name in enumerate(PHASES):
            label = self.query_one(f"#phase-{name}", Horizontal)
            label.set_class(number == current, "-current")
            label.set_class(number < current, "-done")
