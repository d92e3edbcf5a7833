"""The runbook's Metrics and KPIs, per runbook class, and the Quarterly Security Review's trend.

What each time means is defined once, in `store.response_times` (the runbook's
"Metrics and KPIs", its phases counted from the incident's first sign): here
each incident contributes one sample per measure it has reached.

- Median is the usual one (mean of the two middle samples when even); p90 is
  the nearest-rank 90th percentile (the ceil(0.9 n)-th smallest sample), so it
  is always a time that really happened. The mean is given too because the
  runbook names "mean" times; a target is met when the median is below it.
- False-positive rate: incidents flagged false positive (or whose last
  decision is "false-positive") over all incidents.
- By class: the same measures for the incidents of each runbook class (the
  incident's `category`, e.g. `dns-exfiltration`; "uncategorised" when none
  was kept), so a slow class is not hidden in the average.

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

from store.alert_summary import first_received_time
from store.models import SEVERITIES, Incident
from store.record import Record
from store.report.markdown import escape
from store.response_times import DEFINITIONS, MEASURES, TARGETS, response_times
from store.response_times import NAMES as MEASURE_NAMES

FALSE_POSITIVE_TARGET = 0.05
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
    """The measures of the incidents of one runbook class (or of a whole group)."""

    incidents: int
    measures: dict[str, Measure]
    false_positives: int

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
    """Runbook class (the incident's category) -> its measures, classes sorted by name."""

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.incidents if self.incidents else None

    def to_dict(self) -> dict[str, Any]:
        whole = ClassMetrics(self.incidents, self.measures, self.false_positives)
        return {
            **whole.to_dict(),
            "by_class": {name: metrics.to_dict() for name, metrics in self.by_class.items()},
            "trend": {
                "months": [row.to_dict() for row in self.months],
                "quarters": [row.to_dict() for row in self.quarters],
            },
        }


@dataclass(frozen=True, slots=True)
class Metrics:
    since: datetime | None
    groups: dict[str, GroupMetrics]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "definitions": {
                **DEFINITIONS,
                "median": "middle sample (mean of the two middle ones when even)",
                "p90": "nearest rank: the ceil(0.9 n)-th smallest sample",
                "met": "median strictly below the runbook's target",
                "by_class": "the same per runbook class (the incident's category)",
            },
            "groups": {name: group.to_dict() for name, group in self.groups.items()},
        }


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
        categories = Counter(_class(i) for i in members)
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


def _class(incident: Incident) -> str:
    return incident.category or UNCATEGORISED


def _measured(
    record: Record, incidents: list[Incident], last_decision: dict[str, str]
) -> ClassMetrics:
    """Every reached MTTD, MTTC and MTTR of `incidents`, as `store.response_times` defines them."""
    samples: dict[str, list[float]] = {key: [] for key in MEASURES}
    false_positives = 0
    for incident in incidents:
        times = response_times(
            incident,
            first_received_time(record, incident.id),
            last_decision=last_decision.get(incident.id),
        )
        false_positives += not times["mttc"].applies
        for key, time in times.items():
            if (seconds := time.seconds()) is not None:
                samples[key].append(seconds)
    return ClassMetrics(
        incidents=len(incidents),
        measures={key: Measure(key, tuple(values)) for key, values in samples.items()},
        false_positives=false_positives,
    )


def _group(
    record: Record, name: str, incidents: list[Incident], last_decision: dict[str, str]
) -> GroupMetrics:
    whole = _measured(record, incidents, last_decision)
    classes: dict[str, list[Incident]] = {}
    for incident in incidents:
        classes.setdefault(_class(incident), []).append(incident)
    return GroupMetrics(
        group=name,
        incidents=whole.incidents,
        measures=whole.measures,
        false_positives=whole.false_positives,
        months=_trend(incidents, _month),
        quarters=_trend(incidents, _quarter),
        by_class={
            category: _measured(record, members, last_decision)
            for category, members in sorted(classes.items())
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
    seconds = int(value)  # whole seconds elapsed, as the console's clocks and the report count
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
            lines += _class_table(group.by_class)
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


def _median_cell(measure: Measure) -> str:
    """`4m 10s (2)`: the median and its sample count; a missed target says so."""
    if measure.median is None:
        return "n/a"
    missed = "" if measure.met else " MISSED"
    return f"{format_seconds(measure.median)} ({len(measure.samples)}){missed}"


def _class_table(by_class: dict[str, ClassMetrics]) -> list[str]:
    """One row per runbook class: incidents, median MTTD/MTTC/MTTR (samples), FP rate."""
    lines = [
        "| Runbook class | Incidents | MTTD median | MTTC median | MTTR median | False positives |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, metrics in by_class.items():
        cells = " | ".join(_median_cell(metrics.measures[key]) for key in MEASURES)
        lines.append(
            f"| {escape(name)} | {metrics.incidents} | {cells} | "
            f"{metrics.false_positives}/{metrics.incidents} |"
        )
    return [*lines, ""]


def _trend_line(row: TrendRow, *, bold: bool = False) -> str:
    period = f"**{row.period}**" if bold else row.period
    counts = " | ".join(str(row.by_severity[s]) for s in SEVERITIES)
    categories = ", ".join(f"{escape(name)} {n}" for name, n in row.by_category.items())
    return f"| {period} | {counts} | {row.total} | {categories} |"
