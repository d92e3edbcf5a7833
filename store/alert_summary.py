"""What the report says about an incident's alerts, without loading them.

A million alerts cannot be grouped by rule and by pod within a report's time
budget: every exact count is a scan, and the pod lives inside the
`output_fields` JSON. So the counts are kept in a rollup, `alert_rollup`:
one row per (incident, rule, priority, namespace, pod) with its count and
first/last time, valid up to the alert chain position stored in
`meta.alert_rollup_seq`. Alerts are append-only and their incident changes
at most once, from none to one, by a chained link that also counts them into
the rollup (`fold_linked_in`), so the rollup plus the alerts after that
position is always exact: `summarise_alerts` reads the rollup and
aggregates only the newer alerts live, and works (more slowly) on a record
that has no rollup at all, read-only, on any machine.

`refresh_rollup` folds the newer alerts in; it costs what those alerts cost
to read, so calling it after each ingest batch keeps reports fast. The
rollup is derived data, not evidence: it is not chained, and deleting it
loses nothing (the next refresh rebuilds it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.record import Record

ROLLUP_TABLE = "alert_rollup"
ROLLUP_MARK = "alert_rollup_seq"
ALERT_ROWS = 20
TOP_RULES = 20
TOP_PODS = 10
PODS_PER_RULE = 3


# SQLite's json_extract ends a string at an escaped NUL ("a\u0000b" gave the report's
# Pods column "a"). Rows whose fields hold one (`instr` finds the escape, rarely) take the
# value as JSON text instead, behind a NUL that says so; `field_value` decodes it, and the
# report's sanitiser then shows the NUL as it shows it in every other cell.
JSON_TEXT = "\x00"


def _field_sql(*paths: str) -> str:
    # json_valid first: one malformed row must not abort the whole summary.
    extracts = ", ".join(f"json_extract(output_fields, '{path}')" for path in paths)
    as_json = ", ".join(f"(output_fields -> '{path}')" for path in paths)
    return (
        "CASE WHEN NOT json_valid(output_fields) THEN NULL "
        f"WHEN instr(output_fields, '\\u0000') THEN char(0) || coalesce({as_json}) "
        f"ELSE coalesce({extracts}) END"
    )


def field_value(value: object) -> str:
    """A pod or namespace as `_field_sql` gave it, whole (NULs and all)."""
    text = str(value)
    if text.startswith(JSON_TEXT):
        decoded = json.loads(text[1:])
        return decoded if isinstance(decoded, str) else json.dumps(decoded)
    return text


# Falco names the pod and namespace differently by version and output form
# (notes/formats.md): `k8s.pod.name` in JSON output, `k8s_pod_name` in text.
POD_SQL = _field_sql('$."k8s.pod.name"', "$.k8s_pod_name")
NAMESPACE_SQL = _field_sql('$."k8s.ns.name"', "$.k8s_ns_name", "$.k8s_ns")
# Grouping keys are never NULL ('' stands for "not known") so the rollup's
# primary key can match them.
_GROUPED = (
    f"SELECT incident_id, rule, priority, coalesce({NAMESPACE_SQL}, '') AS ns, "
    f"coalesce({POD_SQL}, '') AS pod, count(*) AS n, min(time_ns) AS first_ns, "
    "max(time_ns) AS last_ns FROM alerts WHERE seq > ? AND incident_id {incident} "
    "GROUP BY incident_id, rule, priority, ns, pod"
)


@dataclass(frozen=True, slots=True)
class RuleSummary:
    """One (rule, priority) of an incident's alerts: how many, first and last seen, which pods."""

    rule: str
    priority: str
    count: int
    first: datetime | None
    last: datetime | None
    pods: tuple[str, ...] = ()
    """The pods it fired on most (`namespace/pod`), at most PODS_PER_RULE."""
    pod_count: int = 0


@dataclass(frozen=True, slots=True)
class AlertSummary:
    total: int
    first: datetime | None
    last: datetime | None
    first_text: str | None  # the time as written, when no alert has a parsed time
    last_text: str | None
    rule_summaries: list[RuleSummary]  # most frequent first
    rules: int  # distinct (rule, priority) pairs
    pods: list[tuple[str, str, int]]  # namespace ('' unknown), pod, count
    pod_count: int  # distinct (namespace, pod) pairs
    listed: list[tuple[str, str, str, str | None, str]]  # time, priority, rule, pod, output

    @property
    def by_rule(self) -> list[tuple[str, str, int]]:
        """(rule, priority, count), most frequent first."""
        return [(r.rule, r.priority, r.count) for r in self.rule_summaries]


def from_ns(value: int | None) -> datetime | None:
    if value is None:
        return None
    seconds, nanos = divmod(value, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000)


def _has_rollup(record: Record) -> bool:
    return bool(
        record.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (ROLLUP_TABLE,)
        )
    )


def rollup_mark(record: Record) -> int:
    """The alert chain position the rollup covers (0: no rollup)."""
    if not _has_rollup(record):
        return 0
    row = record.query("SELECT value FROM meta WHERE key = ?", (ROLLUP_MARK,))
    return int(row[0][0]) if row else 0


def refresh_rollup(record: Record) -> int:
    """Fold alerts recorded since the last refresh into the rollup; returns how many."""
    with record.write() as txn:
        return refresh_rollup_in(txn.conn)


def refresh_rollup_in(conn: sqlite3.Connection) -> int:
    """`refresh_rollup` inside a write the caller holds (e.g. the one that recorded a batch)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {ROLLUP_TABLE} (incident_id TEXT NOT NULL, "
        "rule TEXT NOT NULL, priority TEXT NOT NULL, ns TEXT NOT NULL, pod TEXT NOT NULL, "
        "n INTEGER NOT NULL, first_ns INTEGER, last_ns INTEGER, "
        "PRIMARY KEY (incident_id, rule, priority, ns, pod))"
    )
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (ROLLUP_MARK,)).fetchone()
    mark = int(row[0]) if row else 0
    (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM alerts").fetchone()
    if head <= mark:
        return 0
    (added,) = conn.execute(
        "SELECT count(*) FROM alerts WHERE seq > ? AND +incident_id IS NOT NULL", (mark,)
    ).fetchone()
    # "+incident_id": find the new alerts by seq, never through the incident index.
    _fold(
        conn,
        _GROUPED.format(incident="IS NOT NULL").replace("AND incident_id", "AND +incident_id"),
        (mark,),
    )
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (ROLLUP_MARK, str(head)))
    return int(added)


def fold_linked_in(conn: sqlite3.Connection, seqs: list[int]) -> None:
    """Count alerts just linked to an incident (store/alerts.py) into the rollup.

    Those after the rollup's mark are counted live and folded by the next refresh;
    those before it were left out while they had no incident, so they go in now.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (ROLLUP_MARK,)).fetchone()
    mark = int(row[0]) if row else 0
    covered = [seq for seq in seqs if seq <= mark]
    for start in range(0, len(covered), 900):
        chunk = covered[start : start + 900]
        grouped = _GROUPED.format(incident="IS NOT NULL").replace(
            "WHERE seq > ?", f"WHERE seq IN ({', '.join('?' * len(chunk))})"
        )
        _fold(conn, grouped, chunk)


def _fold(conn: sqlite3.Connection, grouped: str, params: Sequence[object]) -> None:
    """Add the groups `grouped` selects to the rollup's counts and first/last times."""
    # `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.
    conn.execute(
        f"INSERT INTO {ROLLUP_TABLE} SELECT * FROM ({grouped}) WHERE true "
        "ON CONFLICT (incident_id, rule, priority, ns, pod) DO UPDATE SET "
        "n = n + excluded.n, "
        "first_ns = min(coalesce(first_ns, excluded.first_ns), "
        "coalesce(excluded.first_ns, first_ns)), "
        "last_ns = max(coalesce(last_ns, excluded.last_ns), "
        "coalesce(excluded.last_ns, last_ns))",
        params,
    )


def _groups_sql(record: Record, incident_id: str) -> tuple[str, tuple[object, ...]]:
    """A subquery over one incident's (rule, priority, ns, pod, n): rollup + newer alerts."""
    mark = rollup_mark(record)
    if not mark:
        return _GROUPED.format(incident="= ?"), (0, incident_id)
    stored = (
        f"SELECT incident_id, rule, priority, ns, pod, n, first_ns, last_ns FROM {ROLLUP_TABLE} "
        "WHERE incident_id = ?"
    )
    # "+incident_id": the few alerts after the mark are found by seq, not by
    # walking every alert of the incident through the incident index.
    live = _GROUPED.format(incident="= ?").replace("AND incident_id =", "AND +incident_id =")
    return f"{stored} UNION ALL {live}", (incident_id, mark, incident_id)


def summarise_alerts(record: Record, incident_id: str, *, rows: int = ALERT_ROWS) -> AlertSummary:
    """Counts by rule/priority and by pod, first and last, and the first `rows` alerts."""
    groups, args = _groups_sql(record, incident_id)
    # One pass over the groups (materialised once: without a rollup they cost a
    # scan of the incident's alerts), answering both top lists.
    named = "p.pod NOT IN ('', '<NA>')"
    of_rule = f"FROM g AS p WHERE p.rule = t.rule AND p.priority = t.priority AND {named}"
    # The pods of each rule shown come from correlated lookups on the shown rules only
    # (SQLite indexes the materialised groups for them): a window over every group costs more.
    top = record.query(
        "WITH g AS MATERIALIZED (SELECT rule, priority, ns, pod, sum(n) AS n, "
        f"min(first_ns) AS first_ns, max(last_ns) AS last_ns FROM ({groups}) "
        "GROUP BY rule, priority, ns, pod) "
        "SELECT * FROM (SELECT 'rule' AS kind, rule AS a, priority AS b, sum(n) AS n, "
        "count(*) OVER () AS distinct_count, sum(sum(n)) OVER () AS total, "
        "min(first_ns) AS first_ns, max(last_ns) AS last_ns, "
        "(SELECT json_group_array(json_array(p.ns, p.pod, p.n)) FROM (SELECT p.ns, p.pod, p.n "
        f"{of_rule} ORDER BY p.n DESC, p.pod, p.ns LIMIT ?) AS p) AS top_pods, "
        f"(SELECT count(*) {of_rule}) AS pod_count "
        "FROM g AS t GROUP BY rule, priority ORDER BY n DESC, rule, priority LIMIT ?) "
        "UNION ALL "
        "SELECT * FROM (SELECT 'pod', ns, pod, sum(n) AS n, count(*) OVER (), NULL, NULL, "
        "NULL, NULL, NULL FROM g AS p "
        f"WHERE {named} GROUP BY ns, pod ORDER BY n DESC, pod, ns LIMIT ?)",
        (*args, PODS_PER_RULE, TOP_RULES, TOP_PODS),
    )
    rule_rows = [row for row in top if row["kind"] == "rule"]
    pod_rows = [row for row in top if row["kind"] == "pod"]
    first_ns = record.query(
        "SELECT min(time_ns) FROM alerts WHERE incident_id = ? AND time_ns IS NOT NULL",
        (incident_id,),
    )[0][0]
    last_ns = record.query("SELECT max(time_ns) FROM alerts WHERE incident_id = ?", (incident_id,))[
        0
    ][0]
    total = rule_rows[0]["total"] if rule_rows else 0
    first_text = last_text = None
    if total and first_ns is None:
        # No alert had a time we could parse: show the times as written (a scan, but rare).
        first_text, last_text = record.query(
            "SELECT min(time), max(time) FROM alerts WHERE incident_id = ?", (incident_id,)
        )[0]
    listed = [
        (row["time"], row["priority"], row["rule"],
         None if row["pod"] is None else field_value(row["pod"]), row["output"] or "")
        for row in record.query(
            f"SELECT time, priority, rule, output, {POD_SQL} AS pod FROM alerts "
            "WHERE incident_id = ? ORDER BY time_ns, seq LIMIT ?",
            (incident_id, rows),
        )
    ]
    return AlertSummary(
        total=total,
        first=from_ns(first_ns),
        last=from_ns(last_ns),
        first_text=first_text,
        last_text=last_text,
        rule_summaries=[_rule_summary(row) for row in rule_rows],
        rules=rule_rows[0]["distinct_count"] if rule_rows else 0,
        pods=[(field_value(row["a"]), field_value(row["b"]), row["n"]) for row in pod_rows],
        pod_count=pod_rows[0]["distinct_count"] if pod_rows else 0,
        listed=listed,
    )


def _rule_summary(row: sqlite3.Row) -> RuleSummary:
    """One rule row of the summary query; its top pods come as JSON [[ns, pod, n], ...]."""
    listed = json.loads(row["top_pods"] or "[]")
    listed.sort(key=lambda item: (-item[2], str(item[1]), str(item[0])))
    return RuleSummary(
        rule=row["a"],
        priority=row["b"],
        count=row["n"],
        first=from_ns(row["first_ns"]),
        last=from_ns(row["last_ns"]),
        pods=tuple(f"{field_value(ns)}/{field_value(pod)}" if ns else field_value(pod)
                   for ns, pod, _n in listed),
        pod_count=row["pod_count"] or 0,
    )


def first_received_time(record: Record, incident_id: str) -> datetime | None:
    """When warroom received the incident's first linked alert (None when none).

    The clocks' trusted first sign (`store.response_times`): the receipt is warroom's own
    clock; the alert's `time` is whatever the line says, which whoever writes it controls."""
    (first,) = record.query(
        "SELECT min(received_at) FROM alerts WHERE incident_id = ? AND received_at IS NOT NULL",
        (incident_id,),
    )[0]
    if not first:
        return None
    try:
        moment = datetime.fromisoformat(str(first))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def first_alert_time(record: Record, incident_id: str) -> datetime | None:
    """The earliest alert of an incident (an indexed lookup), None when none has a time."""
    (first_ns,) = record.query(
        "SELECT min(time_ns) FROM alerts WHERE incident_id = ? AND time_ns IS NOT NULL",
        (incident_id,),
    )[0]
    return from_ns(first_ns)
