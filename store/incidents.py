"""Incidents: opened, changed, resolved, closed, reopened and listed.

Every change is a chained `incident.updated` timeline entry (who, what, why), so
`warroom verify` replays the incidents table from the chain. Which open incident
a console session takes as its own is `SessionScope`'s to say.

A row holding a value no warroom writes (a crafted import, a hand edit: a date
that is not a date, a severity `P9`) is read as `store.validate` holds imports:
the lists skip it and say so in `record.unreadable`, so one bad row never stops
every command that lists the rest; asked for by its ID, it is `UnreadableIncident`.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from store.errors import RecordError, UnknownIncident
from store.models import PHASES, SEVERITIES, STATUSES, Incident, RowLike
from store.record import iso
from store.schema import INCIDENT_FIELDS, REASON_KEY
from store.validate import INCIDENT_RULES

if TYPE_CHECKING:
    from store.record import Record, WriteTransaction

TIME_FIELDS = ("detected_at", "acknowledged_at", "contained_at", "recovered_at", "closed_at")
FLAG_FIELDS = ("drill", "false_positive", "data_breach")
MUTABLE_FIELDS = frozenset(INCIDENT_FIELDS) - {"id", "opened_at"}


def _check(field_name: str, value: Any) -> Any:
    """Validate one incident field and turn it into its stored form."""
    if field_name not in MUTABLE_FIELDS:
        raise ValueError(f"unknown or immutable incident field {field_name!r}")
    if value is None:
        return None
    if field_name == "severity" and value not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {value!r}")
    if field_name == "phase" and value not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {value!r}")
    if field_name == "status" and value not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {value!r}")
    if field_name in TIME_FIELDS:
        if not isinstance(value, datetime):
            raise ValueError(f"{field_name} must be a datetime")
        return iso(value)
    if field_name in FLAG_FIELDS:
        return int(bool(value))
    if not isinstance(value, str):
        raise ValueError(f"{field_name} must be text")
    return value


def _describe(changes: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in changes.items())


class LifecycleError(ValueError):
    """A change the incident's state does not allow (closing a closed one...); nothing recorded."""


class UnreadableIncident(RecordError, ValueError):
    """The incident's row holds a value no warroom writes; the message names it."""


def read_incident(row: RowLike) -> Incident:
    """The incident a row holds, its fields held to the rules every writer keeps
    (`store.validate.INCIDENT_RULES`).

    Raises ValueError naming the first value no warroom writes: without this a
    severity `P9` or a year-9999 date would be read, and fail later, far from
    here. The ID is not held to `NSI-YYYY-MM-DD-NNN`: an odd one breaks no reader
    (it is text, shown sanitised) and is what the incident is asked for by.
    """
    present = row.keys()
    for field_name, check in INCIDENT_RULES.items():
        problem = check(row[field_name] if field_name in present else None)
        if problem is not None:
            raise ValueError(f"{field_name} {problem}")
    return Incident.from_row(row)  # type: ignore[arg-type]


Changes = Callable[[Incident, datetime], dict[str, Any]]
"""What to change, worked out from the incident as it is inside the write (and the time)."""


def phase_changes(incident: Incident, following: str, now: datetime) -> dict[str, Any]:
    """The fields moving to phase `following` sets. Past Containment the incident is contained,
    in Lessons Learned it is recovered: the MTTC and MTTR clocks stop there."""
    if following not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {following!r}")
    changes: dict[str, Any] = {"phase": following}
    contained = PHASES.index(following) >= PHASES.index("eradication")
    if contained and incident.contained_at is None:
        changes["contained_at"] = now
        if incident.status == "open":
            changes["status"] = "contained"
    if following == "lessons-learned" and incident.recovered_at is None:
        changes.update(recovered_at=now, status="recovered")
    return changes


def _open_status(incident: Incident) -> str:
    """The status a reopened incident goes back to: how far its response had got."""
    if incident.recovered_at is not None:
        return "recovered"
    return "contained" if incident.contained_at is not None else "open"


@dataclass(frozen=True, slots=True)
class SessionScope:
    """Which open incidents a console session (and its incident detector) takes as its own.

    A drill's session takes only drill incidents opened since it started: a new
    drill gets its own incident from its own proposal, never an older drill's.
    A live session takes only real incidents, of any age (a console restarted
    mid-incident finds its incident again), never a drill's. Closed incidents
    are nobody's. `SessionScope()` admits every open incident.
    """

    drill: bool | None = None
    since: datetime | None = None

    @classmethod
    def for_mode(cls, mode: str, started_at: datetime) -> SessionScope:
        """The scope of a `drill`, `live` or `review` console started at `started_at`."""
        if mode == "drill":
            return cls(drill=True, since=started_at)
        if mode == "live":
            return cls(drill=False)
        return cls()

    def admits(self, incident: Incident) -> bool:
        if not incident.is_open:
            return False
        if self.drill is not None and incident.drill != self.drill:
            return False
        return self.since is None or incident.opened_at >= self.since


class Incidents:
    def __init__(self, record: Record) -> None:
        self.record = record

    def open(
        self,
        title: str,
        *,
        severity: str = "P2",
        drill: bool = False,
        actor: str | None = None,
        detected_at: datetime | None = None,
        **fields: Any,
    ) -> Incident:
        """Open an incident with a new `NSI-YYYY-MM-DD-XXX` ID."""
        title = title.strip()
        if not title:
            raise ValueError("an incident needs a title")
        now = self.record.clock()
        values = {
            "title": title,
            "severity": _check("severity", severity),
            "status": "open",
            "phase": "detection",
            "drill": int(drill),
            "false_positive": 0,
            "data_breach": 0,
            "detected_at": iso(detected_at or now),
        }
        for key, value in fields.items():
            if (checked := _check(key, value)) is not None:
                values[key] = checked
        with self.record.write() as txn:
            incident_id = self._next_id(txn, now)
            row = {"id": incident_id, "opened_at": iso(now), **values}
            txn.conn.execute(
                f"INSERT INTO incidents ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            kind = "drill" if drill else "incident"
            self.record.timeline.add_in(
                txn,
                incident_id,
                "incident.opened",
                f"{kind.capitalize()} opened: {title} ({values['severity']})",
                actor=actor,
                data={k: v for k, v in row.items() if k != "id"},
            )
        return self.get_required(incident_id)

    def _next_id(self, txn: WriteTransaction, now: datetime) -> str:
        prefix = f"NSI-{now.date().isoformat()}-"
        row = txn.conn.execute(
            "SELECT id FROM incidents WHERE id LIKE ? ORDER BY length(id) DESC, id DESC LIMIT 1",
            (prefix + "%",),
        ).fetchone()
        number = int(row[0][len(prefix) :]) + 1 if row else 1
        return f"{prefix}{number:03d}"

    def update(self, incident_id: str, *, actor: str | None = None, **changes: Any) -> Incident:
        """Change fields; records one `incident.updated` entry with what actually changed."""
        return self.change(incident_id, lambda _incident, _now: changes, actor=actor)

    def change(
        self,
        incident_id: str,
        changes_for: Changes,
        *,
        actor: str | None = None,
        summary: str | None = None,
        reason: str | None = None,
    ) -> Incident:
        """Apply `changes_for(incident, now)`, decided inside the write on the row as it is.

        One chained `incident.updated` entry holds what actually changed (`verify`
        replays it), who (`actor`), and `reason` when given; `summary` words it
        on the timeline. Nothing is written when nothing changes.
        """
        with self.record.write() as txn:
            cursor = txn.conn.cursor()
            cursor.row_factory = sqlite3.Row
            row = cursor.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                raise UnknownIncident(f"no incident {incident_id} in {self.record.path}")
            now = self.record.clock()
            wanted = changes_for(Incident.from_row(row), now)
            stored = {key: _check(key, value) for key, value in wanted.items()}
            changed = {key: value for key, value in stored.items() if value != row[key]}
            if changed:
                assignments = ", ".join(f"{key} = ?" for key in changed)
                txn.conn.execute(
                    f"UPDATE incidents SET {assignments} WHERE id = ?",
                    (*changed.values(), incident_id),
                )
                data = dict(changed)
                if reason:
                    data[REASON_KEY] = reason
                self.record.timeline.add_in(
                    txn,
                    incident_id,
                    "incident.updated",
                    summary or _describe(changed),
                    actor=actor,
                    data=data,
                )
        return self.get_required(incident_id)

    def flag_data_breach(
        self, incident_id: str, involved: bool = True, *, actor: str | None = None
    ) -> Incident:
        """Personal data is (or is not, after all) involved: the GDPR notification is due 72 h
        from the incident's detection (store/report/deadlines.py), counted from the earliest
        moment the team could have been aware; nothing is written when it already says so."""
        summary = (
            "personal data involved: the GDPR breach notification is due 72 h from detection"
            if involved
            else "no personal data involved after all: no GDPR notification due"
        )

        def flagging(incident: Incident, _now: datetime) -> dict[str, Any]:
            _refuse_closed(incident, "say whether personal data is involved")
            return {"data_breach": involved}

        return self.change(incident_id, flagging, actor=actor, summary=summary)

    def set_severity(
        self, incident_id: str, severity: str, *, actor: str | None = None
    ) -> Incident:
        """The runbook severity (P0-P3) of an open incident: a closed one keeps the severity it
        was closed with (a drill's score and the report read it) until it is reopened."""

        def grading(incident: Incident, _now: datetime) -> dict[str, Any]:
            _refuse_closed(incident, "change its severity")
            return {"severity": severity}

        return self.change(incident_id, grading, actor=actor)

    def acknowledge(self, incident_id: str, *, actor: str | None = None) -> Incident:
        """Record the first acknowledgement (MTTD is measured to it); later ones change nothing."""

        def first(incident: Incident, now: datetime) -> dict[str, Any]:
            if incident.acknowledged_at is not None:
                return {}
            _refuse_closed(incident, "acknowledge it")
            return {"acknowledged_at": now}

        return self.change(incident_id, first, actor=actor)

    # --- the lifecycle: phases, resolving, closing, reopening -----------------------------

    def advance(
        self, incident_id: str, phase: str | None = None, *, actor: str | None = None
    ) -> Incident:
        """Move to `phase` (default: the next one), stopping the clocks it passes."""

        def moving(incident: Incident, now: datetime) -> dict[str, Any]:
            _refuse_closed(incident, "change its phase")
            following = phase
            if following is None:
                if incident.phase == PHASES[-1]:
                    raise LifecycleError(f"{incident.id} is in the last phase already")
                following = PHASES[PHASES.index(incident.phase) + 1]
            return phase_changes(incident, following, now)

        return self.change(incident_id, moving, actor=actor)

    def resolve(
        self, incident_id: str, *, actor: str | None = None, note: str | None = None
    ) -> Incident:
        """Recovered: service restored (MTTR stops); on to Lessons Learned, still open."""

        def resolving(incident: Incident, now: datetime) -> dict[str, Any]:
            _refuse_closed(incident, "resolve it")
            if incident.recovered_at is not None:
                raise LifecycleError(
                    f"{incident.id} was resolved already, at {iso(incident.recovered_at)}"
                )
            return phase_changes(incident, "lessons-learned", now)

        return self.change(
            incident_id,
            resolving,
            actor=actor,
            reason=note,
            summary="Resolved: recovered" + (f": {note}" if note else ""),
        )

    def close(
        self,
        incident_id: str,
        *,
        resolution: str,
        actor: str | None = None,
        false_positive: bool = False,
    ) -> Incident:
        """Closed, with why: its clocks stop and no console or action takes it any more."""
        resolution = resolution.strip()
        if not resolution:
            raise ValueError("closing needs a resolution: what happened and why it is over")

        def closing(incident: Incident, now: datetime) -> dict[str, Any]:
            if not incident.is_open:
                raise LifecycleError(
                    f"{incident.id} is closed already ({incident.resolution or 'no resolution'})"
                )
            changes: dict[str, Any] = {
                "status": "closed",
                "closed_at": now,
                "resolution": resolution,
            }
            if false_positive:
                changes["false_positive"] = True
            return changes

        what = "Closed as a false positive" if false_positive else "Closed"
        return self.change(incident_id, closing, actor=actor, summary=f"{what}: {resolution}")

    def reopen(self, incident_id: str, *, reason: str, actor: str | None = None) -> Incident:
        """Open again a closed incident (no longer a false positive), saying why."""
        reason = reason.strip()
        if not reason:
            raise ValueError("reopening needs a reason")

        def reopening(incident: Incident, _now: datetime) -> dict[str, Any]:
            if incident.is_open:
                raise LifecycleError(f"{incident.id} is not closed")
            return {
                "status": _open_status(incident),
                "closed_at": None,
                "resolution": None,
                "false_positive": False,
            }

        return self.change(
            incident_id, reopening, actor=actor, reason=reason, summary=f"Reopened: {reason}"
        )

    def get(self, incident_id: str) -> Incident | None:
        """The incident, None when there is none; UnreadableIncident when its row is bad."""
        rows = self.record.query("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        if not rows:
            return None
        try:
            return read_incident(rows[0])
        except ValueError as error:
            raise UnreadableIncident(
                f"incident {incident_id} in {self.record.path} cannot be read: {error} "
                "(a value no warroom writes: `warroom verify` names the entry)"
            ) from None

    def get_required(self, incident_id: str) -> Incident:
        incident = self.get(incident_id)
        if incident is None:
            raise UnknownIncident(f"no incident {incident_id} in {self.record.path}")
        return incident

    def list(
        self, *, status: str | None = None, include_closed: bool = True
    ) -> builtins.list[Incident]:
        sql = "SELECT * FROM incidents"
        params: builtins.list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        elif not include_closed:
            sql += " WHERE status != 'closed'"
        rows = self.record.query(sql + " ORDER BY opened_at, id", params)
        # A row no warroom writes is skipped and said (record.unreadable), the rest listed.
        return self.record.readable(rows, read_incident, "incident")

    def open_ones(self) -> builtins.list[Incident]:
        return self.list(include_closed=False)

    def in_scope(self, scope: SessionScope) -> builtins.list[Incident]:
        """The open incidents `scope` admits, oldest first."""
        return [incident for incident in self.open_ones() if scope.admits(incident)]

    def pick(self, scope: SessionScope) -> Incident | None:
        """The incident a console session shows when it was given none: the newest it admits."""
        admitted = self.in_scope(scope)
        return admitted[-1] if admitted else None

    def sole(self, scope: SessionScope) -> Incident | None:
        """The one open incident `scope` admits; None when none or several are open.

        What the live sources attach their timeline entries and evidence to when
        the session names no incident: with several, a guess could put one
        incident's evidence in another's; unattached, it is recorded all the same.
        """
        admitted = self.in_scope(scope)
        return admitted[0] if len(admitted) == 1 else None


def _refuse_closed(incident: Incident, doing: str) -> None:
    if not incident.is_open:
        raise LifecycleError(f"{incident.id} is closed: reopen it to {doing}")


def replay(entries: list[tuple[str, str]]) -> dict[str, Any]:
    """Fold (kind, data JSON) timeline entries into the incident row they describe.

    Keys that are no incident field (an update's `reason`) say why, not what: left out.
    """
    state: dict[str, Any] = {}
    for kind, data in entries:
        if kind in ("incident.opened", "incident.updated"):
            loaded = json.loads(data or "{}")
            state.update({k: v for k, v in loaded.items() if k in INCIDENT_FIELDS})
    return state
