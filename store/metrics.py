"""The runbook's Metrics and KPIs and the Quarterly Security Review's trend table.

Definitions (each incident contributes one sample per measure it has reached):

- start: the incident's first alert (earliest alert time recorded for it),
  else its `detected_at`. Falco saw the problem then, whenever a human did.
- MTTD (time to detection): start -> `acknowledged_at`, the first human
  acknowledgement. Detection is a person knowing, not a row being written.
- MTTC (time to containment): start -> `contained_at`.
- MTTR (time to recovery): start -> `recovered_at`.
  MTTC and MTTR leave out false positives: nothing was contained or recovered.
- A negative span (an alert recorded with a time after the acknowledgement,
  e.g. clock skew) counts as zero.
- Median is the usual one (mean of the two middle samples when even); p90 is
  the nearest-rank 90th percentile (the ceil(0.9 n)-th smallest sample), so it
  is always a time that really happened. The mean is given too because the
  runbook names "mean" times; a target is met when the median is below it.
- False-positive rate: incidents flagged false positive (or whose last
  decision is "false-positive") over all incidents.

Drills and real incidents are always kept apart. `since` keeps incidents
detected on or after that moment. Alerts are never loaded: the first alert of
an incident is one indexed lookup.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from store.alert_summary import first_alert_time
from store.markdown import escape
from store.models import SEVERITIES, Incident
from store.record import Record

TARGETS = {
    "mttd": timedelta(minutes=5),
    "mttc": timedelta(minutes=15),
    "mttr": timedelta(hours=2),
}
FALSE_POSITIVE_TARGET = 0.05
MEASURE_NAMES = {
    "mttd": "Mean Time to Detection (MTTD)",
    "mttc": "Mean Time to Containment (MTTC)",
    "mttr": "Mean Time to Recovery (MTTR)",
}
GROUPS = ("real", "drill")
UNCATEGORISED = "uncategorised"


def median(samples: list[float]) -> float:
    return float(statistics.median(samples))


def p90(samples: list[float]) -> float:
    """Nearest-rank 90th percentile of a non-empty list."""
    ordered = sorted(samples)
    return float(ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    samples: tuple[float, ...]  # seconds

    @property
    def target(self) -> timedelta:
        return TARGETS[self.key]

    @property
    def median(self) -> float | None:
        return median(list(self.samples)) if self.samples else None

    @property
    def p90(self) -> float | None:
        return p90(list(self.samples)) if self.samples else None

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None

    @property
    def met(self) -> bool | None:
        value = self.median
        return None if value is None else value < self.target.total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": MEASURE_NAMES[self.key],
            "count": len(self.samples),
            "median_seconds": self.median,
            "p90_seconds": self.p90,
            "mean_seconds": self.mean,
            "target_seconds": self.target.total_seconds(),
            "met": self.met,
        }


@dataclass(frozen=True, slots=True)
class TrendRow:
    period: str  # "2026-03" or "2026-Q1"
    total: int
    by_severity: dict[str, int]
    by_category: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "total": self.total,
            "by_severity": self.by_severity,
            "by_category": self.by_category,
        }


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """One runbook class's incidents and their MTTD, MTTC and MTTR."""

    incidents: int
    measures: dict[str, Measure]

    def to_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            **{key: measure.to_dict() for key, measure in self.measures.items()},
        }


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    group: str
    incidents: int
    measures: dict[str, Measure]
    false_positives: int
    months: list[TrendRow] = field(default_factory=list)
    quarters: list[TrendRow] = field(default_factory=list)
    by_class: dict[str, ClassMetrics] = field(default_factory=dict)
    """The runbook class (the incident's category, "uncategorised" without one) -> its measures."""

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.incidents if self.incidents else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.false_positive_rate
        return {
            "incidents": self.incidents,
            **{key: measure.to_dict() for key, measure in self.measures.items()},
            "false_positive_rate": {
                "false_positives": self.false_positives,
                "incidents": self.incidents,
                "rate": rate,
                "target": FALSE_POSITIVE_TARGET,
                "met": None if rate is None else rate < FALSE_POSITIVE_TARGET,
            },
            "trend": {
                "months": [row.to_dict() for row in self.months],
                "quarters": [row.to_dict() for row in self.quarters],
            },
            "by_class": {name: row.to_dict() for name, row in self.by_class.items()},
        }


@dataclass(frozen=True, slots=True)
class Metrics:
    since: datetime | None
    groups: dict[str, GroupMetrics]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "definitions": {
                "start": "first alert of the incident, else detected_at",
                "mttd": "start -> acknowledged_at",
                "mttc": "start -> contained_at (false positives left out)",
                "mttr": "start -> recovered_at (false positives left out)",
                "median": "middle sample (mean of the two middle ones when even)",
                "p90": "nearest rank: the ceil(0.9 n)-th smallest sample",
                "met": "median below the runbook's target",
            },
            "groups": {name: group.to_dict() for name, group in self.groups.items()},
        }


def _seconds(end: datetime | None, start: datetime) -> float | None:
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _last_decisions(record: Record) -> dict[str, str]:
    last: dict[str, str] = {}
    for incident_id, decision in record.query(
        "SELECT incident_id, decision FROM decisions ORDER BY seq"
    ):
        last[incident_id] = decision
    return last


def _trend(incidents: list[Incident], key: Any) -> list[TrendRow]:
    periods: dict[str, list[Incident]] = {}
    for incident in incidents:
        periods.setdefault(key(incident), []).append(incident)
    rows = []
    for period in sorted(periods):
        members = periods[period]
        severities = Counter(i.severity for i in members)
        categories = Counter(i.category or UNCATEGORISED for i in members)
        rows.append(
            TrendRow(
                period=period,
                total=len(members),
                by_severity={s: severities.get(s, 0) for s in SEVERITIES},
                by_category=dict(sorted(categories.items())),
            )
        )
    return rows


def _detected(incident: Incident) -> datetime:
    return incident.detected_at or incident.opened_at


def _month(incident: Incident) -> str:
    return f"{_detected(incident):%Y-%m}"


def _quarter(incident: Incident) -> str:
    moment = _detected(incident)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _group(
    record: Record, name: str, incidents: list[Incident], last_decision: dict[str, str]
) -> GroupMetrics:
    samples: dict[str, list[float]] = {key: [] for key in TARGETS}
    by_class: dict[str, dict[str, list[float]]] = {}
    class_counts: Counter[str] = Counter()
    false_positives = 0
    for incident in incidents:
        start = first_alert_time(record, incident.id) or _detected(incident)
        false_positive = (
            incident.false_positive or last_decision.get(incident.id) == "false-positive"
        )
        false_positives += false_positive
        reached = {"mttd": _seconds(incident.acknowledged_at, start)}
        if not false_positive:
            reached["mttc"] = _seconds(incident.contained_at, start)
            reached["mttr"] = _seconds(incident.recovered_at, start)
        name = incident.category or UNCATEGORISED
        class_counts[name] += 1
        of_class = by_class.setdefault(name, {key: [] for key in TARGETS})
        for key, value in reached.items():
            if value is not None:
                samples[key].append(value)
                of_class[key].append(value)
    return GroupMetrics(
        group=name,
        incidents=len(incidents),
        measures={key: Measure(key, tuple(values)) for key, values in samples.items()},
        false_positives=false_positives,
        months=_trend(incidents, _month),
        quarters=_trend(incidents, _quarter),
        by_class={
            name: ClassMetrics(
                class_counts[name],
                {key: Measure(key, tuple(values)) for key, values in measures.items()},
            )
            for name, measures in sorted(by_class.items())
        },
    )


def compute(record: Record, *, since: datetime | None = None) -> Metrics:
    """Metrics of every incident detected at or after `since` (all when None), drills apart."""
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    incidents = [i for i in record.incidents.list() if since is None or _detected(i) >= since]
    last_decision = _last_decisions(record)
    return Metrics(
        since=since,
        groups={
            name: _group(
                record, name, [i for i in incidents if i.drill == (name == "drill")], last_decision
            )
            for name in GROUPS
        },
    )


def format_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    seconds = round(value)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def _verdict(met: bool | None) -> str:
    return "no data" if met is None else ("met" if met else "MISSED")


def render_text(metrics: Metrics) -> str:
    """The metrics as markdown tables, readable in a terminal and pasteable into a review."""
    lines = []
    if metrics.since:
        lines += [f"Incidents detected since {metrics.since:%Y-%m-%d %H:%M} UTC.", ""]
    for name, group in metrics.groups.items():
        title = "Real incidents" if name == "real" else "Drills"
        lines += [f"## {title} ({group.incidents})", ""]
        lines += [
            "| Measure | Samples | Median | p90 | Mean | Target | |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for measure in group.measures.values():
            lines.append(
                f"| {MEASURE_NAMES[measure.key]} | {len(measure.samples)} | "
                f"{format_seconds(measure.median)} | {format_seconds(measure.p90)} | "
                f"{format_seconds(measure.mean)} "
                f"| < {format_seconds(measure.target.total_seconds())} | "
                f"{_verdict(measure.met)} |"
            )
        rate = group.false_positive_rate
        shown = "n/a" if rate is None else f"{rate:.1%}"
        met = None if rate is None else rate < FALSE_POSITIVE_TARGET
        lines.append(
            f"| False Positive Rate | {group.incidents} | {shown} "
            f"({group.false_positives}/{group.incidents}) | | "
            f"| < {FALSE_POSITIVE_TARGET:.0%} | {_verdict(met)} |"
        )
        lines.append("")
        if group.by_class:
            lines += [
                "| Class | Incidents | MTTD median | MTTC median | MTTR median |",
                "|---|---:|---:|---:|---:|",
            ]
            for name, of_class in group.by_class.items():
                medians = " | ".join(format_seconds(m.median) for m in of_class.measures.values())
                lines.append(f"| {escape(name)} | {of_class.incidents} | {medians} |")
            lines.append("")
        if group.months:
            lines += [
                "| Period | " + " | ".join(SEVERITIES) + " | Total | Categories |",
                "|---|" + "---:|" * (len(SEVERITIES) + 1) + "---|",
            ]
            quarters = {row.period: row for row in group.quarters}
            for index, row in enumerate(group.months):
                lines.append(_trend_line(row))
                quarter = f"{row.period[:4]}-Q{(int(row.period[5:7]) - 1) // 3 + 1}"
                following = group.months[index + 1].period if index + 1 < len(group.months) else ""
                next_quarter = (
                    f"{following[:4]}-Q{(int(following[5:7]) - 1) // 3 + 1}" if following else ""
                )
                if next_quarter != quarter:
                    lines.append(_trend_line(quarters[quarter], bold=True))
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _trend_line(row: TrendRow, *, bold: bool = False) -> str:
    period = f"**{row.period}**" if bold else row.period
    counts = " | ".join(str(row.by_severity[s]) for s in SEVERITIES)
    categories = ", ".join(f"{escape(name)} {n}" for name, n in row.by_category.items())
    return f"| {period} | {counts} | {row.total} | {categories} |"
