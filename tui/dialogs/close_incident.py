"""Ending an incident, as a modal: resolve it (recovered) or close it (over, with why);
a closed incident is reopened here instead (with why).

Resolving stops the MTTR clock and keeps the incident open for Lessons Learned.
Closing records the resolution; the header then shows it closed with its
clocks stopped, new alerts no longer join it, and no new drill or live session
takes it. The modal only answers: the war room's worker writes the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from store import Incident
from tui.safe import safe_text
from tui.textual_workarounds import StyledOnce

RESOLVE, CLOSE, REOPEN = "resolve", "close", "reopen"


@dataclass(frozen=True, slots=True)
class EndAnswer:
    """What to do (`resolve`, `close`, `reopen`) and the words for it (resolution, note, why)."""

    what: str
    text: str


class CloseIncidentScreen(StyledOnce, ModalScreen[EndAnswer | None]):
    """enter closes with the resolution typed (ctrl+r resolves only); escape changes nothing.

    For a closed incident: enter reopens it, for the reason typed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="close.cancel"),
        Binding("ctrl+r", "resolve", "Resolve only", id="close.resolve"),
    ]

    def __init__(self, incident: Incident, still_applied: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.incident = incident
        self.still_applied = still_applied
        """Its containments still in the cluster (`actions.runbook.own_changes.still_applied`)."""

    @property
    def reopening(self) -> bool:
        return not self.incident.is_open

    @property
    def can_resolve(self) -> bool:
        return self.incident.is_open and self.incident.recovered_at is None

    def compose(self) -> ComposeResult:
        incident = self.incident
        with Vertical(classes="dialog close-dialog"):
            if self.reopening:
                yield Label(
                    Text(safe_text(f"Reopen {incident.id}")), classes="dialog-title", markup=False
                )
                yield Static(
                    Text(safe_text(f"Closed: {incident.resolution or 'no resolution recorded'}")),
                    markup=False,
                )
                yield Label("Why it is not over (recorded)")
                yield Input(placeholder="e.g. the beacon came back", id="why")
            else:
                yield Label(
                    Text(safe_text(f"Resolve or close {incident.id}")),
                    classes="dialog-title",
                    markup=False,
                )
                if self.can_resolve:
                    yield Static(
                        "Resolve: the service is recovered. The MTTR clock stops; the incident "
                        "stays open for Lessons Learned.",
                        markup=False,
                    )
                yield Static(
                    "Close: it is over. Its clocks stop, new alerts no longer join it, and no "
                    "new drill or live session takes it.",
                    markup=False,
                )
                if self.still_applied:
                    yield Static(
                        Text(safe_text(
                            "Still applied in the cluster: " + ", ".join(self.still_applied)
                            + ". Closing leaves them in place (and what they cut off keeps "
                            "failing): R restores first, with unblock for the IP blocks."
                        )),
                        id="close-still-applied",
                        markup=False,
                    )
                yield Label("Resolution: what happened and why it is over (needed to close)")
                yield Input(placeholder="e.g. C2 blocked, token rotated, no recurrence", id="why")
            yield Static("", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                if self.reopening:
                    yield Button("Reopen (enter)", variant="warning", id="reopen")
                else:
                    if self.can_resolve:
                        yield Button("Resolve only (ctrl+r)", id="resolve")
                    yield Button("Close (enter)", variant="error", id="close")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#why", Input).focus()

    def _text(self) -> str:
        return self.query_one("#why", Input).value.strip()

    def _refuse(self, message: str) -> None:
        self.query_one(".dialog-error", Static).update(Text(message))
        self.query_one("#why", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_resolve(self) -> None:
        if not self.can_resolve:
            self._refuse(
                safe_text(
                    f"{self.incident.id} is resolved already"
                    if self.incident.is_open
                    else f"{self.incident.id} is closed: reopen it first"
                )
            )
            return
        self.dismiss(EndAnswer(RESOLVE, self._text()))

    def _finish(self) -> None:
        """enter: close with the resolution, or reopen for the reason."""
        text = self._text()
        if not text:
            self._refuse(
                "say why it is not over: the record keeps it"
                if self.reopening
                else "say how it was resolved: the record and the report keep it"
            )
            return
        self.dismiss(EndAnswer(REOPEN if self.reopening else CLOSE, text))

    @on(Input.Submitted, "#why")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._finish()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id in (CLOSE, REOPEN):
            self._finish()
        elif event.button.id == RESOLVE:
            self.action_resolve()
        else:
            self.action_cancel()
