"""Incident detection: a P0 or P1 alert with no open incident proposes one.

The commander accepts or dismisses the proposal. Accepting opens the
incident with its detection time set to the first alert's own time and
records the acknowledgement at once, so MTTD (detection to acknowledgement)
is measured from the record, not typed. Every step is on the timeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.sources.batches import AlertBatch, RecordedAlert
from store import Record

PROPOSING_SEVERITIES = ("P0", "P1")
# Categories that propose whatever their severity: the runbook's P2 drift is remediated as an
# incident of its own ("Is this a policy misconfiguration? Proceed to remediation").
PROPOSING_CATEGORIES = ("policy-drift",)
_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
MAX_KEYS = 50  # alert keys kept on a proposal (the count goes on)
PROPOSED_KIND = "incident.proposed"
ACCEPTED_KIND = "incident.proposal-accepted"
DISMISSED_KIND = "incident.proposal-dismissed"


class UnknownProposal(LookupError):
    """No pending proposal has this id (already accepted, dismissed or replaced)."""


@dataclass(frozen=True, slots=True)
class IncidentProposal:
    """An incident warroom suggests opening, from the alerts that triggered it."""

    id: str
    severity: str
    category: str
    title: str
    first_alert_time: str
    """The first alert's time exactly as Falco wrote it."""
    detected_at: datetime
    rule: str
    hostname: str | None
    alert_keys: tuple[str, ...] = ()
    alerts: int = 1
    proposed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "proposal", "id": self.id, "severity": self.severity,
                "category": self.category, "title": self.title,
                "first_alert_time": self.first_alert_time,
                "detected_at": self.detected_at.isoformat(), "rule": self.rule,
                "hostname": self.hostname, "alerts": self.alerts,
                "alert_keys": list(self.alert_keys)}


def _moment(recorded: RecordedAlert, fallback: datetime) -> datetime:
    time_ns = recorded.alert.time_ns
    if time_ns is None:
        return fallback
    return datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC) + timedelta(
        microseconds=(time_ns % 1_000_000_000) // 1000)


class IncidentDetector:
    """A sink for AlertBatch; proposals go to `sink` (and the timeline)."""

    def __init__(self, record: Record, sink: Callable[[object], None], *,
                 wording: Callable[[str], str] | None = None, actor: str = "warroom",
                 quiet_after_dismissal: timedelta = timedelta(minutes=15)) -> None:
        self.record = record
        self.sink = sink
        self.wording = wording or (lambda _category: "")
        self.actor = actor
        self.quiet_after_dismissal = quiet_after_dismissal
        self.pending: IncidentProposal | None = None
        self._quiet_until: dict[str, datetime] = {}
        # Batches arrive on the sources' side, accept/dismiss on the console's record
        # thread: one at a time, so a batch never revives a proposal being accepted.
        self._lock = threading.Lock()

    def __call__(self, item: object) -> None:
        if not isinstance(item, AlertBatch):
            return
        with self._lock:  # the sink too: a proposal is handed over before it can be taken
            proposal = self._propose(item)
            if proposal is not None:
                self.sink(proposal)

    def _propose(self, item: AlertBatch) -> IncidentProposal | None:
        """The pending proposal as `item` creates or grows it (None: nothing to propose)."""
        triggering = [a for a in item.alerts
                      if a.fresh and (a.classification.severity in PROPOSING_SEVERITIES
                                      or a.classification.category in PROPOSING_CATEGORIES)]
        if not triggering or self.record.incidents.open_ones():
            return None
        now = self.record.clock()
        triggering = [a for a in triggering
                      if self._quiet_until.get(a.classification.category, now) <= now]
        if self.pending is not None and self.pending.category in PROPOSING_CATEGORIES:
            if any(a.classification.severity in PROPOSING_SEVERITIES for a in triggering):
                self.pending = None  # an attack is not the drift's incident: propose it apart
        elif self.pending is not None:
            triggering = [a for a in triggering
                          if a.classification.category not in PROPOSING_CATEGORIES]
        if not triggering:
            return None
        triggering.sort(key=lambda a: (a.alert.time_ns or 0))
        created = self.pending is None
        if self.pending is None:
            self.pending = self._proposal(triggering[0], now)
            triggering = triggering[1:]
        proposal = before = self.pending
        for recorded in triggering:
            proposal = self._grow(proposal, recorded, now)
        self.pending = proposal
        if created or proposal.severity != before.severity:
            # On the timeline when proposed or made worse; the growing count goes to the sink.
            self.record.timeline.add(None, PROPOSED_KIND,
                                     f"Incident proposed: {proposal.title} ({proposal.severity}, "
                                     f"{proposal.alerts} alerts)",
                                     actor=self.actor, data=proposal.to_dict())
        return proposal

    def _proposal(self, first: RecordedAlert, now: datetime) -> IncidentProposal:
        category = first.classification.category
        title = self.wording(category) or first.alert.rule
        return IncidentProposal(
            id=f"proposal-{first.alert.dedupe_key[:12]}",
            severity=first.classification.severity, category=category,
            title=f"{title}: {first.alert.rule}"[:200], first_alert_time=first.alert.time,
            detected_at=_moment(first, now), rule=first.alert.rule,
            hostname=first.alert.hostname, alert_keys=(first.alert.dedupe_key,),
            proposed_at=now)

    def _grow(self, proposal: IncidentProposal, recorded: RecordedAlert, now: datetime
              ) -> IncidentProposal:
        severity = recorded.classification.severity
        keys = proposal.alert_keys
        if len(keys) < MAX_KEYS:
            keys = (*keys, recorded.alert.dedupe_key)
        grown = replace(proposal, alerts=proposal.alerts + 1, alert_keys=keys)
        if _RANK[severity] < _RANK[proposal.severity]:
            # A worse alert makes it a worse incident; detection still dates from the first.
            title = self.wording(recorded.classification.category) or recorded.alert.rule
            grown = replace(grown, severity=severity,
                            category=recorded.classification.category,
                            title=f"{title}: {recorded.alert.rule}"[:200])
        return grown

    def accept(self, proposal_id: str, *, actor: str | None = None, drill: bool = False) -> Any:
        """Open the incident (detected at the first alert), acknowledged now; returns it.

        `drill`: the incident is a drill's (the console accepts during `warroom drill`).
        """
        with self._lock:  # until the incident is open, which stops further proposals
            proposal = self._take(proposal_id)
            who = actor or self.actor
            incident = self.record.incidents.open(
                proposal.title, severity=proposal.severity, actor=who,
                detected_at=proposal.detected_at, drill=drill)
            incident = self.record.incidents.acknowledge(incident.id, actor=who)
            self.record.timeline.add(incident.id, ACCEPTED_KIND,
                                     f"Proposal accepted: {proposal.alerts} alerts since "
                                     f"{proposal.first_alert_time}", actor=who,
                                     data=proposal.to_dict())
            return incident

    def dismiss(self, proposal_id: str, *, actor: str | None = None, reason: str = "") -> None:
        """No incident; the same category proposes nothing for a while."""
        with self._lock:
            proposal = self._take(proposal_id)
            now = self.record.clock()
            self._quiet_until[proposal.category] = now + self.quiet_after_dismissal
        self.record.timeline.add(None, DISMISSED_KIND,
                                 f"Proposal dismissed: {proposal.title}"
                                 + (f" ({reason})" if reason else ""),
                                 actor=actor or self.actor,
                                 data={**proposal.to_dict(), "reason": reason})

    def _take(self, proposal_id: str) -> IncidentProposal:
        proposal = self.pending
        if proposal is None or proposal.id != proposal_id:
            raise UnknownProposal(f"no pending incident proposal {proposal_id}")
        self.pending = None
        return proposal
