"""An incident warroom proposes, as a modal: accept it, dismiss it with a reason, or decide later.

Shows what the detector saw (severity, category, title, the first alert's
time as Falco wrote it, how many alerts, the rule, where it was seen: the node,
or the CoreDNS pod). Accepting opens the incident detected at the first alert
and acknowledged now; dismissing needs a reason, which the record keeps. The
modal only answers: the war room's worker does the writing. Alert text is shown literally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from actions.falco.alert import reported_by
from tui.safe import safe_text
from tui.textual_workarounds import StyledOnce

if TYPE_CHECKING:
    from actions.sources.detection import IncidentProposal



@dataclass(frozen=True, slots=True)
class ProposalAnswer:
    """accept=True opens the incident; accept=False dismisses it for `reason`."""

    accept: bool
    reason: str = ""


def proposal_facts(proposal: IncidentProposal) -> list[tuple[str, str]]:
    """(name, value) lines of the proposal, as the modal shows them."""
    return [
        ("Severity", proposal.severity),
        ("Category", proposal.category),
        ("Title", proposal.title),
        ("First alert", f"{proposal.first_alert_time} (its own time; MTTD runs from its receipt)"),
        ("Alerts", str(proposal.alerts)),
        ("Rule", proposal.rule),
        reported_by(proposal.source, proposal.hostname),
    ]


class ProposalScreen(StyledOnce, ModalScreen[ProposalAnswer | None]):
    """y accepts; n asks for a reason, then enter (or Dismiss) dismisses; escape decides later.

    The reason field appears only after n (or Dismiss): while it was always there, a
    commander tabbing towards it to type "yearly backup" accepted the incident with the y.
    """

    AUTO_FOCUS = "#accept"  # not the reason field: y and n must reach the bindings
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "accept", "Accept", id="proposal.accept"),
        Binding("n", "reason", "Dismiss", id="proposal.dismiss"),
        Binding("escape", "later", "Later", id="proposal.later"),
    ]

    def __init__(self, proposal: IncidentProposal) -> None:
        super().__init__()
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog proposal-dialog"):
            yield Label("warroom proposes an incident", classes="dialog-title")
            with Vertical(id="proposal-facts"):
                for name, value in proposal_facts(self.proposal):
                    with Horizontal(classes="proposal-row"):
                        yield Label(Text(name), classes="proposal-name", markup=False)
                        label = Label(Text(safe_text(value)), classes="proposal-value",
                                      id=f"proposal-{name.lower().replace(' ', '-')}",
                                      markup=False)
                        if name == "Severity":
                            label.add_class(f"-{value.lower()}")
                        yield label
            yield Label("n dismisses it with a reason (recorded; its category goes quiet "
                        "a while)", id="reason-label")
            reason = Input(placeholder="e.g. the nightly backup job, known and expected",
                           id="reason")
            reason.display = False
            yield reason
            yield Static("", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Accept (y)", variant="primary", id="accept")
                yield Button("Dismiss (n)", variant="warning", id="dismiss")
                yield Button("Later (esc)", id="later")

    def action_accept(self) -> None:
        self.dismiss(ProposalAnswer(accept=True))

    def action_reason(self) -> None:
        """n: type the reason (enter dismisses)."""
        reason = self.query_one("#reason", Input)
        reason.display = True
        reason.focus()

    def action_later(self) -> None:
        self.dismiss(None)

    def _dismiss_proposal(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one(".dialog-error", Static).update(
                Text("say why it is not an incident: the record keeps the reason")
            )
            self.action_reason()
            return
        self.dismiss(ProposalAnswer(accept=False, reason=reason))

    @on(Input.Submitted, "#reason")
    def _reason_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._dismiss_proposal()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "accept":
            self.action_accept()
        elif event.button.id == "dismiss":
            self._dismiss_proposal()
        else:
            self.action_later()
