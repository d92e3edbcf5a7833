"""Checklist ticks per phase, with who ticked and when; the latest tick of an item wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.models import PHASES, ChecklistTick

if TYPE_CHECKING:
    from datetime import datetime

    from store.record import Record


class Checklist:
    def __init__(self, record: Record) -> None:
        self.record = record

    def tick(
        self,
        incident_id: str,
        phase: str,
        item: str,
        *,
        checked: bool = True,
        actor: str | None = None,
        verified: str | None = None,
        note: str | None = None,
    ) -> int:
        """Tick (or untick) an item.

        `verified` is "verified" or "not-verified" when the console checked it against the cluster.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        row = {
            "incident_id": incident_id,
            "phase": phase,
            "item": item,
            "checked": int(checked),
            "verified": verified,
            "actor": actor,
            "note": note,
            "at": self.record.now(),
        }
        with self.record.write() as txn:
            (tick_id,) = txn.append("checklist", [row])
            mark = "ticked" if checked else "unticked"
            self.record.timeline.add_in(
                txn,
                incident_id,
                "checklist",
                f"Checklist ({phase}) {mark}: {item}",
                actor=actor,
                data={"phase": phase, "item": item, "checked": checked, "verified": verified},
            )
        return tick_id

    def state(
        self, incident_id: str, *, until: datetime | None = None
    ) -> dict[tuple[str, str], ChecklistTick]:
        """The latest tick of every item, keyed by (phase, item); with `until`, as it stood
        then (a review's replay moment): ticks recorded after it count for nothing."""
        rows = self.record.query(
            "SELECT * FROM checklist WHERE incident_id = ? ORDER BY seq", (incident_id,)
        )
        latest: dict[tuple[str, str], ChecklistTick] = {}
        for row in rows:
            tick = ChecklistTick.from_row(row)
            if until is None or tick.at <= until:
                latest[(tick.phase, tick.item)] = tick
        return latest
