"""`warroom verify`: check the whole record file and name the first thing that does not hold.

In order, stopping at the first stage that finds a problem (a later stage
cannot be trusted over a file that failed an earlier one):

1. the schema: tables, columns, indexes, and no trigger or view, exactly as this
   version's migrations make them (a trigger can forge what is written next, a
   view can stand in for a table);
2. the audit chain, entry by entry: position, link, content hash (which covers
   each value's type: a number stored as text, a BLOB as text, hash apart),
   and for evidence and rejected input the content against its own SHA-256
   and size;
3. the chain's recorded head, and each anchor given (an `entries:hash` kept
   outside the file: a report, a notification, the SIEM's checkpoints);
4. state outside the chain: each incident row against the replay of its
   chained entries (and the rules every writer keeps), each alert linked to an
   incident after it was recorded against its chained link, each
   notification's delivery state against its chained delivery or give-up entry.

Everything is read through the connection given, which `warroom verify` opens
read-only: verifying never writes, migrates or creates anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from store import chain
from store.chain_walk import LINKED_ALERTS_SINCE, ChainWalk, head_of, walk_chain
from store.errors import NotARecord, RecordTooNew
from store.findings import Anchor, Problem
from store.incidents import replay
from store.schema import INCIDENT_FIELDS, SCHEMA_VERSION, schema_version, too_new_message
from store.schema_check import check_schema, check_types
from store.validate import incident_event_problem, incident_problem

__all__ = [
    "LINKED_ALERTS_SINCE",
    "Anchor",
    "ChainWalk",
    "Problem",
    "VerifyResult",
    "check_alert_links",
    "check_incidents",
    "check_outbox",
    "check_schema",
    "check_types",
    "head_of",
    "verify_chain",
    "walk_chain",
]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    head_hash: str
    problem: Problem | None
    anchors: tuple[Anchor, ...] = ()
    schema: int = SCHEMA_VERSION
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def head(self) -> str:
        """`entries:hash`, the anchor to keep elsewhere for the next verification."""
        return f"{self.entries}:{self.head_hash}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "head": self.head,
            "schema": self.schema,
            "anchors": [str(anchor) for anchor in self.anchors],
            "checked": dict(self.checked),
            "first_problem": asdict(self.problem) | {"message": str(self.problem)}
            if self.problem
            else None,
        }


def verify_chain(conn: sqlite3.Connection, anchors: Iterable[Anchor] = ()) -> VerifyResult:
    """Check the whole file (see the module's docstring); raises NotARecord, RecordTooNew."""
    anchors = tuple(anchors)
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as error:
        raise NotARecord(f"not a warroom record ({error})") from None
    if version > SCHEMA_VERSION:
        raise RecordTooNew(too_new_message(version))
    if version == 0:
        raise NotARecord("not a warroom record (it has no schema version)")
    checked: dict[str, int] = {}

    def result(
        problem: Problem | None, entries: int = 0, head: str = chain.GENESIS
    ) -> VerifyResult:
        return VerifyResult(problem is None, entries, head, problem, anchors, version, checked)

    problem = check_schema(conn, version)
    if problem is not None:
        return result(problem)
    walk = walk_chain(conn, version, anchors)
    checked.update(walk.counts)
    checked["entries"] = walk.entries
    problem = walk.problem or walk.head_problem() or walk.anchor_problem()
    if problem is None:
        problem = check_incidents(conn)
    if problem is None and version >= LINKED_ALERTS_SINCE:
        problem = check_alert_links(conn)
    if problem is None:
        problem = check_outbox(conn)
    return result(problem, walk.entries, walk.head_hash)


# ----- state outside the chain ----------------------------------------------------------------


def check_incidents(conn: sqlite3.Connection) -> Problem | None:
    """Each incident row must equal the replay of its chained opened/updated entries."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    events: dict[str, list[tuple[str, str]]] = {}
    for row in cursor.execute(
        "SELECT incident_id, kind, data FROM timeline "
        "WHERE kind IN ('incident.opened', 'incident.updated') ORDER BY seq"
    ):
        events.setdefault(row["incident_id"], []).append((row["kind"], row["data"]))
    seen = set()
    for row in cursor.execute("SELECT * FROM incidents ORDER BY id"):
        incident_id = row["id"]
        seen.add(incident_id)
        if incident_id not in events:
            return Problem(
                "incidents", incident_id, None, "no chained entry opened this incident (inserted)"
            )
        for _kind, data in events[incident_id]:
            wrong = incident_event_problem(data)
            if wrong is not None:
                return Problem(
                    "incidents", incident_id, None, f"holds what no warroom writes: {wrong}"
                )
        expected = replay(events[incident_id])
        for field_name in INCIDENT_FIELDS:
            if field_name == "id" or field_name not in row.keys():
                continue
            want = expected.get(field_name)
            if field_name in ("drill", "false_positive", "data_breach"):
                want = want or 0
            if row[field_name] != want:
                return Problem(
                    "incidents",
                    incident_id,
                    None,
                    f"{field_name} is {row[field_name]!r} but the chain says {want!r} (edited)",
                )
        wrong = incident_problem(incident_id, expected)
        if wrong is not None:
            return Problem("incidents", incident_id, None, f"holds what no warroom writes: {wrong}")
    missing = sorted(set(events) - seen)
    if missing:
        return Problem(
            "incidents",
            missing[0],
            None,
            "the chain opened this incident but its row is gone (deleted)",
        )
    return None


def check_alert_links(conn: sqlite3.Connection) -> Problem | None:
    """Each chained link's alert carries its incident: a link undone behind warroom's back
    (the row's incident cleared or changed) would take the alert out of its report."""
    row = conn.execute(
        "SELECT a.id, l.alert_seq, l.incident_id, a.incident_id FROM alert_links AS l "
        "LEFT JOIN alerts AS a ON a.seq = l.alert_seq "
        "WHERE a.id IS NULL OR a.incident_id IS NOT l.incident_id LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    row_id, seq, linked_to, holds = row
    if row_id is None:
        return Problem("alert_links", None, seq, f"links entry {seq} to {linked_to}, but no "
                       "alert is at that position (deleted)")  # fmt: skip
    return Problem("alerts", row_id, seq, f"the chain links it to {linked_to}, but its row says "
                   f"{holds!r} (edited)")  # fmt: skip


OUTBOX_STATUSES = ("queued", "delivered", "failed")
DELIVERED_KIND = "notification.delivered"
GAVE_UP_KIND = "notification.gave-up"
EXPORTED_KIND = "incident.exported"
IMPORTED_KIND = "incident.imported"
NOT_SENT = "copied with an exported incident; not sent from this copy"
IMPORTED_KEY = "imported:"
"""Dedup keys of notifications an import copied: `imported:<export head>:<original key>`."""


def original_key(dedup_key: str) -> str:
    """The dedup key a notification had where it was queued (an import's copy keeps it inside)."""
    if dedup_key.startswith(IMPORTED_KEY):
        return dedup_key.split(":", 2)[-1]
    return dedup_key


def check_outbox(conn: sqlite3.Connection) -> Problem | None:
    """Each notification's delivery state agrees with the chain.

    Delivered: exactly when a chained `notification.delivered` entry names it.
    Given up: only with a chained `notification.gave-up` entry, or as a copy an
    export or import made (chained before the incident's `incident.exported`
    entry, or keyed `imported:`), which is never sent from here. The
    attempts count and the next try's time are not chained: a changed retry
    time delays a notification, which `warroom notify` lists, but cannot make
    it look sent.
    """
    chained: dict[str, set[str]] = {DELIVERED_KIND: set(), GAVE_UP_KIND: set()}
    for kind, data in conn.execute(
        "SELECT kind, data FROM timeline WHERE kind IN (?, ?)", (DELIVERED_KIND, GAVE_UP_KIND)
    ):
        key = _json_field(data, "dedup_key")
        if isinstance(key, str):
            chained[kind].add(key)
    orphan = conn.execute(
        "SELECT s.outbox_id FROM outbox_state AS s LEFT JOIN outbox AS o ON o.id = s.outbox_id "
        "WHERE o.id IS NULL LIMIT 1"
    ).fetchone()
    if orphan is not None:
        return Problem("outbox_state", orphan[0], None, "the state of a notification that is not "
                       "in the outbox (inserted)")  # fmt: skip
    exported_until = dict(conn.execute(
        "SELECT incident_id, max(seq) FROM timeline WHERE kind = ? GROUP BY incident_id",
        (EXPORTED_KIND,),
    ).fetchall())  # fmt: skip
    cursor = conn.execute(
        "SELECT o.id, o.seq, o.incident_id, o.dedup_key, s.outbox_id, s.status "
        "FROM outbox AS o LEFT JOIN outbox_state AS s ON s.outbox_id = o.id ORDER BY o.seq"
    )
    for row_id, seq, incident_id, key, state_id, status in cursor:
        copied = (isinstance(key, str) and key.startswith(IMPORTED_KEY)) or (
            seq < exported_until.get(incident_id, 0)
        )
        original = original_key(key) if isinstance(key, str) else key
        delivered = original in chained[DELIVERED_KIND]
        if state_id is None:
            return Problem("outbox_state", row_id, seq, "the notification has no delivery state "
                           "(deleted: it would never be sent)")  # fmt: skip
        if status not in OUTBOX_STATUSES:
            return Problem("outbox_state", row_id, seq, f"unknown delivery status {status!r}")
        if status == "delivered" and not delivered:
            return Problem("outbox_state", row_id, seq, "marked delivered, but no chained "
                           "delivery entry says it was sent (edited)")  # fmt: skip
        if delivered and status != "delivered":
            return Problem("outbox_state", row_id, seq, f"the chain says it was delivered but its "
                           f"state says {status!r} (edited: it would be sent again)")  # fmt: skip
        if copied and status == "queued":
            return Problem("outbox_state", row_id, seq, "an imported copy marked to be sent "
                           "from this record (edited)")  # fmt: skip
        if status == "failed" and not copied and key not in chained[GAVE_UP_KIND]:
            return Problem("outbox_state", row_id, seq, "marked given up, but no chained "
                           "entry says why (edited: it would never be sent)")  # fmt: skip
    return None


def _json_field(data: object, name: str) -> Any:
    try:
        decoded = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        return None
    return decoded.get(name) if isinstance(decoded, dict) else None
