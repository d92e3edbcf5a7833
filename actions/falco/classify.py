"""The runbook's Incident Classification applied to Falco alerts, driven by a TOML file.

The shipped `classification.toml` documents the format and the order of
matching at its top; a user file in the same format is tried first.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from actions.falco.alert import FalcoAlert, canonical_priority
from store.models import SEVERITIES

# One category per bullet of runbook.md "Incident Classification":
# category -> (severity, the runbook's wording).
CATEGORIES: dict[str, tuple[str, str]] = {
    "active-intrusion": ("P0", "Active network intrusion or compromise"),
    "dns-exfiltration": ("P0", "DNS tunneling or data exfiltration attempts"),
    "unauthorized-access": ("P0", "Unauthorized access to production services"),
    "mesh-mtls-failure": ("P0", "Service mesh mTLS failures affecting multiple services"),
    "policy-violation-access": ("P0", "Network policy violations allowing unauthorized access"),
    "suspicious-external-connection": ("P1", "Suspicious network connections to external IPs"),
    "unauthorized-inter-service": ("P1", "Unauthorized inter-service communication"),
    "network-anomaly": ("P1", "Network anomalies indicating potential attack"),
    "failed-authentication": ("P1", "Failed authentication attempts from unknown sources"),
    "policy-drift": ("P2", "Network policy configuration drift"),
    "unusual-traffic": ("P2", "Unusual traffic patterns"),
    "network-performance": ("P2", "Performance degradation due to network issues"),
    "security-rule-violation": ("P2", "Non-critical security rule violations"),
    "informational": ("P3", "Informational security events"),
    "monitoring-alert": ("P3", "Network monitoring alerts requiring investigation"),
    "configuration-warning": ("P3", "Configuration warnings"),
}

SHIPPED_FILE = "classification.toml"
_UNKNOWN_PRIORITY = "unknown"
_ENTRY_KEYS = frozenset(
    {"category", "severity", "rule", "message", "rule_glob", "tags", "tag", "source", "priority"}
)
_CONDITION_KEYS = _ENTRY_KEYS - {"category", "severity"}
_TOP_KEYS = frozenset({"match", "fallback", "categories"})
# Rules, tags and priorities come from rule files, so the distinct keys are
# few; the bound only guards against a hostile stream of made-up rule names.
_CACHE_LIMIT = 4096


class ClassificationFileError(ValueError):
    """A classification file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Classification:
    """Where an alert sits in the runbook's Incident Classification, and why."""

    severity: str
    """"P0".."P3"."""
    category: str
    """A key of CATEGORIES (or a user-defined category)."""
    matched_by: str
    """What decided it: "rule: ...", "tags: ...", "priority: Warning"."""


@dataclass(frozen=True, slots=True)
class _Entry:
    category: str
    severity: str
    rule: str | None
    message: str | None
    glob: re.Pattern[str] | None
    glob_text: str | None
    tags: tuple[str, ...]
    source: str | None
    priorities: frozenset[str] | None
    matched_by: str
    matched_by_message: str

    def match(self, alert: FalcoAlert, priority_key: str) -> str | None:
        """What made the entry match the alert ("rule: ...", "message: ..."), or None."""
        matched_by = self.matched_by
        if self.rule is not None or self.message is not None:
            if self.rule is None or alert.rule != self.rule:
                if alert.form != "text" or self.message is None or alert.rule != self.message:
                    return None
                matched_by = self.matched_by_message
        if self.glob is not None and self.glob.fullmatch(alert.rule) is None:
            return None
        if self.tags and not all(tag in alert.tags for tag in self.tags):
            return None
        if self.source is not None and alert.source != self.source:
            return None
        if self.priorities is not None and priority_key not in self.priorities:
            return None
        return matched_by


class Classifier:
    """Classifies alerts by the shipped table, overridden by an optional user file."""

    def __init__(
        self,
        entries: list[_Entry],
        fallback: dict[str, str],
        categories: dict[str, tuple[str, str]],
    ) -> None:
        self._entries = entries
        self._fallback = fallback
        self.categories = categories
        """Every category known to this classifier: CATEGORIES plus user-defined ones."""
        self._cache: dict[tuple[object, ...], Classification] = {}

    @classmethod
    def load(cls, user_file: Path | None = None) -> Classifier:
        """The shipped classification, with `user_file`'s entries tried first.

        Raises ClassificationFileError naming the file and the problem when a
        file cannot be read or does not follow the format.
        """
        shipped = resources.files("actions.falco").joinpath(SHIPPED_FILE)
        shipped_doc = _parse_toml(shipped.read_text(encoding="utf-8"), f"(shipped) {SHIPPED_FILE}")
        documents = [(f"(shipped) {SHIPPED_FILE}", shipped_doc)]
        if user_file is not None:
            documents.insert(0, (str(user_file), _read_user_file(user_file)))

        categories = dict(CATEGORIES)
        for name, doc in reversed(documents):
            categories.update(_categories(doc, name))
        fallback: dict[str, str] = {}
        entries: list[_Entry] = []
        for name, doc in documents:
            for key, category in _fallback(doc, name, categories).items():
                fallback.setdefault(key, category)
            entries.extend(_entries(doc, name, categories))
        missing = [p for p in (*_PRIORITY_KEYS, _UNKNOWN_PRIORITY) if p not in fallback]
        if missing:
            raise ClassificationFileError(
                f"{documents[-1][0]}: [fallback] lacks {', '.join(missing)}"
            )
        return cls(entries, fallback, categories)

    def classify(self, alert: FalcoAlert) -> Classification:
        """The alert's severity and category, and what decided them."""
        key = (alert.form, alert.rule, alert.tags, alert.priority, alert.source)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._decide(alert)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = result
        return result

    def wording(self, category: str) -> str:
        """The runbook's wording of a category ("" for one this classifier does not know)."""
        known = self.categories.get(category)
        return known[1] if known else ""

    def _decide(self, alert: FalcoAlert) -> Classification:
        priority_key = _priority_key(alert.priority)
        for entry in self._entries:
            matched_by = entry.match(alert, priority_key)
            if matched_by is not None:
                return Classification(entry.severity, entry.category, matched_by)
        if priority_key in self._fallback:
            category = self._fallback[priority_key]
            matched_by = f"priority: {alert.priority}"
        else:
            category = self._fallback[_UNKNOWN_PRIORITY]
            matched_by = f"priority: unknown {ascii(alert.priority)}"
        return Classification(self.categories[category][0], category, matched_by)


_PRIORITY_KEYS = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)


def _priority_key(priority: str) -> str:
    """Falco's priority in lower case ("info" read as informational), else the text folded."""
    canonical = canonical_priority(priority)
    return canonical.casefold() if canonical is not None else priority.casefold()


def _read_user_file(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClassificationFileError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise ClassificationFileError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ClassificationFileError(f"{path}: cannot be read ({error.strerror})") from None
    return _parse_toml(text, str(path))


def _parse_toml(text: str, name: str) -> dict[str, object]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ClassificationFileError(f"{name}: not valid TOML: {error}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ClassificationFileError(
            f"{name}: unknown top-level key {unknown[0]!r} (known: categories, fallback, match)"
        )
    return doc


def _categories(doc: dict[str, object], name: str) -> dict[str, tuple[str, str]]:
    table = doc.get("categories", {})
    if not isinstance(table, dict):
        raise ClassificationFileError(f"{name}: [categories] must be a table")
    result: dict[str, tuple[str, str]] = {}
    for category, spec in table.items():
        where = f"{name}: category {category!r}"
        if not isinstance(spec, dict) or set(spec) - {"severity", "wording"}:
            raise ClassificationFileError(f"{where}: give only `severity` and `wording`")
        severity = spec.get("severity")
        if severity not in SEVERITIES:
            raise ClassificationFileError(f"{where}: severity must be one of P0, P1, P2, P3")
        wording = spec.get("wording", category)
        if not isinstance(wording, str):
            raise ClassificationFileError(f"{where}: wording must be a string")
        result[category] = (str(severity), wording)
    return result


def _fallback(
    doc: dict[str, object], name: str, categories: dict[str, tuple[str, str]]
) -> dict[str, str]:
    table = doc.get("fallback", {})
    if not isinstance(table, dict):
        raise ClassificationFileError(f"{name}: [fallback] must be a table")
    result: dict[str, str] = {}
    for priority, category in table.items():
        key = _priority_key(priority)
        if key not in _PRIORITY_KEYS and key != _UNKNOWN_PRIORITY:
            raise ClassificationFileError(
                f"{name}: [fallback] key {priority!r} is not a Falco priority "
                "(Emergency ... Debug, or unknown)"
            )
        result[key] = _check_category(category, f"{name}: [fallback] {priority}", categories)
    return result


def _entries(
    doc: dict[str, object], name: str, categories: dict[str, tuple[str, str]]
) -> list[_Entry]:
    matches = doc.get("match", [])
    if not isinstance(matches, list):
        raise ClassificationFileError(f"{name}: `match` must be an array of tables ([[match]])")
    return [
        _entry(spec, f"{name}: [[match]] entry {number}", categories)
        for number, spec in enumerate(matches, start=1)
    ]


def _entry(spec: object, where: str, categories: dict[str, tuple[str, str]]) -> _Entry:
    if not isinstance(spec, dict):
        raise ClassificationFileError(f"{where}: must be a table")
    unknown = sorted(set(spec) - _ENTRY_KEYS)
    if unknown:
        raise ClassificationFileError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_ENTRY_KEYS))})"
        )
    if not set(spec) & _CONDITION_KEYS:
        raise ClassificationFileError(
            f"{where}: has no condition (give rule, message, rule_glob, tags, source or priority)"
        )
    category = _check_category(spec.get("category"), where, categories)
    severity = spec.get("severity", categories[category][0])
    if severity not in SEVERITIES:
        raise ClassificationFileError(f"{where}: severity must be one of P0, P1, P2, P3")

    rule = _optional_text(spec, "rule", where)
    message = _optional_text(spec, "message", where)
    glob_text = _optional_text(spec, "rule_glob", where)
    source = _optional_text(spec, "source", where)
    tags = _string_list(spec, "tags", where) + _string_list(spec, "tag", where)
    priorities = _string_list(spec, "priority", where)

    described = []
    if rule is not None:
        described.append(f"rule: {rule}")
    if message is not None and rule is None:
        described.append(f"message: {message}")
    if glob_text is not None:
        described.append(f"rule glob: {glob_text}")
    if tags:
        described.append(f"{'tag' if len(tags) == 1 else 'tags'}: {', '.join(tags)}")
    if source is not None:
        described.append(f"source: {source}")
    if priorities and not described:
        described.append(f"priority: {', '.join(priorities)}")
    return _Entry(
        category=category,
        severity=str(severity),
        rule=rule,
        message=message,
        glob=re.compile(fnmatch.translate(glob_text), re.IGNORECASE | re.DOTALL)
        if glob_text is not None
        else None,
        glob_text=glob_text,
        tags=tags,
        source=source,
        priorities=frozenset(_priority_key(p) for p in priorities) if priorities else None,
        matched_by="; ".join(described),
        matched_by_message=f"message: {message}" if message is not None else "",
    )


def _check_category(category: object, where: str, categories: dict[str, tuple[str, str]]) -> str:
    if not isinstance(category, str):
        raise ClassificationFileError(f"{where}: needs `category`, a string")
    if category not in categories:
        raise ClassificationFileError(
            f"{where}: category {category!r} does not exist (known: {', '.join(categories)})"
        )
    return category


def _optional_text(spec: dict[str, object], key: str, where: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ClassificationFileError(f"{where}: `{key}` must be a non-empty string")
    return value


def _string_list(spec: dict[str, object], key: str, where: str) -> tuple[str, ...]:
    value = spec.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ClassificationFileError(f"{where}: `{key}` must be a string or a list of strings")
    return tuple(value)
