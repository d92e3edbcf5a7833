"""The runbook's decision points, as taken, with who took them and why."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from store.models import DECISIONS, Decision

if TYPE_CHECKING:
    from store.record import Record


class Decisions:
    def __init__(self, record: Record) -> None:
        self.record = record

    def add(
        self,
        incident_id: str,
        decision: str,
        *,
        rationale: str | None = None,
        rule_to_tune: str | None = None,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        row = {
            "incident_id": incident_id,
            "decision": decision,
            "rationale": rationale,
            "rule_to_tune": rule_to_tune,
            "actor": actor,
            "at": self.record.now(),
            "data": json.dumps(data, sort_keys=True, default=str) if data else None,
        }
        with self.record.write() as txn:
            (decision_id,) = txn.append("decisions", [row])
            because = f": {rationale}" if rationale else ""
            self.record.timeline.add_in(
                txn,
                incident_id,
                "decision",
                f"Decision: {decision}{because}",
                actor=actor,
                data={"decision": decision, "rule_to_tune": rule_to_tune},
            )
        return decision_id

    def for_incident(self, incident_id: str) -> list[Decision]:
        rows = self.record.query(
            "SELECT * FROM decisions WHERE incident_id = ? ORDER BY seq", (incident_id,)
        )
        return [Decision.from_row(row) for row in rows]
