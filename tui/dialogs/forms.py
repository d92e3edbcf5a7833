"""Small forms for the incident keys: open incident, add note, set severity, yes/no questions.

Each is a ModalScreen that dismisses with a plain value (or None when
cancelled); the war-room screen's worker writes the record, so a form never
touches storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from store import SEVERITIES
from tui.textual_workarounds import StyledOnce
from tui.widgets.toggles import Checkbox  # its state shows without colour

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewIncident:
    title: str
    severity: str


class FormScreen(StyledOnce, ModalScreen[T | None], Generic[T]):
    """A centred dialog: escape cancels, ctrl+s submits, the first field takes focus."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Save", id="form.submit"),
    ]
    TITLE_TEXT = ""
    SUBMIT_LABEL = "Save"  # what the submit button says: what it does
    DIALOG_CLASSES = "dialog"
    """The dialog box's classes, set as it is built: a class added once mounted restyles it."""

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.DIALOG_CLASSES):
            yield Label(Text(self.TITLE_TEXT), classes="dialog-title", markup=False)
            yield from self.compose_fields()
            yield Static("", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.SUBMIT_LABEL, variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def value(self) -> T | None:
        """The form's value, or None after `self.error(...)` said what is wrong."""
        raise NotImplementedError

    def error(self, message: str, *, field: str | None = None) -> None:
        """Say what is wrong; the cursor goes to the faulty `field` (a selector) when named."""
        self.query_one(".dialog-error", Static).update(Text(message))
        if field is not None:
            for widget in self.query(field):
                widget.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        value = self.value()
        if value is not None:
            self.dismiss(value)

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()


class OpenIncidentForm(FormScreen[NewIncident]):
    TITLE_TEXT = "Open an incident"

    def __init__(self, title: str = "", severity: str = "P2") -> None:
        super().__init__()
        self._title = title
        self._severity = severity

    def compose_fields(self) -> ComposeResult:
        yield Label("Title")
        yield Input(self._title, placeholder="what is happening", id="title")
        yield Label("Severity")
        yield Select([(s, s) for s in SEVERITIES], value=self._severity, allow_blank=False,
                     id="severity")

    def value(self) -> NewIncident | None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.error("an incident needs a title")
            return None
        return NewIncident(title, str(self.query_one("#severity", Select).value))


class NoteForm(FormScreen[str]):
    TITLE_TEXT = "Add a note to the timeline"

    def compose_fields(self) -> ComposeResult:
        yield Input(placeholder="what you saw, decided or did", id="note")

    def value(self) -> str | None:
        note = self.query_one("#note", Input).value.strip()
        if not note:
            self.error("an empty note adds nothing")
            return None
        return note


@dataclass(frozen=True, slots=True)
class Classified:
    """The severity form's answer."""

    severity: str
    data_breach: bool


DATA_BREACH_LABEL = "Personal data involved (GDPR notice due 72 h from detection)"


class SeverityForm(FormScreen[Classified]):
    """The runbook severity, and whether personal data is involved (the GDPR 72 h clock:
    learnt mid-incident, when the exfiltration turns out to carry guests' data)."""

    TITLE_TEXT = "Set the severity"

    def __init__(self, current: str, data_breach: bool = False) -> None:
        super().__init__()
        self._current = current
        self._data_breach = data_breach

    def compose_fields(self) -> ComposeResult:
        yield Label(Text(f"now {self._current}"), markup=False)
        yield Select([(s, s) for s in SEVERITIES], value=self._current, allow_blank=False,
                     id="severity")
        yield Checkbox(DATA_BREACH_LABEL, self._data_breach, id="data-breach", compact=True)

    def value(self) -> Classified | None:
        return Classified(str(self.query_one("#severity", Select).value),
                          self.query_one("#data-breach", Checkbox).value)


class AskScreen(StyledOnce, ModalScreen[bool]):
    """A yes/no question: y or enter says yes, n or escape says no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="ask.yes"),
        Binding("n,escape", "answer(False)", "No", id="ask.no"),
    ]
    # Focused by Textual once mounted: an on_mount query would fail on a dialog already
    # dismissed (a key then escape, faster than the mount).
    AUTO_FOCUS = "#yes"

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self._question = question
        self._detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self._question), classes="dialog-title", markup=False)
            if self._detail:
                yield Static(Text(self._detail), markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="primary", id="yes")
                yield Button("No (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
