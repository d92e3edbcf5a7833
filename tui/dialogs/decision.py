"""The runbook's decision point in Detection & Analysis, as a modal.

False positive (name the rule to tune; closes the incident), active attack
(to containment), policy misconfiguration (to remediation), escalate (notify
the security team lead). Nothing is chosen until the commander chooses: a
reason typed and ctrl+s alone records nothing. Dismisses with a
`DecisionChoice` or None; the war room asks again before a false positive
closes the incident.
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
from textual.widgets import Button, Input, Label, RadioSet, Static

from tui.screens.styled_once import StyledOnce
from tui.widgets.toggles import RadioButton  # its state shows without colour

CHOICES: tuple[tuple[str, str], ...] = (
    ("false-positive", "False positive: document it, tune the rule, close the incident"),
    ("active-attack", "Active attack: move to Containment now"),
    ("misconfiguration", "Policy misconfiguration: remediate the configuration"),
    ("escalate", "Escalate: notify the security team lead"),
)


@dataclass(frozen=True, slots=True)
class DecisionChoice:
    decision: str
    rationale: str
    rule_to_tune: str | None


class DecisionScreen(StyledOnce, ModalScreen[DecisionChoice | None]):
    """Pick one of the runbook's four decisions, say why; the rule to tune for a false positive."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="decision.cancel"),
        Binding("ctrl+s", "submit", "Record", id="decision.submit"),
    ]

    def __init__(self, rule: str | None = None) -> None:
        super().__init__()
        self._rule = rule

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Decision point", classes="dialog-title")
            with RadioSet(id="decision"):
                for _key, text in CHOICES:
                    yield RadioButton(text)
            yield Label("Why (recorded with the decision)")
            yield Input(placeholder="what the evidence shows", id="rationale")
            yield Label("Rule to tune (false positive)")
            yield Input(self._rule or "", id="rule")
            yield Static("", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Record (ctrl+s)", variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        index = self.query_one(RadioSet).pressed_index
        if index < 0:
            self.query_one(".dialog-error", Static).update(
                Text("choose one of the four: arrows to move, space or enter to choose")
            )
            self.query_one(RadioSet).focus()
            return
        decision = CHOICES[index][0]
        rationale = self.query_one("#rationale", Input).value.strip()
        rule = self.query_one("#rule", Input).value.strip() or None
        if not rationale:
            self.query_one(".dialog-error", Static).update(Text("say why: the review reads it"))
            self.query_one("#rationale", Input).focus()
            return
        if decision == "false-positive" and rule is None:
            self.query_one(".dialog-error", Static).update(
                Text("name the rule to tune for a false positive")
            )
            self.query_one("#rule", Input).focus()
            return
        self.dismiss(DecisionChoice(decision, rationale,
                                    rule if decision == "false-positive" else None))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
