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


# Each phase gets a fifth of the bar: below this width a long title would be cut.
LONG_TITLES_WIDTH = len(PHASES) * (max(len(long_title(n, p)) for n, p in enumerate(PHASES, 1)) + 2)


class PhaseBar(Horizontal):
    """Five phases; `phase` (set by the screen) gets the `-current` class, earlier ones `-done`.

    Short titles (`-short`) when the long ones would not fit in a fifth of the width.
    """

    def on_mount(self) -> None:
        # The bar spans the terminal: decide from its width before the first frame, not after
        # it (at 80 columns the first frame showed the long titles cut into each other).
        self.set_class(self.app.size.width < LONG_TITLES_WIDTH, "-short")

    def on_resize(self) -> None:
        self.set_class(self.size.width < LONG_TITLES_WIDTH, "-short")

    def compose(self) -> ComposeResult:
        for number, phase in enumerate(PHASES, start=1):
            with Horizontal(id=f"phase-{phase}", classes="phase"):
                yield Label(Text(long_title(number, phase)), classes="phase-long",
                            markup=False)
                yield Label(Text(f"{number} {SHORT_TITLES[phase]}"), classes="phase-short",
                            markup=False)

    def set_phase(self, phase: str | None) -> None:
        current = PHASES.index(phase) if phase in PHASES else -1
        for number, name in enumerate(PHASES):
            label = self.query_one(f"#phase-{name}", Horizontal)
            label.set_class(number == current, "-current")
            label.set_class(number < current, "-done")
