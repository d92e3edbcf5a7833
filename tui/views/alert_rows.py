"""One shape for every kind of alert the Falco pane is fed, sanitised once.

The pane is fed `store.AlertRecord` (from the record), `actions.falco.FalcoAlert`
(parsed lines), `actions.sources.batches.RecordedAlert` (the live follower) or
plain dicts; `AlertRow.of()` turns each into the same frozen row. Every string
passes through `tui.safe.safe_text` here, so nothing later has to remember to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actions.falco.alert import reported_by
from store import SEVERITIES
from tui.safe import safe_text

UNKNOWN_SEVERITY = "P?"
# Falco's text output starts "HH:MM:SS.nnnnnnnnn: Priority message": the summary
# column drops that prefix, which the time and P-level columns already show.
_OUTPUT_PREFIX = re.compile(r"^\s*[0-9T:.\-+Z]+:\s+[A-Za-z]+\s+")
_POD_FIELDS = ("k8s.pod.name", "k8s_pod_name", "ka.target.name", "container.name")

Severity = Callable[[Any], str]


def _safe(value: object) -> str:
    """`safe_text`, skipping the regex work for text that is printable already.

    (Every character `safe_text` replaces is non-printable, so this is exact;
    at thousands of alerts a second the regexes were most of the drain.)
    """
    text = value if isinstance(value, str) else str(value)
    return text if text.isprintable() else safe_text(text)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as the pane shows it; every text field is already safe to draw."""

    time: str
    time_ns: int | None
    severity: str
    priority: str
    rule: str
    pod: str
    summary: str
    output: str
    hostname: str
    raw_fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The alert's output fields as given (unsanitised): read through `fields`."""
    source: str = ""
    """Falco's event source, or warroom's own ("warroom-dns"): says what `hostname` is."""

    @classmethod
    def of(cls, item: Any, severity_of: Severity | None = None) -> AlertRow:
        """The row for any alert-like object (see the module docstring)."""
        if isinstance(item, AlertRow):
            return item
        if isinstance(item, dict):
            return cls._from_mapping(item)
        alert = getattr(item, "alert", item)
        severity = _severity_of_object(item, severity_of)
        mapping = {
            "time": getattr(alert, "time", ""),
            "time_ns": getattr(alert, "time_ns", None),
            "severity": severity,
            "priority": getattr(alert, "priority", ""),
            "rule": getattr(alert, "rule", ""),
            "output": getattr(alert, "output", ""),
            "hostname": getattr(alert, "hostname", None),
            "source": getattr(alert, "source", None),
            "output_fields": getattr(alert, "output_fields", None) or {},
        }
        return cls._from_mapping(mapping)

    @classmethod
    def _from_mapping(cls, item: dict[str, Any]) -> AlertRow:
        fields = item.get("output_fields") or {}
        if not isinstance(fields, dict):
            fields = {}
        output = _safe(item.get("output") or "")
        pod = next((fields[key] for key in _POD_FIELDS if fields.get(key)), None)
        time_ns = item.get("time_ns")
        severity = str(item.get("severity") or UNKNOWN_SEVERITY)
        return cls(
            time=_clock_text(time_ns, str(item.get("time") or "")),
            time_ns=time_ns if isinstance(time_ns, int) else None,
            severity=severity if severity in SEVERITIES else UNKNOWN_SEVERITY,
            priority=_safe(item.get("priority") or ""),
            rule=_safe(item.get("rule") or ""),
            pod=_safe(pod if pod is not None else "-"),
            summary=_OUTPUT_PREFIX.sub("", output, count=1),
            output=output,
            hostname=_safe(item.get("hostname") or "-"),
            raw_fields=fields,
            source=str(item.get("source") or ""),
        )

    @property
    def fields(self) -> list[tuple[str, str]]:
        """The output fields, sanitised and sorted (built only when the detail view asks)."""
        return sorted((safe_text(key), safe_text(value)) for key, value in self.raw_fields.items())

    @property
    def severity_rank(self) -> int:
        """0 for P0 ... 3 for P3, 4 when unknown (sorts last)."""
        try:
            return SEVERITIES.index(self.severity)
        except ValueError:
            return len(SEVERITIES)

    def search_text(self) -> str:
        """What a free-text filter looks in, folded once."""
        return f"{self.rule}\n{self.pod}\n{self.output}\n{self.hostname}".casefold()

    def _seen_where(self) -> str:
        heading, value = reported_by(self.source or None, self.hostname)
        return f"{heading.lower() if heading == 'Node' else heading} {value}"

    def detail_text(self) -> str:
        """The full output and fields, for the detail view."""
        lines = [
            f"{self.severity} {self.priority}  {self.rule}",
            f"time {self.time}  {self._seen_where()}  pod {self.pod}",
            "",
            self.output,
            "",
        ]
        lines.extend(f"{key} = {value}" for key, value in self.fields)
        return "\n".join(lines)


def _severity_of_object(item: Any, severity_of: Severity | None) -> Any:
    """The severity an alert object carries (or its classification), else `severity_of`'s."""
    classification = getattr(item, "classification", None)
    severity = getattr(item, "severity", None) or getattr(classification, "severity", None)
    if severity is None and severity_of is not None:
        severity = severity_of(getattr(item, "alert", item))
    return severity


def _rank(severity: object) -> int:
    try:
        return SEVERITIES.index(str(severity))
    except ValueError:
        return len(SEVERITIES)


def rank_and_rule(item: Any, severity_of: Severity | None = None) -> tuple[int, str]:
    """(severity rank, sanitised rule) of an alert, exactly as its `AlertRow` would say,
    without building the row: what the severity and rule filters look at, per alert."""
    if isinstance(item, AlertRow):
        return item.severity_rank, item.rule
    if isinstance(item, dict):
        severity, rule = item.get("severity"), item.get("rule")
    else:
        severity = _severity_of_object(item, severity_of)
        rule = getattr(getattr(item, "alert", item), "rule", "")
    return _rank(severity or UNKNOWN_SEVERITY), _safe(rule or "")


def _clock_text(time_ns: object, fallback: str) -> str:
    """HH:MM:SS in UTC from the alert's nanoseconds, else what the input said."""
    if isinstance(time_ns, int):
        # Arithmetic rather than datetime.strftime: this runs for every alert.
        minutes, second = divmod(time_ns // 1_000_000_000 % 86_400, 60)
        hour, minute = divmod(minutes, 60)
        return f"{hour:02d}:{minute:02d}:{second:02d}"
    return safe_text(fallback)[:19]
