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


class PhaseBar(Horizontal):
    """Five phases; `phase` (set by the screen) gets the `-current` class, earlier ones `-done`."""

    def compose(self) -> ComposeResult:
        for number, phase in enumerate(PHASES, start=1):
            with Horizontal(id=f"phase-{phase}", classes="phase"):
                yield Label(Text(f"{number} {PHASE_TITLES[phase]} {PHASE_WINDOWS[phase]}"),
                            classes="phase-long", markup=False)
                yield Label(Text(f"{number} {SHORT_TITLES[phase]}"), classes="phase-short",
                            markup=False)

    def set_phase(self, phase: str | None) -> None:
        current = PHASES.index(phase) if phase in PHASES else -1
        for number, name in enumerate(PHASES):
            label = self.query_one(f"#phase-{name}", Horizontal)
            label.set_class(number == current, "-current")
            label.set_class(number < current, "-done")
