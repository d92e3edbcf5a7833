"""The incident keys: open, acknowledge, note, severity, next phase and the decision point.

Each writes to the record off the event loop (`WarRoomApp.in_record`) and
then reloads the screen from the record, so what is shown is what was kept.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType

from store import PHASE_TITLES, PHASES, Incident
from tui.screens.decision import DecisionChoice, DecisionScreen
from tui.screens.forms import AskScreen, NewIncident, NoteForm, OpenIncidentForm, SeverityForm
from tui.screens.war_room_base import WarRoomBase


class IncidentKeys(WarRoomBase):
    """o a n v p d: the incident's life in the record."""

    KEY_GROUP: ClassVar[str] = "incident"
    WRITE_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"open_incident", "acknowledge", "add_note", "set_severity", "next_phase", "decision"}
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
    ]

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_open_incident(self) -> None:
        if self._refuse("open_incident"):
            return
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
        incident = await self.war_app.in_record(
            lambda: record.incidents.open(
                answer.title,
                severity=answer.severity,
                drill=services.mode == "drill",
                actor=self.actor,
                cluster_context=services.context,
                namespace=services.namespace,
            )
        )
        self.incident = incident
        self.notify(f"{incident.id} opened", title="Incident")
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_acknowledge(self) -> None:
        if self._refuse("acknowledge") or self.incident is None:
            return
        record, incident_id = self.war_app.services.record, self.incident.id
        await self.war_app.in_record(record.incidents.acknowledge, incident_id, actor=self.actor)
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_add_note(self) -> None:
        if self._refuse("add_note") or self.incident is None:
            return
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
        severity = await self.app.push_screen_wait(SeverityForm(self.incident.severity))
        if severity is None or severity == self.incident.severity:
            return
        record, incident_id = self.war_app.services.record, self.incident.id
        await self.war_app.in_record(
            lambda: record.incidents.update(incident_id, actor=self.actor, severity=severity)
        )
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_next_phase(self) -> None:
        if self._refuse("next_phase") or self.incident is None:
            return
        incident = self.incident
        following = PHASES[PHASES.index(incident.phase) + 1]
        question = f"Move {incident.id} to {PHASE_TITLES[following]}?"
        if not await self.app.push_screen_wait(
            AskScreen(question, f"from {PHASE_TITLES[incident.phase]}")
        ):
            return
        record = self.war_app.services.record
        await self.war_app.in_record(
            lambda: record.incidents.update(
                incident.id, actor=self.actor, **phase_changes(incident, following, record.clock())
            )
        )
        await self.refresh_from_record()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_decision(self) -> None:
        if self._refuse("decision") or self.incident is None:
            return
        rule = self.selected_alert.rule if self.selected_alert else None
        choice: DecisionChoice | None = await self.app.push_screen_wait(DecisionScreen(rule))
        if choice is None:
            return
        from actions.notify import Escalation, escalate
        from tui.screens.escalate import lead_role
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
            changes = decision_changes(incident, choice.decision, record.clock())
            if changes:
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


def phase_changes(incident: Incident, following: str, now: Any) -> dict[str, Any]:
    """The incident fields moving to `following` sets: leaving Containment marks it contained,
    leaving Recovery marks it recovered (the MTTC and MTTR clocks stop there)."""
    changes: dict[str, Any] = {"phase": following}
    if following == "eradication" and incident.contained_at is None:
        changes.update(contained_at=now, status="contained")
    if following == "lessons-learned" and incident.recovered_at is None:
        changes.update(recovered_at=now, status="recovered")
        if incident.contained_at is None:
            changes["contained_at"] = now
    return changes


def decision_changes(incident: Incident, decision: str, now: Any) -> dict[str, Any]:
    """What a decision does to the incident, as the runbook's decision points say."""
    if decision == "false-positive":
        return {"false_positive": True, "status": "closed", "closed_at": now}
    if decision == "active-attack" and incident.phase == "detection":
        return {"phase": "containment"}
    return {}
