"""The incident timeline: what happened, in order, each entry chained."""

from __future__ import annotations

import json
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from store.models import TimelineEntry
from store.record import iso

if TYPE_CHECKING:
    from store.record import Record, WriteTransaction

# Packed reads come back in SQLite's order, which it does not promise (packed_rows.py).
_by_seq = attrgetter("seq")


class Timeline:
    def __init__(self, record: Record) -> None:
        self.record = record

    def add(
        self,
        incident_id: str | None,
        kind: str,
        summary: str,
        *,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        with self.record.write() as txn:
            return self.add_in(txn, incident_id, kind, summary, actor=actor, data=data, at=at)

    def add_in(
        self,
        txn: WriteTransaction,
        incident_id: str | None,
        kind: str,
        summary: str,
        *,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        """Add an entry inside a write that is already under way."""
        row = {
            "incident_id": incident_id,
            "at": iso(at) if at else self.record.now(),
            "kind": kind,
            "actor": actor,
            "summary": summary,
            "data": json.dumps(data, sort_keys=True, default=str) if data else None,
        }
        return txn.append("timeline", [row])[0]

    def for_incident(
        self,
        incident_id: str,
        *,
        kinds: tuple[str, ...] | None = None,
        after: int | None = None,
    ) -> list[TimelineEntry]:
        """The incident's entries in record order; with `after`, only those with a larger seq.

        `after` lets a reader that polls (the war room) fetch just what was added since
        the last entry it has, through the (incident_id, seq) index.
        """
        sql = "SELECT * FROM timeline WHERE incident_id = ?"
        params: list[Any] = [incident_id]
        if after is not None:
            sql += " AND seq > ?"
            params.append(after)
        if kinds:
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params.extend(kinds)
        rows = self.record.query_packed(sql + " ORDER BY seq", params)
        return sorted(map(TimelineEntry.from_row, rows), key=_by_seq)

    def count(self, incident_id: str) -> int:
        return int(self.record.query(
            "SELECT count(*) FROM timeline WHERE incident_id = ?", (incident_id,)
        )[0][0])
