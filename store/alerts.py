"""Alerts and rejected inputs, written in batches (thousands a second); alerts linked later."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from store import chain
from store.alert_links import (
    LINK_BY_SUBJECT,
    OPENED_FROM_ALERT_KIND,
    AlertSubject,
    alert_subject,
    row_subject,
)
from store.alert_summary import fold_linked_in, refresh_rollup_in
from store.models import AlertRecord
from store.schema import CHAINED_TABLES
from store.wording import counted

if TYPE_CHECKING:
    from store.record import Record, WriteTransaction

ALERT_COLUMNS = tuple(CHAINED_TABLES["alerts"])
DEDUPE_INDEX = ALERT_COLUMNS.index("dedupe_key")
INCIDENT_INDEX = ALERT_COLUMNS.index("incident_id")
_dedupe_key_of = itemgetter(DEDUPE_INDEX)
_incident_of = itemgetter(INCIDENT_INDEX)
_first = itemgetter(0)
# Rejected lines are kept whole up to this size; beyond it, the head plus the
# full length and SHA-256 (a hostile 2 GB line must not fill the disk).
MAX_KEPT_RAW = 8 * 1024 * 1024
_IN_CHUNK = 900  # SQLite host parameters per IN (...) query


@dataclass(frozen=True, slots=True)
class BatchResult:
    accepted: int
    duplicates: int
    rejected: int
    accepted_keys: frozenset[str] = frozenset()
    """Dedupe keys of the alerts this batch added (not those the record already had)."""
    rejected_duplicates: int = 0
    """Rejected lines the record already had (the same line of the same input, read again)."""


def alert_values(alert: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(alert.get(column) for column in ALERT_COLUMNS)


def rejected_row(
    raw: bytes,
    reason: str,
    *,
    received_at: str,
    origin: str,
    line_no: int | None,
    raw_size: int | None = None,
    raw_sha256: str | None = None,
) -> dict[str, Any]:
    """A rejected input as stored.

    `raw_size` and `raw_sha256` describe the whole line when `raw` is only its head.
    """
    return {
        "received_at": received_at,
        "origin": origin,
        "line_no": line_no,
        "reason": reason,
        "raw": bytes(raw[:MAX_KEPT_RAW]),
        "raw_size": raw_size if raw_size is not None else len(raw),
        "raw_sha256": raw_sha256 or hashlib.sha256(raw).hexdigest(),
    }


class Alerts:
    def __init__(self, record: Record) -> None:
        self.record = record

    def add_batch(
        self,
        alerts: Sequence[dict[str, Any]],
        rejected: Sequence[dict[str, Any]] = (),
    ) -> BatchResult:
        values = [alert_values(alert) for alert in alerts]
        hashes = [chain.content_hash("alerts", alert) for alert in alerts]
        return self.add_prepared(values, hashes, rejected)

    def add_prepared(
        self,
        values: Sequence[tuple[Any, ...]],
        content_hashes: Sequence[str],
        rejected: Sequence[dict[str, Any]] = (),
    ) -> BatchResult:
        """Record one batch in one transaction, skipping alerts already in the record (same key).

        A key repeated within the batch is recorded once, the first time.
        """
        with self.record.write() as txn:
            return self.add_prepared_in(txn, values, content_hashes, rejected)

    def add_prepared_in(
        self,
        txn: WriteTransaction,
        values: Sequence[tuple[Any, ...]],
        content_hashes: Sequence[str],
        rejected: Sequence[dict[str, Any]] = (),
    ) -> BatchResult:
        """`add_prepared` inside a write the caller holds (several batches, one commit)."""
        fresh_values, fresh_hashes = values, content_hashes
        if not _append_if_all_new(txn, values, content_hashes):
            fresh_values, fresh_hashes = self._fresh(txn.conn, values, content_hashes)
            txn.append_prepared("alerts", fresh_values, fresh_hashes)
        if any(map(_incident_of, fresh_values)):
            # Keeps a report over a million alerts a sub-second read.
            refresh_rollup_in(txn.conn)
        fresh_rejected = _append_not_yet_rejected(txn, rejected)
        return BatchResult(
            len(fresh_values),
            len(values) - len(fresh_values),
            fresh_rejected,
            frozenset(map(_dedupe_key_of, fresh_values)),
            len(rejected) - fresh_rejected,
        )

    def add_staged_in(
        self,
        txn: WriteTransaction,
        staged: bytes,
        content_hashes: Sequence[str],
        rejected: Sequence[dict[str, Any]] = (),
        *,
        with_accepted_keys: bool,
    ) -> tuple[BatchResult, list[tuple[Any, ...]] | None]:
        """`add_prepared_in` for rows given as a `store.record.stage_rows` database (inside
        `Record.staging_attached`): SQLite copies them, no value passes through Python.

        Also returns the rows, read back, when some key was recorded already (they are
        then sorted out as `add_prepared_in` does), else None. When every row was new,
        `accepted_keys` is read back only `with_accepted_keys` (1 us an alert for the
        writing process, and `ingest` needs them only to sort out a batch that met
        recorded keys).
        """
        self.record.load_staged(staged)
        if not _all_new(txn, lambda: txn.append_staged("alerts", content_hashes)):
            values = txn.conn.execute(  # by name: a shared column comes last (stage_rows)
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM staging.rows ORDER BY rowid"
            ).fetchall()
            return self.add_prepared_in(txn, values, content_hashes, rejected), values
        if txn.conn.execute(
            "SELECT 1 FROM staging.rows WHERE incident_id IS NOT NULL LIMIT 1"
        ).fetchone():
            refresh_rollup_in(txn.conn)
        fresh_rejected = _append_not_yet_rejected(txn, rejected)
        keys = (
            txn.conn.execute("SELECT dedupe_key FROM staging.rows").fetchall()
            if with_accepted_keys else ()
        )
        return BatchResult(
            len(content_hashes),
            0,
            fresh_rejected,
            frozenset(map(_first, keys)),
            len(rejected) - fresh_rejected,
        ), None

    def _fresh(
        self, conn: Any, values: Sequence[tuple[Any, ...]], content_hashes: Sequence[str]
    ) -> tuple[list[tuple[Any, ...]], list[str]]:
        """The rows whose key is neither in the record nor earlier in the batch."""
        known = self._known_keys(conn, [row[DEDUPE_INDEX] for row in values])
        fresh_values, fresh_hashes = [], []
        for row, digest in zip(values, content_hashes, strict=True):
            key = row[DEDUPE_INDEX]
            if key in known:
                continue
            known.add(key)
            fresh_values.append(row)
            fresh_hashes.append(digest)
        return fresh_values, fresh_hashes

    @staticmethod
    def _known_keys(conn: Any, keys: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            sql = (
                f"SELECT dedupe_key FROM alerts WHERE dedupe_key IN ({', '.join('?' * len(chunk))})"
            )
            known.update(row[0] for row in conn.execute(sql, chunk))
        return known

    def for_incident(self, incident_id: str, *, limit: int | None = None) -> list[AlertRecord]:
        sql = "SELECT * FROM alerts WHERE incident_id = ? ORDER BY time_ns, seq"
        params: list[Any] = [incident_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [AlertRecord.from_row(row) for row in self.record.query(sql, params)]

    def find(self, rule: str, time_ns: int) -> AlertRecord | None:
        """The recorded alert a console row shows (its rule and time); None if not recorded."""
        rows = self.record.query(
            "SELECT * FROM alerts WHERE time_ns = ? AND rule = ? ORDER BY seq LIMIT 1",
            (time_ns, rule),
        )
        return AlertRecord.from_row(rows[0]) if rows else None

    def latest(self, *, limit: int = 100) -> list[AlertRecord]:
        rows = self.record.query("SELECT * FROM alerts ORDER BY seq DESC LIMIT ?", (limit,))
        return [AlertRecord.from_row(row) for row in rows]

    def count(self, incident_id: str | None = None) -> int:
        if incident_id is None:
            return int(self.record.query("SELECT count(*) FROM alerts")[0][0])
        return int(self.record.query(
            "SELECT count(*) FROM alerts WHERE incident_id = ?", (incident_id,)
        )[0][0])

    def rejected_count(self) -> int:
        return int(self.record.query("SELECT count(*) FROM rejected_inputs")[0][0])

    # --- linking to an incident after recording (the rule: store/alert_links.py) ---------

    def link_keys(
        self, incident_id: str, dedupe_keys: Sequence[str], *, basis: str, actor: str | None
    ) -> int:
        """Link the alerts with these keys that have no incident yet; returns how many."""
        with self.record.write() as txn:
            seqs: list[int] = []
            for start in range(0, len(dedupe_keys), _IN_CHUNK):
                chunk = list(dedupe_keys[start : start + _IN_CHUNK])
                seqs += [
                    row[0]
                    for row in txn.conn.execute(
                        "SELECT seq FROM alerts WHERE incident_id IS NULL "
                        f"AND dedupe_key IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    )
                ]
            return self._link_in(txn, incident_id, seqs, basis, actor)

    def link_subjects(
        self,
        incident_id: str,
        subjects: set[AlertSubject],
        *,
        since_seq: int,
        actor: str | None,
        received_since: str | None = None,
    ) -> int:
        """Link every alert from chain position `since_seq` on (and received at or after
        `received_since`, when given), with no incident, about one of `subjects`; returns
        how many."""
        categories = sorted({subject.category for subject in subjects})
        if not categories:
            return 0
        with self.record.write() as txn:
            rows = txn.conn.execute(
                "SELECT seq, category, output_fields FROM alerts WHERE seq >= ? "
                "AND received_at >= ? AND incident_id IS NULL "
                f"AND category IN ({', '.join('?' * len(categories))})",
                (since_seq, received_since or "", *categories),
            ).fetchall()
            seqs = [seq for seq, kind, fields in rows if row_subject(kind, fields) in subjects]
            return self._link_in(txn, incident_id, seqs, LINK_BY_SUBJECT, actor)

    def link_opening(self, incident_id: str, alert: AlertRecord, *, actor: str | None,
                     received_since: str | None = None) -> int:
        """An incident opened by hand from `alert`: link it and every alert about its subject
        (from the first received at or after `received_since`: a drill console's own start,
        so an earlier drill's leftovers never become this incident's first sign), and name
        the subject on the timeline so later ones are linked too (`OPENED_FROM_ALERT_KIND`);
        how many were linked."""
        linked = self.link_keys(incident_id, [alert.dedupe_key or ""], basis=LINK_BY_SUBJECT,
                                actor=actor)
        subject = alert_subject(alert.category, alert.output_fields)
        if subject is not None:
            linked += self.link_subjects(incident_id, {subject}, since_seq=0, actor=actor,
                                         received_since=received_since)
        self.record.timeline.add(
            incident_id, OPENED_FROM_ALERT_KIND,
            f"Opened from the alert {alert.rule} at {alert.time}; "
            f"{counted(linked, 'alert')} linked",
            actor=actor,
            data={"alert_seq": alert.seq, "linked": linked,
                  "subjects": [subject.to_list()] if subject is not None else []},
        )
        return linked

    def _link_in(
        self,
        txn: WriteTransaction,
        incident_id: str,
        seqs: list[int],
        basis: str,
        actor: str | None,
    ) -> int:
        status = txn.conn.execute(
            "SELECT status FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        if not seqs or status is None or status[0] == "closed":
            return 0  # a closed incident takes no more alerts
        at = self.record.now()
        seqs = sorted(set(seqs))
        txn.append(
            "alert_links",
            [
                {
                    "incident_id": incident_id,
                    "alert_seq": seq,
                    "basis": basis,
                    "actor": actor,
                    "at": at,
                }
                for seq in seqs
            ],
        )
        for start in range(0, len(seqs), _IN_CHUNK):
            chunk = seqs[start : start + _IN_CHUNK]
            txn.conn.execute(
                f"UPDATE alerts SET incident_id = ? WHERE seq IN ({', '.join('?' * len(chunk))})",
                (incident_id, *chunk),
            )
        fold_linked_in(txn.conn, seqs)
        return len(seqs)

def _append_if_all_new(
    txn: WriteTransaction, values: Sequence[tuple[Any, ...]], content_hashes: Sequence[str]
) -> bool:
    """Append the whole batch if no key in it is in the record or twice in it; else nothing.

    The usual batch is all new: the unique index on the key finds out while
    inserting, at no cost beyond the insert's own, where asking the record first
    cost a sixth of the insert. A repeat undoes the attempt (a savepoint) and
    the caller sorts the batch out.
    """
    if not values:
        return True
    return _all_new(txn, lambda: txn.append_prepared("alerts", values, content_hashes))


def _all_new(txn: WriteTransaction, append: Callable[[], object]) -> bool:
    """Run `append` under a savepoint; False (and nothing appended) when a key it adds is
    recorded already (or any other refusal, which the careful path meets again and raises).
    The append moved no head then: it failed before."""
    txn.conn.execute("SAVEPOINT all_new_alerts")
    try:
        append()
    except sqlite3.IntegrityError:
        txn.conn.execute("ROLLBACK TO all_new_alerts")
        txn.conn.execute("RELEASE all_new_alerts")
        return False
    txn.conn.execute("RELEASE all_new_alerts")
    return True


def _append_not_yet_rejected(txn: WriteTransaction, rejected: Sequence[dict[str, Any]]) -> int:
    """Append the rejected lines the record does not hold yet; how many."""
    fresh = _not_yet_rejected(txn.conn, rejected)
    if fresh:
        txn.append("rejected_inputs", fresh)
    return len(fresh)


def _not_yet_rejected(conn: Any, rejected: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rejected lines the record does not hold yet: the same bytes at the same line of the
    same input, read again (a file ingested twice), are recorded once."""
    fresh, seen = [], set()
    for row in rejected:
        key = (row["raw_sha256"], row["raw_size"], row["line_no"], row["origin"])
        if key in seen or conn.execute(
            "SELECT 1 FROM rejected_inputs WHERE raw_sha256 = ? AND raw_size = ? "
            "AND line_no IS ? AND origin IS ? LIMIT 1",
            key,
        ).fetchone():
            continue
        seen.add(key)
        fresh.append(row)
    return fresh
