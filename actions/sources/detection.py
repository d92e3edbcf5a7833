"""Incident detection: a P0 or P1 alert with no incident of this session proposes one.

The commander accepts or dismisses the proposal. Accepting opens the
incident with its detection time set to the first alert's own time, its
runbook class, commander, cluster context and namespace, and records the
acknowledgement at once, so MTTD (detection to acknowledgement) is measured
from the record, not typed. Every step is on the timeline.

The accepted incident owns its alerts (`store.alert_links` states the rule):
accepting links the proposal's alerts and every alert since its first about
the same subject (class, namespace, workload); while the incident stays open,
the detector links each later alert about one of those subjects as it is
recorded, on a thread of its own (the caller's event loop never writes).

Which open incidents count as this session's is `scope`'s to say
(`store.incidents.SessionScope`): a drill console sets it to its own drill,
so an older drill's incident, or a real one, neither silences its proposals
nor takes its alerts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.sources.batches import AlertBatch, RecordedAlert
from store import Record
from store.alert_links import (
    LINK_BY_PROPOSAL,
    LINK_BY_SUBJECT,
    OPENED_FROM_ALERT_KIND,
    AlertSubject,
    alert_subject,
)
from store.incidents import SessionScope
from store.wording import counted

PROPOSING_SEVERITIES = ("P0", "P1")
# Categories that propose whatever their severity: the runbook's P2 drift is remediated as an
# incident of its own ("Is this a policy misconfiguration? Proceed to remediation").
PROPOSING_CATEGORIES = ("policy-drift",)
_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
MAX_KEYS = 50  # alert keys kept on a proposal (the count goes on)
MAX_SUBJECTS = 20  # subjects kept on a proposal: what later alerts are linked by
# Batches with no P0/P1 alert re-read which incidents are open at most this often (seconds):
# at thousands of alerts a second, not a read per batch on the sources' loop.
OURS_FRESH = 1.0
PROPOSED_KIND = "incident.proposed"
ACCEPTED_KIND = "incident.proposal-accepted"
DISMISSED_KIND = "incident.proposal-dismissed"
LOG = logging.getLogger(__name__)


def _proposes(recorded: RecordedAlert) -> bool:
    """Whether an alert may propose an incident: P0/P1, or a class that always does."""
    return (recorded.classification.severity in PROPOSING_SEVERITIES
            or recorded.classification.category in PROPOSING_CATEGORIES)


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
    source: str | None = None
    """The first alert's source (Falco's, or warroom's own: "warroom-dns"...)."""
    alerts: int = 1
    proposed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    subjects: tuple[AlertSubject, ...] = ()
    """What the triggering alerts are about: later alerts about one of them join the incident."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "proposal", "id": self.id, "severity": self.severity,
                "category": self.category, "title": self.title,
                "first_alert_time": self.first_alert_time,
                "detected_at": self.detected_at.isoformat(), "rule": self.rule,
                "hostname": self.hostname, "source": self.source, "alerts": self.alerts,
                "alert_keys": list(self.alert_keys),
                "subjects": [subject.to_list() for subject in self.subjects]}


def _title(wording: str, rule: str) -> str:
    """The class's wording and the rule that raised it, once when they are the same words."""
    return (wording if wording == rule else f"{wording}: {rule}")[:200]


def _moment(recorded: RecordedAlert, fallback: datetime) -> datetime:
    time_ns = recorded.alert.time_ns
    if time_ns is None:
        return fallback
    return datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC) + timedelta(
        microseconds=(time_ns % 1_000_000_000) // 1000)


def subject_of(recorded: RecordedAlert) -> AlertSubject | None:
    return alert_subject(recorded.classification.category, recorded.alert.output_fields)


def _with_subject(subjects: tuple[AlertSubject, ...], recorded: RecordedAlert
                  ) -> tuple[AlertSubject, ...]:
    subject = subject_of(recorded)
    if subject is None or subject in subjects or len(subjects) >= MAX_SUBJECTS:
        return subjects
    return (*subjects, subject)


class IncidentDetector:
    """A sink for AlertBatch; proposals go to `sink` (and the timeline).

    `scope` says which open incidents are this session's (default: any open one);
    `context` and `namespace` are the cluster's, kept on the incidents it opens.
    """

    def __init__(self, record: Record, sink: Callable[[object], None], *,
                 wording: Callable[[str], str] | None = None, actor: str = "warroom",
                 quiet_after_dismissal: timedelta = timedelta(minutes=15),
                 scope: SessionScope | None = None, context: str | None = None,
                 namespace: str | None = None) -> None:
        self.record = record
        self.sink = sink
        self.wording = wording or (lambda _category: "")
        self.actor = actor
        self.quiet_after_dismissal = quiet_after_dismissal
        self.scope = scope or SessionScope()
        self.context = context
        self.namespace = namespace
        self.pending: IncidentProposal | None = None
        self._quiet_until: dict[str, datetime] = {}
        # Batches arrive on the sources' side, accept/dismiss on the console's record
        # thread: one at a time, so a batch never revives a proposal being accepted.
        self._lock = threading.Lock()
        # Incident ID -> the subjects its later alerts are linked by (read once per incident).
        self._subjects: dict[str, frozenset[AlertSubject]] = {}
        self._linker: ThreadPoolExecutor | None = None
        self._linker_record: Record | None = None
        self._ours_cache: tuple[str, ...] = ()
        self._ours_read_at = -OURS_FRESH - 1.0

    def __call__(self, item: object) -> None:
        if not isinstance(item, AlertBatch):
            return
        fresh = item.fresh
        if not fresh:
            return
        triggering = any(_proposes(a) for a in fresh)
        with self._lock:  # the sink too: a proposal is handed over before it can be taken
            ours = self._ours(exactly=triggering)
            proposal = None if ours else self._propose(fresh)
            if proposal is not None:
                self.sink(proposal)
        if any(self._subjects.get(incident_id) != frozenset() for incident_id in ours):
            self._link_later(fresh)

    def _ours(self, *, exactly: bool) -> tuple[str, ...]:
        """IDs of this session's open incidents: read now when `exactly` (a proposal depends
        on it), else as read within the last OURS_FRESH seconds (linking can wait that long)."""
        now = time.monotonic()
        if exactly or now - self._ours_read_at > OURS_FRESH:
            self._ours_cache = tuple(i.id for i in self.record.incidents.in_scope(self.scope))
            self._ours_read_at = now
        return self._ours_cache

    def _propose(self, fresh: list[RecordedAlert]) -> IncidentProposal | None:
        """The pending proposal as `fresh` alerts create or grow it (None: nothing to propose)."""
        triggering = [a for a in fresh if _proposes(a)]
        if not triggering:
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
            proposal = self._grow(proposal, recorded)
        self.pending = proposal
        if created or proposal.severity != before.severity:
            # On the timeline when proposed or made worse; the growing count goes to the sink.
            self.record.timeline.add(None, PROPOSED_KIND,
                                     f"Incident proposed: {proposal.title} ({proposal.severity}, "
                                     f"{counted(proposal.alerts, 'alert')})",
                                     actor=self.actor, data=proposal.to_dict())
        return proposal

    def _proposal(self, first: RecordedAlert, now: datetime) -> IncidentProposal:
        category = first.classification.category
        title = self.wording(category) or first.alert.rule
        return IncidentProposal(
            id=f"proposal-{first.alert.dedupe_key[:12]}",
            severity=first.classification.severity, category=category,
            title=_title(title, first.alert.rule), first_alert_time=first.alert.time,
            detected_at=_moment(first, now), rule=first.alert.rule,
            hostname=first.alert.hostname, source=first.alert.source,
            alert_keys=(first.alert.dedupe_key,),
            proposed_at=now, subjects=_with_subject((), first))

    def _grow(self, proposal: IncidentProposal, recorded: RecordedAlert) -> IncidentProposal:
        severity = recorded.classification.severity
        keys = proposal.alert_keys
        if len(keys) < MAX_KEYS:
            keys = (*keys, recorded.alert.dedupe_key)
        grown = replace(proposal, alerts=proposal.alerts + 1, alert_keys=keys,
                        subjects=_with_subject(proposal.subjects, recorded))
        if _RANK[severity] < _RANK[proposal.severity]:
            # A worse alert makes it a worse incident; detection still dates from the first.
            title = self.wording(recorded.classification.category) or recorded.alert.rule
            grown = replace(grown, severity=severity,
                            category=recorded.classification.category,
                            title=_title(title, recorded.alert.rule))
        return grown

    def accept(self, proposal_id: str, *, actor: str | None = None, drill: bool = False) -> Any:
        """Open the incident (detected at the first alert), acknowledged now; returns it.

        `actor` is the commander. `drill`: the incident is a drill's (the console
        accepts during `warroom drill`). The proposal's alerts, and every alert
        since its first about one of its subjects, are linked to the incident.
        """
        with self._lock:  # until the incident is open, which stops further proposals
            proposal = self._take(proposal_id)
            who = actor or self.actor
            namespace = self.namespace or next(
                (s.namespace for s in proposal.subjects if s.namespace), None)
            incident = self.record.incidents.open(
                proposal.title, severity=proposal.severity, actor=who,
                detected_at=proposal.detected_at, drill=drill, category=proposal.category,
                commander=who, cluster_context=self.context, namespace=namespace)
            incident = self.record.incidents.acknowledge(incident.id, actor=who)
            linked = self._link_proposal(incident.id, proposal, who)
            self._subjects[incident.id] = frozenset(proposal.subjects)
            self._ours_read_at = -OURS_FRESH - 1.0  # read again: the new incident is ours
            self.record.timeline.add(incident.id, ACCEPTED_KIND,
                                     f"Proposal accepted: {counted(proposal.alerts, 'alert')} "
                                     f"since {proposal.first_alert_time}; "
                                     f"{counted(linked, 'alert')} linked",
                                     actor=who, data={**proposal.to_dict(), "linked": linked})
            return self.record.incidents.get_required(incident.id)

    def _link_proposal(self, incident_id: str, proposal: IncidentProposal, actor: str) -> int:
        alerts = self.record.alerts
        linked = alerts.link_keys(incident_id, proposal.alert_keys, basis=LINK_BY_PROPOSAL,
                                  actor=actor)
        rows = self.record.query(
            "SELECT min(seq) FROM alerts WHERE dedupe_key = ?", (proposal.alert_keys[0],))
        first_seq = rows[0][0] if rows else None
        if first_seq is not None and proposal.subjects:
            linked += alerts.link_subjects(incident_id, set(proposal.subjects),
                                           since_seq=first_seq, actor=actor)
        return linked

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

    # --- later alerts about an open incident's subjects -----------------------------------------

    def _link_later(self, fresh: list[RecordedAlert]) -> None:
        """Link, off the caller's thread, fresh alerts about an open incident's subjects."""
        if self._linker is None:
            self._linker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-linker")
        self._linker.submit(self._guarded_link, fresh)

    def _guarded_link(self, fresh: list[RecordedAlert]) -> None:
        try:
            if self._linker_record is None:
                # A connection of the linker's own, closed by `close()`: the caller may
                # close its record while a link is under way.
                self._linker_record = Record.open(self.record.path, clock=self.record.clock)
            self.link_now(fresh, self._linker_record)
        except Exception:  # a failed link loses nothing: the alert is recorded, unlinked
            LOG.exception("linking alerts to their incident failed")

    def link_now(self, fresh: list[RecordedAlert], record: Record | None = None) -> int:
        """Link the alerts about a subject of an open incident of this session; how many."""
        record = record or self.record
        subjects = self._open_subjects(record)
        if not subjects:
            return 0
        by_incident: dict[str, list[str]] = {}
        for recorded in fresh:
            subject = subject_of(recorded)
            for incident_id, wanted in subjects:
                if subject in wanted:
                    by_incident.setdefault(incident_id, []).append(recorded.alert.dedupe_key)
                    break
        return sum(
            record.alerts.link_keys(incident_id, keys, basis=LINK_BY_SUBJECT, actor=self.actor)
            for incident_id, keys in by_incident.items()
        )

    def _open_subjects(self, record: Record) -> list[tuple[str, frozenset[AlertSubject]]]:
        """(incident ID, subjects) of this session's open incidents, oldest first."""
        found = []
        for incident in record.incidents.in_scope(self.scope):
            subjects = self._subjects.get(incident.id)
            if subjects is None:
                subjects = self._subjects[incident.id] = _recorded_subjects(record, incident.id)
            if subjects:
                found.append((incident.id, subjects))
        return found

    def close(self) -> None:
        """Finish the links under way, then close the linker's connection."""
        linker, self._linker = self._linker, None
        if linker is not None:
            linker.shutdown(wait=True)
        if self._linker_record is not None:
            self._linker_record.close()
            self._linker_record = None


def _recorded_subjects(record: Record, incident_id: str) -> frozenset[AlertSubject]:
    """The subjects an incident was accepted with (or opened by hand from an alert with),
    from its chained acceptance entry."""
    rows = record.query(
        "SELECT data FROM timeline WHERE incident_id = ? AND kind IN (?, ?) ORDER BY seq",
        (incident_id, ACCEPTED_KIND, OPENED_FROM_ALERT_KIND))
    subjects: set[AlertSubject] = set()
    for (data,) in rows:
        try:
            listed = (json.loads(data or "{}") or {}).get("subjects") or []
        except (ValueError, AttributeError):
            continue
        if isinstance(listed, list):
            subjects.update(s for s in map(AlertSubject.from_list, listed) if s is not None)
    return frozenset(subjects)
