"""Cluster actions: the intent is committed before the cluster is touched, the outcome after.

A crash in between leaves an intent without an outcome, which `unfinished()`
reports as "outcome unknown": never a silent change.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from store.models import ActionEntry

if TYPE_CHECKING:
    from store.record import Record

OUTCOME_STATUSES = ("succeeded", "failed", "no-op", "unknown")


def _json(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, sort_keys=True, default=str) if value else None


class Actions:
    def __init__(self, record: Record) -> None:
        self.record = record

    def intent(
        self,
        incident_id: str | None,
        action: str,
        target: str | None,
        *,
        params: dict[str, Any] | None = None,
        actor: str | None = None,
        context: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> str:
        """Record what is about to be done; returns the action ID that ties the outcome to it."""
        action_id = uuid.uuid4().hex
        row = {
            "incident_id": incident_id,
            "action_id": action_id,
            "entry": "intent",
            "action": action,
            "target": target,
            "params": _json(params),
            "status": "pending",
            "actor": actor,
            "context": context,
            "at": self.record.now(),
            "data": _json(data),
        }
        with self.record.write() as txn:
            txn.append("actions", [row])
        return action_id

    def outcome(
        self,
        action_id: str,
        status: str,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> ActionEntry:
        """Record how an action ended, and put it on the incident's timeline."""
        if status not in OUTCOME_STATUSES:
            raise ValueError(f"outcome status must be one of {', '.join(OUTCOME_STATUSES)}")
        intent = self.intent_of(action_id)
        row = {
            "incident_id": intent.incident_id,
            "action_id": action_id,
            "entry": "outcome",
            "action": intent.action,
            "target": intent.target,
            "params": _json(intent.params),
            "status": status,
            "message": message,
            "actor": actor or intent.actor,
            "context": intent.context,
            "at": self.record.now(),
            "data": _json(data),
        }
        with self.record.write() as txn:
            txn.append("actions", [row])
            target = f" {intent.target}" if intent.target else ""
            self.record.timeline.add_in(
                txn,
                intent.incident_id,
                f"action.{status}",
                f"{intent.action}{target}: {status}: {message}",
                actor=row["actor"],
                data={"action_id": action_id, "action": intent.action, "target": intent.target},
            )
        return self._one(
            "SELECT * FROM actions WHERE action_id = ? AND entry = 'outcome'", action_id
        )

    def intent_of(self, action_id: str) -> ActionEntry:
        return self._one(
            "SELECT * FROM actions WHERE action_id = ? AND entry = 'intent'", action_id
        )

    def _one(self, sql: str, action_id: str) -> ActionEntry:
        rows = self.record.query(sql + " ORDER BY seq DESC LIMIT 1", (action_id,))
        if not rows:
            raise KeyError(f"no action {action_id} in the record")
        return ActionEntry.from_row(rows[0])

    def for_incident(self, incident_id: str) -> list[ActionEntry]:
        rows = self.record.query(
            "SELECT * FROM actions WHERE incident_id = ? ORDER BY seq", (incident_id,)
        )
        return [ActionEntry.from_row(row) for row in rows]

    def unfinished(self, incident_id: str | None = None) -> list[ActionEntry]:
        """Intents with no outcome: the process died while the cluster call was under way."""
        sql = (
            "SELECT * FROM actions AS i WHERE entry = 'intent' AND NOT EXISTS "
            "(SELECT 1 FROM actions AS o WHERE o.action_id = i.action_id AND o.entry = 'outcome')"
        )
        params: list[Any] = []
        if incident_id is not None:
            sql += " AND incident_id = ?"
            params.append(incident_id)
        return [
            ActionEntry.from_row(row) for row in self.record.query(sql + " ORDER BY seq", params)
        ]
