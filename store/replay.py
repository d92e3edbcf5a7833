"""A recorded incident as it stood at a chosen moment, read in pages: what `warroom review` replays.

The Falco pane of a review shows the incident's alerts: those linked to it,
or, when none are, the unlinked alerts recorded in its time window (from a
lead-in before detection to its closing, or the end of the record). Every
read is one indexed query with a LIMIT on `alerts (incident_id, time_ns)`,
so a million-alert incident costs a page, never the whole table.

The timeline and the incident row "as of" a moment are pure functions over
what the record already returned: the entries up to that moment, and the
incident's fields replayed from its chained `incident.opened` and
`incident.updated` entries up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from store.models import AlertRecord, Incident, TimelineEntry, parse_time

if TYPE_CHECKING:
    from store.record import Record

LEAD_IN = timedelta(minutes=5)
"""How far before detection a review looks for unlinked alerts: the runbook's MTTD target,
so the alerts that led to the detection are on screen."""
DEFAULT_PAGE = 2000
"""Alerts read per page: the Falco pane's window (`tui.widgets.alert_list.DEFAULT_CAPACITY`)."""
_NS = 1_000_000_000
_INCIDENT_EVENTS = ("incident.opened", "incident.updated")
_TIME_FIELDS = frozenset(
    {"opened_at", "detected_at", "acknowledged_at", "contained_at", "recovered_at", "closed_at"}
)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch (the alerts' `time_ns`), exactly, for an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("replay times must be timezone-aware")
    span = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (span.days * 86_400 + span.seconds) * _NS + span.microseconds * 1_000


def from_ns(time_ns: int) -> datetime:
    """The aware UTC datetime of `time_ns` (to the microsecond)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=time_ns // 1_000)


@dataclass(frozen=True, slots=True)
class ReplayScope:
    """Which alerts belong to a reviewed incident, and the span its recording covers.

    - `linked`: the incident has alerts linked to it (else the window's unlinked ones count).
    - `start`: detection (or opening): T+0 of the replay.
    - `first`: the earliest moment worth replaying (a lead-in before detection).
    - `last`: the latest recorded moment (newest timeline entry or alert, or closing).
    - `window_ns`: for unlinked alerts, the [from, to] nanoseconds they are read in.
    """

    incident_id: str
    linked: bool
    start: datetime
    first: datetime
    last: datetime
    window_ns: tuple[int, int | None]

    def clamp(self, moment: datetime) -> datetime:
        """`moment` moved into [first, last]."""
        return min(max(moment, self.first), self.last)


def scope(record: Record, incident: Incident) -> ReplayScope:
    """The replay scope of `incident` (three indexed queries)."""
    start = incident.detected_at or incident.opened_at
    first = min(start, incident.opened_at) - LEAD_IN
    window_ns = (to_ns(first), to_ns(incident.closed_at) if incident.closed_at else None)
    linked = bool(
        record.query("SELECT 1 FROM alerts WHERE incident_id = ? LIMIT 1", (incident.id,))
    )
    if linked:
        newest_ns = record.query(
            "SELECT max(time_ns) FROM alerts WHERE incident_id = ?", (incident.id,)
        )[0][0]
    else:
        newest_ns = record.query(
            "SELECT max(time_ns) FROM alerts WHERE incident_id IS NULL AND time_ns >= ?"
            + (" AND time_ns <= ?" if window_ns[1] is not None else ""),
            window_ns if window_ns[1] is not None else window_ns[:1],
        )[0][0]
    newest_entry = record.query(
        "SELECT at FROM timeline WHERE incident_id = ? ORDER BY seq DESC LIMIT 1", (incident.id,)
    )
    candidates = [start, incident.opened_at]
    candidates += [t for t in (incident.closed_at, incident.recovered_at) if t is not None]
    if newest_ns is not None:
        candidates.append(from_ns(newest_ns))
    if newest_entry and (at := parse_time(newest_entry[0][0])) is not None:
        candidates.append(at)
    return ReplayScope(incident.id, linked, start, first, max(candidates), window_ns)


def _where(view: ReplayScope) -> tuple[str, list[Any]]:
    if view.linked:
        return "incident_id = ?", [view.incident_id]
    low, high = view.window_ns
    if high is None:
        return "incident_id IS NULL AND time_ns >= ?", [low]
    return "incident_id IS NULL AND time_ns BETWEEN ? AND ?", [low, high]


def alerts_until(
    record: Record, view: ReplayScope, until: datetime | None, *, limit: int = DEFAULT_PAGE
) -> list[AlertRecord]:
    """The newest `limit` alerts of the incident at or before `until` (None: all), oldest first.

    Oldest first is the order the Falco pane takes them in (it shows the newest on top).
    """
    where, params = _where(view)
    if until is not None:
        where += " AND time_ns <= ?"
        params.append(to_ns(until))
    # (incident_id, time_ns) is indexed and rowid-ordered within equal times: no sort step.
    rows = record.query_packed(
        f"SELECT * FROM alerts WHERE {where} ORDER BY time_ns DESC, id DESC LIMIT ?",
        [*params, limit],
    )
    return _oldest_first(rows)


def alerts_between(
    record: Record,
    view: ReplayScope,
    after: datetime,
    until: datetime,
    *,
    limit: int = DEFAULT_PAGE,
) -> list[AlertRecord]:
    """The incident's alerts after `after` up to `until` (the newest `limit`), oldest first.

    What a playing replay adds to the pane as its moment moves from `after` to `until`.
    """
    where, params = _where(view)
    rows = record.query_packed(
        f"SELECT * FROM alerts WHERE {where} AND time_ns > ? AND time_ns <= ? "
        "ORDER BY time_ns DESC, id DESC LIMIT ?",
        [*params, to_ns(after), to_ns(until), limit],
    )
    return _oldest_first(rows)


def _oldest_first(rows: list[dict[str, Any]]) -> list[AlertRecord]:
    """Alerts read newest first (what LIMIT keeps), in time then record order."""
    return sorted(map(AlertRecord.from_row, rows), key=lambda alert: (alert.time_ns or 0, alert.id))


def timeline_until(entries: Sequence[TimelineEntry], moment: datetime) -> list[TimelineEntry]:
    """The entries recorded at or before `moment`, in their record order."""
    return [entry for entry in entries if entry.at <= moment]


def incident_as_of(
    incident: Incident, entries: Sequence[TimelineEntry], moment: datetime
) -> Incident:
    """`incident` as its chained opened/updated entries describe it at `moment`.

    The opening entry always counts (a moment before it shows the incident as
    opened); later changes count once recorded, and a stopped clock
    (acknowledged, contained, recovered, closed) from the moment it names.
    Fields no entry describes keep the row's value.
    """
    state: dict[str, Any] = {}
    opened = False
    for entry in entries:
        if entry.kind not in _INCIDENT_EVENTS:
            continue
        opening = entry.kind == "incident.opened"
        opened = opened or opening
        for name, value in entry.data.items():
            if name in _TIME_FIELDS and name != "opened_at":
                # A stopped clock counts from the moment it names, even when it was
                # written down later (a backfilled acknowledgement).
                happened = parse_time(value) if isinstance(value, str) else None
                if happened is None or happened <= moment:
                    state[name] = value
            elif opening or entry.at <= moment:
                state[name] = value
    if not opened:
        return incident
    changes: dict[str, Any] = {}
    for name in incident.__dataclass_fields__:
        if name == "id" or name not in state:
            continue
        value = state[name]
        if name in _TIME_FIELDS:
            value = parse_time(value)
        elif name in ("drill", "false_positive", "data_breach"):
            value = bool(value)
        changes[name] = value
    for name in _TIME_FIELDS - {"opened_at"}:
        changes.setdefault(name, None)  # a clock stopped after `moment` has not stopped yet
    if changes.get("opened_at") is None:
        changes["opened_at"] = incident.opened_at
    if changes.get("detected_at") is None and incident.detected_at is not None:
        changes["detected_at"] = incident.detected_at
    return replace(incident, **changes)
