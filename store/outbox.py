"""The notification outbox: written before sending, delivered once, retried until then.

The notification itself is a chained entry; its delivery state (attempts, next
try, last error) changes and lives beside it in `outbox_state`. The two ends of
a notification's life are chained too: delivery as a `notification.delivered`
timeline entry, giving up as a `notification.gave-up` one, so `verify` finds a
state marked sent or abandoned behind warroom's back (store/verify.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from store.models import parse_time
from store.record import iso

if TYPE_CHECKING:
    from store.record import Record


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    incident_id: str | None
    channel: str
    event: str
    dedup_key: str
    payload: dict[str, Any]
    created_at: datetime
    status: str  # "queued", "delivered", "failed" (gave up)
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None


_SELECT = (
    "SELECT o.id, o.incident_id, o.channel, o.event, o.dedup_key, o.payload, o.created_at, "
    "s.status, s.attempts, s.next_attempt_at, s.last_error, s.delivered_at "
    "FROM outbox AS o JOIN outbox_state AS s ON s.outbox_id = o.id"
)


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        incident_id=row["incident_id"],
        channel=row["channel"],
        event=row["event"],
        dedup_key=row["dedup_key"],
        payload=json.loads(row["payload"]),
        created_at=parse_time(row["created_at"]),  # type: ignore[arg-type]
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=parse_time(row["next_attempt_at"]),
        last_error=row["last_error"],
        delivered_at=parse_time(row["delivered_at"]),
    )


class Outbox:
    def __init__(self, record: Record) -> None:
        self.record = record

    def enqueue(
        self,
        incident_id: str | None,
        channel: str,
        event: str,
        dedup_key: str,
        payload: dict[str, Any],
    ) -> int | None:
        """Queue a notification; None when one with this dedup key is already queued or sent."""
        now = self.record.now()
        with self.record.write() as txn:
            exists = txn.conn.execute(
                "SELECT 1 FROM outbox WHERE dedup_key = ?", (dedup_key,)
            ).fetchone()
            if exists:
                return None
            row = {
                "incident_id": incident_id,
                "channel": channel,
                "event": event,
                "dedup_key": dedup_key,
                "payload": json.dumps(payload, sort_keys=True, default=str),
                "created_at": now,
            }
            (outbox_id,) = txn.append("outbox", [row])
            txn.conn.execute(
                "INSERT INTO outbox_state (outbox_id, status, attempts, next_attempt_at) "
                "VALUES (?, 'queued', 0, ?)",
                (outbox_id, now),
            )
        return outbox_id

    def claim_due(
        self,
        *,
        limit: int = 100,
        lease: timedelta = timedelta(seconds=60),
        now: datetime | None = None,
    ) -> list[OutboxItem]:
        """Take queued items whose time has come (by `now`, default the record's clock),
        leasing them so a second drainer skips them."""
        now = now or self.record.clock()
        with self.record.write() as txn:
            ids = [
                row[0]
                for row in txn.conn.execute(
                    "SELECT outbox_id FROM outbox_state WHERE status = 'queued' "
                    "AND next_attempt_at <= ? ORDER BY outbox_id LIMIT ?",
                    (iso(now), limit),
                )
            ]
            txn.conn.executemany(
                "UPDATE outbox_state SET next_attempt_at = ? WHERE outbox_id = ?",
                [(iso(now + lease), outbox_id) for outbox_id in ids],
            )
        return [self.get(outbox_id) for outbox_id in ids]

    def mark_delivered(self, outbox_id: int, *, detail: str | None = None) -> None:
        item = self.get(outbox_id)
        if item.status == "delivered":
            return
        with self.record.write() as txn:
            txn.conn.execute(
                "UPDATE outbox_state SET status = 'delivered', attempts = attempts + 1, "
                "delivered_at = ?, last_error = NULL WHERE outbox_id = ?",
                (self.record.now(), outbox_id),
            )
            self.record.timeline.add_in(
                txn,
                item.incident_id,
                "notification.delivered",
                f"Notified {item.channel}: {item.event}" + (f" ({detail})" if detail else ""),
                data={"outbox_id": outbox_id, "channel": item.channel, "dedup_key": item.dedup_key},
            )

    def mark_failed(
        self, outbox_id: int, error: str, *, retry_at: datetime | None, give_up: bool = False
    ) -> None:
        """Record a failed attempt: retried at `retry_at`, or never again when `give_up`."""
        item = self.get(outbox_id) if give_up else None
        with self.record.write() as txn:
            txn.conn.execute(
                "UPDATE outbox_state SET status = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = ? WHERE outbox_id = ?",
                (
                    "failed" if give_up else "queued",
                    error,
                    iso(retry_at) if retry_at else None,
                    outbox_id,
                ),
            )
            if item is not None and item.status != "failed":
                self.record.timeline.add_in(
                    txn,
                    item.incident_id,
                    "notification.gave-up",
                    f"Gave up notifying {item.channel}: {item.event}",
                    data={"outbox_id": outbox_id, "channel": item.channel,
                          "dedup_key": item.dedup_key, "error": error},
                )  # fmt: skip

    def defer(self, outbox_id: int, until: datetime, reason: str) -> None:
        """Hold a queued item until `until` without counting an attempt: it waits behind another."""
        with self.record.write() as txn:
            txn.conn.execute(
                "UPDATE outbox_state SET next_attempt_at = ?, last_error = ? "
                "WHERE outbox_id = ? AND status = 'queued'",
                (iso(until), reason, outbox_id),
            )

    def get(self, outbox_id: int) -> OutboxItem:
        rows = self.record.query(_SELECT + " WHERE o.id = ?", (outbox_id,))
        if not rows:
            raise KeyError(f"no notification {outbox_id} in the outbox")
        return _item(rows[0])

    def items(self, *, status: str | None = None) -> list[OutboxItem]:
        sql, params = _SELECT, []
        if status is not None:
            sql += " WHERE s.status = ?"
            params.append(status)
        return [_item(row) for row in self.record.query(sql + " ORDER BY o.id", params)]
