"""Incident proposals (accept or dismiss) and escalate/notify through the alert channels.

- `!`: the incident warroom proposes (a P0 or P1 alert with no incident
  open, `actions.sources.detection`): accept opens it detected at the first
  alert and acknowledged now; dismiss records why. The proposal arrives as a
  `SourceItem`; a toast says so.
- `e`: escalate to a role of the escalation matrix (`actions.notify.escalate`,
  run on the record's thread): the toast lists what was queued and what a
  human must do by hand (phone).
- While the console is up, the outbox is drained on the runtime's drainer thread
  (`actions.runtime.ConsoleRuntime.start_drainer`, its own loop and record
  connection), only when an alert channel is configured; an escalation wakes it;
  delivered and failed notifications come back as toasts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.events import Mount
from textual.message import Message
from textual.notifications import Notification, Notify

from actions.sources.detection import IncidentDetector, IncidentProposal
from store.wording import counted
from tui.safe import safe_text
from tui.screens.war_room_base import SourceItem, WarRoomBase
from tui.textual_workarounds import withdraw_toast

if TYPE_CHECKING:
    from actions.config import Settings
    from actions.notify import DrainReport, Escalation
    from tui.dialogs.escalate import EscalateAnswer
    from tui.dialogs.proposal import ProposalAnswer

DRAIN_INTERVAL = 15.0  # seconds between the console's drains (retries, other writers' items)
NO_PROPOSAL = ("no incident proposal pending: warroom proposes one when a P0 or P1 alert "
               "arrives while no incident is open")
NO_DETECTOR = "no live sources here: proposals come from the cluster's alerts"


def channels_configured(settings: Settings) -> bool:
    """Whether any alert channel is on (else there is nothing for a drainer to send)."""
    alerting = settings.alerting
    return any(
        channel is not None and channel.enabled
        for channel in (alerting.pagerduty, alerting.slack, alerting.email, alerting.siem)
    )


def escalation_message(escalation: Escalation) -> str:
    """What the escalation did, in words: queued channels, what to do by hand, what is missing."""
    contact = escalation.contact
    parts = [f"Escalated to {contact.role} {contact.primary}"]
    channels = sorted({queued.channel for queued in escalation.queued})
    parts.append(f"queued: {', '.join(channels)}" if channels else "nothing queued")
    if escalation.manual:
        parts.append("do by hand: " + "; ".join(escalation.manual))
    if escalation.off_in_drills:
        parts.append("off in drills: " + ", ".join(escalation.off_in_drills))
    if escalation.not_configured:
        parts.append("not configured: " + ", ".join(escalation.not_configured))
    if not channels and not escalation.manual:
        parts.append(f"no channel configured: call them ({contact.contact})")
    return ". ".join(parts)


class Escalated(Message):
    """An escalation was recorded (by `e` or the decision point): tell, then send."""

    def __init__(self, escalation: Escalation) -> None:
        super().__init__()
        self.escalation = escalation


class DrainReported(Message):
    """The console's drainer delivered or failed notifications (posted from its thread)."""

    def __init__(self, report: DrainReport) -> None:
        super().__init__()
        self.report = report


class AlertingKeys(WarRoomBase):
    """! e: the incident warroom proposes; escalate to the matrix and send the notifications."""

    KEY_GROUP: ClassVar[str] = "alerting"
    WRITE_KEYS: ClassVar[frozenset[str]] = frozenset({"proposal", "escalate"})
    INCIDENT_KEYS: ClassVar[frozenset[str]] = frozenset({"escalate"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("exclamation_mark", "proposal", "Proposal", show=False, id="alerting.proposal",
                tooltip="The incident warroom proposes from P0/P1 alerts: accept or dismiss"),
        Binding("e", "escalate", "Escalate", show=False, id="alerting.escalate",
                tooltip="Escalate to a role of the escalation matrix and notify it"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.proposal: IncidentProposal | None = None
        """The pending proposal, as last handed over (None when there is none)."""
        self._proposal_told: tuple[str, str] | None = None
        self._proposal_toast: Notification | None = None

    # --- proposals ----------------------------------------------------------------------------

    @on(SourceItem)
    def _proposal_arrived(self, event: SourceItem) -> None:
        proposal = event.item
        if not isinstance(proposal, IncidentProposal):
            return
        self.proposal = proposal
        told = (proposal.id, proposal.severity)
        if self._proposal_told == told:
            return  # the same proposal, grown by a few alerts: one toast is enough
        self._proposal_told = told
        self._forget_proposal_toast()
        self._proposal_toast = Notification(
            safe_text(f"{proposal.severity} {proposal.title} "
                      f"({counted(proposal.alerts, 'alert')} since "
                      f"{proposal.first_alert_time}). Press ! to accept or dismiss it."),
            "Incident proposed", "warning", 15, markup=False,
        )
        self.app.post_message(Notify(self._proposal_toast))

    def _forget_proposal_toast(self) -> None:
        """Take the proposal's toast down once it is answered: "press !" no longer holds, and
        at 80x24 it covers the Falco pane's status line."""
        toast, self._proposal_toast = self._proposal_toast, None
        if toast is not None:
            withdraw_toast(self.app, toast)

    def _detector(self) -> IncidentDetector | None:
        """The incident detector of the running live sources (None without them)."""
        source = self.war_app.services.source
        sources = source if isinstance(source, list | tuple) else [source]
        for candidate in sources:
            # `LiveSources` has one; a follower run alone (a test, `warroom watch`) has none.
            detector = getattr(candidate, "detector", None)
            if isinstance(detector, IncidentDetector):
                return detector
        return None

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_proposal(self) -> None:
        from actions.sources.detection import UnknownProposal

        if self._refuse("proposal"):
            return
        proposal = self.proposal
        if proposal is None:
            self.notify(NO_PROPOSAL, title="Proposal")
            return
        detector = self._detector()
        if detector is None:
            self.notify(NO_DETECTOR, title="Proposal", severity="warning")
            return
        from tui.dialogs.proposal import ProposalScreen

        answer: ProposalAnswer | None = await self.app.push_screen_wait(ProposalScreen(proposal))
        if answer is None:
            return
        services = self.war_app.services
        try:
            if answer.accept:
                incident = await self.war_app.in_record(
                    detector.accept, proposal.id, actor=self.actor,
                    drill=services.opens_drills,
                )
            else:
                await self.war_app.in_record(
                    detector.dismiss, proposal.id, actor=self.actor, reason=answer.reason
                )
        except UnknownProposal:
            self.proposal = None
            self.notify("that proposal was already accepted, dismissed or replaced",
                        title="Proposal", severity="warning")
            return
        self.proposal = None
        self._forget_proposal_toast()
        if answer.accept:
            self.incident = incident
            self.notify(safe_text(f"{incident.id} opened, detected at the first alert and "
                                  "acknowledged now"), title="Incident", markup=False)
            await self.refresh_from_record()
        else:
            self.notify(safe_text(f"dismissed: {answer.reason}"), title="Proposal", markup=False)

    # --- escalation ---------------------------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_escalate(self) -> None:
        from actions.notify import escalate

        if self._refuse("escalate") or self.incident is None:
            return
        app, services = self.war_app, self.war_app.services
        settings = app.settings
        incident_id = self.incident.id
        from tui.dialogs.escalate import EscalateForm

        answer: EscalateAnswer | None = await self.app.push_screen_wait(
            EscalateForm(incident_id, settings.escalation, settings.alerting,
                         drill=self.incident.drill)
        )
        if answer is None:
            return
        record = services.record

        def write() -> Escalation:
            incident = record.incidents.get_required(incident_id)
            return escalate(record, settings, incident, answer.role, actor=self.actor,
                            note=answer.note or None)

        try:
            escalation = await app.in_record(write)
        except ValueError as error:
            self.notify(safe_text(str(error)), title="Not escalated", severity="error",
                        markup=False)
            return
        self.post_message(Escalated(escalation))
        await self.refresh_from_record()

    @on(Escalated)
    def _escalated(self, message: Escalated) -> None:
        escalation = message.escalation
        by_hand = bool(escalation.manual or escalation.not_configured or not escalation.queued)
        self.notify(safe_text(escalation_message(escalation)), title="Escalated",
                    severity="warning" if by_hand else "information", timeout=20, markup=False)
        if escalation.queued and channels_configured(self.war_app.settings):
            self._drain_once()

    # --- sending what the outbox holds ----------------------------------------------------------

    @on(Mount)
    def _alerting_mounted(self) -> None:
        services = self.war_app.services
        if services.readonly or not channels_configured(self.war_app.settings):
            return
        # On the runtime's drainer thread, which stops with the console (actions.runtime).
        self.war_app.runtime.start_drainer(
            self.war_app.settings, self._report_drain, interval=DRAIN_INTERVAL
        )

    def _report_drain(self, report: DrainReport) -> None:
        """From the drainer's thread: hand the report to the screen (post_message is safe)."""
        self.post_message(DrainReported(report))

    def _drain_once(self) -> None:
        """Send what an escalation queued now, not at the next round (leases keep it once)."""
        self.war_app.runtime.drain_now()

    @on(DrainReported)
    def _drain_reported(self, message: DrainReported) -> None:
        report = message.report
        if report.delivered:
            sent = ", ".join(f"{a.channel} {a.event}" for a in report.delivered)
            self.notify(safe_text(f"delivered: {sent}"), title="Notifications", markup=False)
        for attempt in report.failed:
            when = "gave up" if attempt.gave_up else (
                f"retry at {attempt.retry_at:%H:%M:%S}" if attempt.retry_at else "will retry")
            self.notify(safe_text(f"{attempt.channel} {attempt.event}: {attempt.detail} ({when})"),
                        title="Notification failed", severity="error", timeout=15, markup=False)
