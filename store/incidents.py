"""Incidents: opened, changed and listed. Every change is a chained timeline entry."""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from store.errors import UnknownIncident
from store.models import PHASES, SEVERITIES, STATUSES, Incident
from store.record import iso
from store.schema import INCIDENT_FIELDS

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
        stored = {key: _check(key, value) for key, value in changes.items()}
        with self.record.write() as txn:
            current = txn.conn.execute(
                f"SELECT {', '.join(stored) or 'id'} FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
            if current is None:
                raise UnknownIncident(f"no incident {incident_id} in {self.record.path}")
            changed = {
                key: value
                for (key, value), old in zip(stored.items(), current, strict=False)
                if value != old
            }
            if changed:
                assignments = ", ".join(f"{key} = ?" for key in changed)
                txn.conn.execute(
                    f"UPDATE incidents SET {assignments} WHERE id = ?",
                    (*changed.values(), incident_id),
                )
                self.record.timeline.add_in(
                    txn,
                    incident_id,
                    "incident.updated",
                    _describe(changed),
                    actor=actor,
                    data=changed,
                )
        return self.get_required(incident_id)

    def acknowledge(self, incident_id: str, *, actor: str | None = None) -> Incident:
        """Record the first acknowledgement (MTTD is measured to it); later ones change nothing."""
        incident = self.get_required(incident_id)
        if incident.acknowledged_at is not None:
            return incident
        return self.update(incident_id, actor=actor, acknowledged_at=self.record.clock())

    def get(self, incident_id: str) -> Incident | None:
        rows = self.record.query("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return Incident.from_row(rows[0]) if rows else None

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
        return [Incident.from_row(row) for row in rows]

    def open_ones(self) -> builtins.list[Incident]:
        return self.list(include_closed=False)


def replay(entries: list[tuple[str, str]]) -> dict[str, Any]:
    """Fold (kind, data JSON) timeline entries into the incident row they describe."""
    state: dict[str, Any] = {}
    for kind, data in entries:
        if kind in ("incident.opened", "incident.updated"):
            state.update(json.loads(data or "{}"))
    return state
