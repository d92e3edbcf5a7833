"""Plain dataclasses the record hands out. Times are timezone-aware datetimes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A row as `Record.query` (sqlite3.Row) or `Record.query_packed` (dict) returns it.
RowLike = sqlite3.Row | Mapping[str, Any]

SEVERITIES = ("P0", "P1", "P2", "P3")
PHASES = ("detection", "containment", "eradication", "recovery", "lessons-learned")
PHASE_TITLES = {
    "detection": "Detection & Analysis",
    "containment": "Containment",
    "eradication": "Eradication",
    "recovery": "Recovery",
    "lessons-learned": "Lessons Learned",
}
STATUSES = ("open", "contained", "recovered", "closed")
DECISIONS = ("false-positive", "active-attack", "misconfiguration", "escalate")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parse_json(value: str | None) -> Any:
    return json.loads(value) if value else None


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    severity: str
    status: str
    phase: str
    opened_at: datetime
    detected_at: datetime | None = None
    acknowledged_at: datetime | None = None
    contained_at: datetime | None = None
    recovered_at: datetime | None = None
    closed_at: datetime | None = None
    drill: bool = False
    false_positive: bool = False
    data_breach: bool = False
    category: str | None = None
    commander: str | None = None
    cluster_context: str | None = None
    namespace: str | None = None
    resolution: str | None = None
    """Why it was closed (None while open)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Incident:
        keys = row.keys()
        return cls(
            id=row["id"],
            title=row["title"],
            severity=row["severity"],
            status=row["status"],
            phase=row["phase"],
            opened_at=parse_time(row["opened_at"]),  # type: ignore[arg-type]
            detected_at=parse_time(row["detected_at"]),
            acknowledged_at=parse_time(row["acknowledged_at"]),
            contained_at=parse_time(row["contained_at"]),
            recovered_at=parse_time(row["recovered_at"]),
            closed_at=parse_time(row["closed_at"]),
            drill=bool(row["drill"]),
            false_positive=bool(row["false_positive"]),
            data_breach=bool(row["data_breach"]) if "data_breach" in keys else False,
            category=row["category"] if "category" in keys else None,
            commander=row["commander"],
            cluster_context=row["cluster_context"],
            namespace=row["namespace"],
            resolution=row["resolution"] if "resolution" in keys else None,
        )

    @property
    def is_open(self) -> bool:
        return self.status != "closed"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    id: int
    seq: int
    incident_id: str | None
    at: datetime
    kind: str
    summary: str
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: RowLike) -> TimelineEntry:
        return cls(
            id=row["id"],
            seq=row["seq"],
            incident_id=row["incident_id"],
            at=parse_time(row["at"]),  # type: ignore[arg-type]
            kind=row["kind"],
            summary=row["summary"] or "",
            actor=row["actor"],
            data=parse_json(row["data"]) or {},
        )


@dataclass(frozen=True, slots=True)
class ActionEntry:
    id: int
    seq: int
    incident_id: str | None
    action_id: str
    entry: str  # "intent" or "outcome"
    action: str
    target: str | None
    status: str
    at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    actor: str | None = None
    context: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ActionEntry:
        return cls(
            id=row["id"],
            seq=row["seq"],
            incident_id=row["incident_id"],
            action_id=row["action_id"],
            entry=row["entry"],
            action=row["action"],
            target=row["target"],
            status=row["status"],
            at=parse_time(row["at"]),  # type: ignore[arg-type]
            params=parse_json(row["params"]) or {},
            message=row["message"],
            actor=row["actor"],
            context=row["context"],
            data=parse_json(row["data"]) or {},
        )


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    incident_id: str
    decision: str
    at: datetime
    rationale: str | None = None
    rule_to_tune: str | None = None
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Decision:
        return cls(
            id=row["id"],
            incident_id=row["incident_id"],
            decision=row["decision"],
            at=parse_time(row["at"]),  # type: ignore[arg-type]
            rationale=row["rationale"],
            rule_to_tune=row["rule_to_tune"],
            actor=row["actor"],
            data=parse_json(row["data"]) or {},
        )


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    id: int
    incident_id: str | None
    name: str
    sha256: str
    size: int
    at: datetime
    source: str | None = None
    media_type: str | None = None
    action_id: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> EvidenceItem:
        return cls(
            id=row["id"],
            incident_id=row["incident_id"],
            name=row["name"],
            sha256=row["sha256"],
            size=row["size"],
            at=parse_time(row["at"]),  # type: ignore[arg-type]
            source=row["source"],
            media_type=row["media_type"],
            action_id=row["action_id"],
        )


@dataclass(frozen=True, slots=True)
class ChecklistTick:
    id: int
    incident_id: str
    phase: str
    item: str
    checked: bool
    at: datetime
    verified: str | None = None
    actor: str | None = None
    note: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ChecklistTick:
        return cls(
            id=row["id"],
            incident_id=row["incident_id"],
            phase=row["phase"],
            item=row["item"],
            checked=bool(row["checked"]),
            at=parse_time(row["at"]),  # type: ignore[arg-type]
            verified=row["verified"],
            actor=row["actor"],
            note=row["note"],
        )


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    seq: int
    incident_id: str | None
    time: str
    time_ns: int | None
    rule: str
    priority: str
    severity: str
    category: str | None
    output: str
    source: str | None = None
    hostname: str | None = None
    tags: list[str] = field(default_factory=list)
    output_fields: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None
    dedupe_key: str | None = None

    @classmethod
    def from_row(cls, row: RowLike) -> AlertRecord:
        return cls(
            id=row["id"],
            seq=row["seq"],
            incident_id=row["incident_id"],
            time=row["time"],
            time_ns=row["time_ns"],
            rule=row["rule"],
            priority=row["priority"],
            severity=row["severity"],
            category=row["category"],
            output=row["output"] or "",
            source=row["source"],
            hostname=row["hostname"],
            tags=parse_json(row["tags"]) or [],
            output_fields=parse_json(row["output_fields"]) or {},
            origin=row["origin"],
            dedupe_key=row["dedupe_key"],
        )
