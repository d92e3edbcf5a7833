"""One timeline entry in full: enter on a timeline row opens it, escape or enter closes it.

The timeline pane shows one cut line per entry; a decision's rationale, an
escalation's note or an action's manifest need the whole text and the data
recorded with it. Everything here came from the record (some of it from a
cluster or an alert): shown literally, controls replaced.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from store import TimelineEntry
from tui.safe import safe_text
from tui.screens.styled_once import StyledOnce
from tui.widgets.timeline_pane import relative


def entry_text(entry: TimelineEntry, detected_at: datetime | None) -> str:
    """The entry as the dialog shows it: when, what, who, the summary, then its data."""
    when = f"{entry.at:%Y-%m-%d %H:%M:%S} UTC"
    if detected_at is not None:
        when += f" ({relative(entry.at, detected_at)} from detection)"
    lines = [
        f"When:  {when}",
        f"Kind:  {entry.kind}",
        f"Who:   {entry.actor or '-'}",
        "",
        entry.summary,
    ]
    if entry.data:
        lines += ["", "Data:", json.dumps(entry.data, indent=2, sort_keys=True, default=str)]
    return safe_text("\n".join(lines), multiline=True)


class TimelineEntryScreen(StyledOnce, ModalScreen[None]):
    """The whole entry, scrolling when long; escape or enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss", "Close", id="timeline_entry.close"),
    ]
    AUTO_FOCUS = "#timeline-entry-body"

    def __init__(self, entry: TimelineEntry, detected_at: datetime | None) -> None:
        super().__init__()
        self.entry = entry
        self.detected_at = detected_at

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog timeline-entry-dialog"):
            yield Label(Text(f"Timeline entry {self.entry.seq}"), classes="dialog-title",
                        markup=False)
            with VerticalScroll(id="timeline-entry-body"):
                yield Static(Text(entry_text(self.entry, self.detected_at)), markup=False,
                             id="timeline-entry-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (esc)", id="close")

    def on_button_pressed(self) -> None:
        self.dismiss(None)
