"""The incident keys: open, acknowledge, note, severity, next phase, the decision point,
and resolve/close (reopen when closed).

Each writes to the record off the event loop (`WarRoomApp.in_record`) and
then reloads the screen from the record, so what is shown is what was kept.
Changes the runbook's alert channels announce (acknowledged, severity and
phase changed, resolved) are queued in the outbox in the same step; the
console's drainer sends them when a channel is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType

from store import PHASE_TITLES, PHASES, Incident, Record, iso
from tui.safe import safe_text
from tui.screens.war_room_base import WarRoomBase

if TYPE_CHECKING:
    from tui.dialogs.forms import NewIncident

FALSE_POSITIVE_DETAIL = (
    "This closes {id}: its clocks stop, new alerts no longer join it, and the metrics count "
    "it as a false positive. The rule to tune is recorded with the decision."
)


class IncidentKeys(WarRoomBase):
    """o a n v p d C: the incident's life in the record."""

    KEY_GROUP: ClassVar[str] = "incident"
    WRITE_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "open_incident",
            "acknowledge",
            "add_note",
            "set_severity",
            "next_phase",
            "decision",
            "end_incident",
        }
    )
    INCIDENT_KEYS: ClassVar[frozenset[str]] = WRITE_KEYS - {"open_incident"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_incident", "Open", id="incident.open", tooltip="Open an incident"),
        Binding(
            "a",
            "acknowledge",
            "Ack",
            id="incident.acknowledge",
            tooltip="Acknowledge (stops the MTTD clock)",
        ),
        Binding("n", "add_note", "Note", id="incident.note", tooltip="Add a note to the timeline"),
        Binding("v", "set_severity", "Severity", id="incident.severity"),
        Binding("p", "next_phase", "Next phase", id="incident.next_phase"),
        Binding(
            "d",
            "decision",
            "Decide",
            id="incident.decision",
            tooltip="The runbook's decision point",
        ),
        Binding(
            "C",
            "end_incident",
            "Close",
            id="incident.close",
            tooltip="Resolve (recovered) or close the incident, saying why; reopen a closed one",
        ),
    ]

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_open_incident(self) -> None:
        if self._refuse("open_incident"):
            return
        from tui.dialogs.forms import OpenIncidentForm  # when opened (warmup.py)

        alert = self.selected_alert
        title = f"{alert.rule} on {alert.pod}" if alert else ""
        severity = alert.severity if alert and alert.severity_rank < 4 else "P2"
        answer: NewIncident | None = await self.app.push_screen_wait(
            OpenIncidentForm(title, severity)
        )
        if answer is None:
            return
        services = self.war_app.services
        record = services.record

        def write() -> Incident:
            # Opened from the selected alert: it keeps the alert's runbook class, and the alert
            # and its subject's (same class, namespace, workload) are linked, earlier and later.
            found = None
            if alert is not None and alert.time_ns is not None:
                found = record.alerts.find(alert.rule, alert.time_ns)
            incident = record.incidents.open(
                answer.title,
                severity=answer.severity,
                drill=services.opens_drills,
                actor=self.actor,
                commander=self.actor,
                cluster_context=services.context,
                namespace=services.namespace,
                category=found.category if found else None,
            )
            if found is not None and found.dedupe_key:
                session_start = services.incident_scope.since  # a drill's; a live one: None
                record.alerts.link_opening(
                    incident.id, found, actor=self.actor,
                    received_since=iso(session_start) if session_start else None)
            return incident

        incident = await self.war_app.in_record(write)
        self.incident = incident
        self.notify(f"{incident.id} opened", title="Incident")
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_acknowledge(self) -> None:
        if self._refuse("acknowledge") or self.incident is None:
            return
        record, incident_id = self.war_app.services.record, self.incident.id

        def write() -> None:
            before = record.incidents.get_required(incident_id)
            after = record.incidents.acknowledge(incident_id, actor=self.actor)
            if after != before:
                self._announce(record, after, "acknowledged", {"by": self.actor})

        await self.war_app.in_record(write)
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_add_note(self) -> None:
        if self._refuse("add_note") or self.incident is None:
            return
        from tui.dialogs.forms import NoteForm  # when opened (warmup.py)

        note = await self.app.push_screen_wait(NoteForm())
        if note is None:
            return
        record, incident_id = self.war_app.services.record, self.incident.id
        await self.war_app.in_record(
            record.timeline.add, incident_id, "note", note, actor=self.actor
        )
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_set_severity(self) -> None:
        if self._refuse("set_severity") or self.incident is None:
            return
        from tui.dialogs.forms import SeverityForm  # when opened (warmup.py)

        before = self.incident
        answer = await self.app.push_screen_wait(SeverityForm(before.severity, before.data_breach))
        if answer is None:
            return
        severity, data_breach = answer.severity, answer.data_breach
        if (severity, data_breach) == (before.severity, before.data_breach):
            return
        record, incident_id = self.war_app.services.record, before.id

        def write() -> None:
            if data_breach != before.data_breach:
                record.incidents.flag_data_breach(incident_id, data_breach, actor=self.actor)
            if severity != before.severity:
                after = record.incidents.set_severity(incident_id, severity, actor=self.actor)
                details = {"from": before.severity, "to": severity}
                self._announce(record, after, "severity-changed", details)

        await self.war_app.in_record(write)
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_next_phase(self) -> None:
        if self._refuse("next_phase") or self.incident is None:
            return
        from tui.dialogs.forms import AskScreen  # when opened (warmup.py)

        incident = self.incident
        following = PHASES[PHASES.index(incident.phase) + 1]
        question = f"Move {incident.id} to {PHASE_TITLES[following]}?"
        if not await self.app.push_screen_wait(
            AskScreen(question, f"from {PHASE_TITLES[incident.phase]}")
        ):
            return
        record = self.war_app.services.record

        def write() -> None:
            after = record.incidents.advance(incident.id, following, actor=self.actor)
            self._announce(record, after, "phase-changed", {"phase": following})

        await self.war_app.in_record(write)
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_decision(self) -> None:
        if self._refuse("decision") or self.incident is None:
            return
        from tui.dialogs.decision import DecisionChoice, DecisionScreen  # when opened (warmup.py)
        from tui.dialogs.forms import AskScreen

        rule = self.selected_alert.rule if self.selected_alert else None
        choice: DecisionChoice | None = await self.app.push_screen_wait(DecisionScreen(rule))
        if choice is None:
            return
        if choice.decision == "false-positive" and not await self.app.push_screen_wait(
            AskScreen(
                safe_text(f"Record a false positive and close {self.incident.id}?"),
                safe_text(FALSE_POSITIVE_DETAIL.format(id=self.incident.id)),
            )
        ):
            self.notify("nothing recorded", title="Decision")
            return
        from actions.notify import Escalation, escalate
        from tui.dialogs.escalate import lead_role
        from tui.screens.keys.alerting import Escalated

        incident = self.incident
        record = self.war_app.services.record
        settings = self.war_app.settings
        escalation = self.war_app.escalation_contact()
        lead = lead_role(settings.escalation)

        def write() -> Escalation | None:
            record.decisions.add(
                incident.id,
                choice.decision,
                rationale=choice.rationale,
                rule_to_tune=choice.rule_to_tune,
                actor=self.actor,
            )
            if choice.decision == "false-positive":
                closed = record.incidents.close(
                    incident.id,
                    resolution=f"false positive: {choice.rationale}",
                    false_positive=True,
                    actor=self.actor,
                )
                self._announce(record, closed, "resolved", {"resolution": closed.resolution})
            elif changes := decision_changes(incident, choice.decision):
                record.incidents.update(incident.id, actor=self.actor, **changes)
            if choice.decision != "escalate":
                return None
            if lead is None:  # no matrix: nobody to notify, and the timeline says so
                record.timeline.add(
                    incident.id,
                    "escalation",
                    f"Escalation needed: {escalation}",
                    actor=self.actor,
                    data={"contact": escalation},
                )
                return None
            # The runbook: "Requires escalation? -> Notify security team lead".
            return escalate(
                record,
                settings,
                record.incidents.get_required(incident.id),
                lead,
                actor=self.actor,
                note=choice.rationale,
            )

        escalated = await self.war_app.in_record(write)
        if escalated is not None:
            self.post_message(Escalated(escalated))  # the toast, then the drainer sends it
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_end_incident(self) -> None:
        """C: resolve or close the incident on screen (reopen it when it is closed)."""
        from actions.runbook.own_changes import still_applied
        from store.incidents import LifecycleError
        from tui.dialogs.close_incident import (  # when opened (warmup.py)
            CLOSE,
            RESOLVE,
            CloseIncidentScreen,
            EndAnswer,
        )

        if self._refuse("end_incident") or self.incident is None:
            return
        record, incident_id = self.war_app.services.record, self.incident.id
        applied = await self.war_app.in_record(still_applied, record, incident_id)
        answer: EndAnswer | None = await self.app.push_screen_wait(
            CloseIncidentScreen(self.incident, tuple(applied))
        )
        if answer is None:
            return

        def write() -> Incident:
            if answer.what == RESOLVE:
                after = record.incidents.resolve(
                    incident_id, note=answer.text or None, actor=self.actor
                )
            elif answer.what == CLOSE:
                after = record.incidents.close(
                    incident_id, resolution=answer.text, actor=self.actor
                )
            else:
                return record.incidents.reopen(incident_id, reason=answer.text, actor=self.actor)
            self._announce(record, after, "resolved", {"resolution": after.resolution or ""})
            return after

        try:
            after = await self.war_app.in_record(write)
        except (LifecycleError, ValueError) as error:  # another writer got there first
            self.notify(
                safe_text(str(error)), title="Not changed", severity="warning", markup=False
            )
        else:
            self.notify(safe_text(f"{after.id} {after.status}"), title="Incident", markup=False)
        await self.refresh_from_record()

    def _announce(
        self, record: Record, incident: Incident, event: str, details: dict[str, Any]
    ) -> None:
        """Queue the channels' notification of a change (on the record's thread)."""
        from actions.notify import notify_incident_event

        notify_incident_event(record, self.war_app.settings, incident, event, details)


def decision_changes(incident: Incident, decision: str) -> dict[str, Any]:
    """What a decision other than a false positive (which closes it) does to the incident."""
    if decision == "active-attack" and incident.phase == "detection":
        return {"phase": "containment"}
    return {}
