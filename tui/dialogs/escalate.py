"""The escalation form: a role of the escalation matrix, a note, and what will be notified how.

The roles come from the configuration (the runbook's matrix by default); for
the chosen role the form says which of its contact methods warroom will send
(PagerDuty, Slack, e-mail), which are not configured, and which a human must
do (phone). With no matrix configured it says so and escalates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Label, RadioSet, Static

from tui.dialogs.forms import FormScreen
from tui.safe import safe_text
from tui.widgets.toggles import RadioButton

if TYPE_CHECKING:
    from actions.config import AlertingSettings, EscalationContact

LEAD_ROLE = "Security Engineer"
"""The runbook's "security team lead": the matrix's Security Engineer (else its first role)."""
NO_MATRIX = (
    "No escalation matrix is configured: add [[escalation]] tables (role, primary, secondary, "
    "contact) to the configuration file. Nothing can be escalated from here."
)


@dataclass(frozen=True, slots=True)
class EscalateAnswer:
    role: str
    note: str


def lead_role(contacts: tuple[EscalationContact, ...]) -> str | None:
    """The security team lead's role in `contacts` (the decision point's escalation)."""
    for contact in contacts:
        if contact.role.casefold() == LEAD_ROLE.casefold():
            return contact.role
    return contacts[0].role if contacts else None


def channel_plan(contact: EscalationContact, alerting: AlertingSettings, *, drill: bool) -> str:
    """How each of the role's contact methods will go out, in words."""
    parts = []
    for method in contact.methods:
        if method == "phone":
            then = f" (then {contact.secondary})" if contact.secondary else ""
            parts.append(f"phone {contact.primary or contact.role}{then}: by hand")
            continue
        settings = getattr(alerting, method, None)
        if settings is None or not settings.enabled:
            parts.append(f"{method}: not configured")
        elif drill and not settings.drills:
            parts.append(f"{method}: off in drills")
        else:
            parts.append(f"{method}: queued and sent")
    return "; ".join(parts) or "no contact method"


class EscalateForm(FormScreen[EscalateAnswer]):
    """Pick a role, add a note; ctrl+s escalates, escape cancels."""

    TITLE_TEXT = "Escalate"
    DIALOG_CLASSES = "dialog escalate-dialog"  # wider where there is room

    def __init__(self, incident: str, contacts: tuple[EscalationContact, ...],
                 alerting: AlertingSettings, *, drill: bool = False) -> None:
        super().__init__()
        self.incident = incident
        self.contacts = contacts
        self.alerting = alerting
        self.drill = drill

    def compose_fields(self) -> ComposeResult:
        yield Label(Text(safe_text(f"Incident {self.incident}")), markup=False)
        if not self.contacts:
            yield Static(Text(NO_MATRIX), id="escalate-none", markup=False)
            return
        lead = lead_role(self.contacts)
        yield Label("Who (the escalation matrix)")
        with RadioSet(id="escalate-roles"):
            for contact in self.contacts:
                label = (f"{contact.role}: {contact.primary} (then {contact.secondary}) "
                         f"via {contact.contact}")
                yield RadioButton(Text(safe_text(label)), value=contact.role == lead)
        chosen = next(c for c in self.contacts if c.role == lead)
        plan = channel_plan(chosen, self.alerting, drill=self.drill)
        yield Static(Text(safe_text(plan)), id="escalate-channels", markup=False)
        yield Label("Note (sent with the escalation)")
        yield Input(placeholder="what they need to know", id="note")

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            # FormScreen's dialog, with an "Escalate" button (disabled with no matrix).
            if isinstance(widget, Button) and widget.id == "submit":
                widget.label = "Escalate"
                widget.disabled = not self.contacts
            yield widget

    def chosen(self) -> EscalationContact | None:
        if not self.contacts:
            return None
        index = self.query_one("#escalate-roles", RadioSet).pressed_index
        return self.contacts[max(index, 0)]

    def _show_plan(self) -> None:
        contact = self.chosen()
        if contact is not None:
            plan = channel_plan(contact, self.alerting, drill=self.drill)
            self.query_one("#escalate-channels", Static).update(Text(safe_text(plan)))

    @on(RadioSet.Changed, "#escalate-roles")
    def _role_changed(self) -> None:
        self._show_plan()

    def value(self) -> EscalateAnswer | None:
        contact = self.chosen()
        if contact is None:
            self.error("no escalation matrix is configured")
            return None
        return EscalateAnswer(contact.role, self.query_one("#note", Input).value.strip())
