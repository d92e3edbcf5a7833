"""The frame every war-room pane shares: a titled box the screen can zoom and tab between."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widget import Widget


class Pane(Vertical):
    """A titled pane; `focus_target` is the widget that takes focus when the pane is chosen."""

    PANE_TITLE = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=f"pane {classes or ''}".strip())
        self.border_title = self.PANE_TITLE

    @property
    def focus_target(self) -> Widget:
        """The widget inside the pane that should hold focus (the pane's main view)."""
        return self

    def focus_pane(self) -> None:
        self.focus_target.focus()
