"""A checkbox and a radio button whose state shows without colour.

Textual draws on and off with the same glyph in two colours: on a monochrome
terminal, to a colour-blind commander or in a screenshot pasted into a report
they look the same. These draw the glyph only when on (X, ●) and a blank when
off, colours unchanged.
"""

from __future__ import annotations

from textual.widgets import Checkbox as TextualCheckbox
from textual.widgets import RadioButton as TextualRadioButton

OFF = " "


class Checkbox(TextualCheckbox):
    """A `Checkbox` showing X when ticked, a blank when not."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 - per state here
        return TextualCheckbox.BUTTON_INNER if self.value else OFF


class RadioButton(TextualRadioButton):
    """A `RadioButton` showing ● when chosen, a blank when not."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 - per state here
        return TextualRadioButton.BUTTON_INNER if self.value else OFF
