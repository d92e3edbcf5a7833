"""The part of PromQL the runbook and the console ask the drill's Prometheus.

Supported: a selector `name{label="v", label!="v", label=~"re", label!~"re"}`,
`rate(sel[5m])`, `irate(sel[1m])`, `increase(sel[1h])`, and `sum`/`max`/`min`/
`avg`/`count` with an optional `by (...)` or `without (...)` clause in front or
after. Answers are Prometheus `data` objects (`resultType` vector) with values
as strings and `__name__` dropped by functions and aggregations, as Prometheus
does. Anything else raises `PromQLError` with Prometheus's own kind of message.

Like a real Prometheus, it answers from scrapes, not from the exact counters:
every target is scraped each `SCRAPE_INTERVAL` seconds; an instant selector
returns the latest scrape at or before the evaluation time (within the 5 min
lookback); `rate`/`increase` take the scrapes inside the left-open window
`(t - range, t]` and need two of them, then extrapolate as Prometheus's
`extrapolatedRate` does (prometheus/prometheus promql/functions.go): to the
window's edges when the first and last samples lie within 1.1 average
intervals of them, else by half an interval, and never below the counter's
zero point; `irate` uses the last two scrapes. So a new flow shows in
`rate(x[5m])` after two scrapes, as on a real cluster, and a stopped one fades
out of it over the window.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Series = list[tuple[str, dict[str, str], float]]
SeriesAt = Callable[[float], Series]

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(\{[^}]*\})?\s*(\[[^\]]+\])?\s*$")
_AGGREGATIONS = ("sum", "max", "min", "avg", "count")
_FUNCTIONS = ("rate", "irate", "increase")
# Istio's sample Prometheus (samples/addons/prometheus.yaml) scrapes every 15 s.
SCRAPE_INTERVAL = 15.0
LOOKBACK_SECONDS = 300.0


class PromQLError(ValueError):
    """An expression the drill's Prometheus cannot parse or evaluate (answered as bad_data)."""


@dataclass(frozen=True)
class _Selector:
    name: str | None
    matchers: tuple[tuple[str, str, str], ...]
    range_seconds: float | None

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if self.name and name != self.name:
            return False
        for label, op, value in self.matchers:
            actual = name if label == "__name__" else labels.get(label, "")
            if op == "=" and actual != value:
                return False
            if op == "!=" and actual == value:
                return False
            if op == "=~" and not re.fullmatch(value, actual):
                return False
            if op == "!~" and re.fullmatch(value, actual):
                return False
        return True


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise PromQLError(f'bad_data: invalid duration "{text}"')
    return int(match.group(1)) * _UNITS[match.group(2)]


def _parse_selector(text: str) -> _Selector:
    match = _SELECTOR.match(text)
    if not match or not (match.group(1) or match.group(2)):
        raise PromQLError(f"parse error: unsupported expression {text.strip()!r}")
    name, braces, range_part = match.groups()
    matchers: list[tuple[str, str, str]] = []
    if braces:
        body = braces[1:-1].strip()
        position = 0
        while position < len(body):
            found = _MATCHER.match(body, position)
            if not found:
                raise PromQLError(f"parse error: unexpected character in label matchers {braces!r}")
            matchers.append(
                (
                    found.group(1),
                    found.group(2),
                    bytes(found.group(3), "utf-8").decode("unicode_escape"),
                )
            )
            position = found.end()
    if not name and not any(op in ("=", "=~") and value for _, op, value in matchers):
        raise PromQLError(
            "parse error: vector selector must contain at least one non-empty matcher"
        )
    range_seconds = parse_duration(range_part[1:-1]) if range_part else None
    return _Selector(name, tuple(matchers), range_seconds)


def _split_call(expr: str) -> tuple[str, str] | None:
    """`name(inner)` -> (name, inner) when the parentheses wrap the rest of the expression."""
    match = re.match(r"^\s*([a-z_]+)\s*\(", expr)
    if not match or not expr.rstrip().endswith(")"):
        return None
    inner = expr[match.end() : expr.rstrip().rfind(")")]
    depth = 0
    for char in inner:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return None
    return match.group(1), inner


def _parse_grouping(text: str) -> tuple[str, tuple[str, ...], str]:
    """Strip a `by (...)`/`without (...)` clause from the front; returns (mode, labels, rest)."""
    match = re.match(r"^\s*(by|without)\s*\(([^)]*)\)\s*", text)
    if not match:
        return "", (), text
    labels = tuple(part.strip() for part in match.group(2).split(",") if part.strip())
    return match.group(1), labels, text[match.end() :]


def scrape_times(after: float, until: float) -> list[float]:
    """The scrape times in the left-open interval (after, until]."""
    first = math.floor(after / SCRAPE_INTERVAL) + 1
    last = math.floor(until / SCRAPE_INTERVAL)
    return [k * SCRAPE_INTERVAL for k in range(first, last + 1)]


def evaluate(
    expr: str, at: float, series_at: SeriesAt, *, now: float | None = None
) -> dict[str, Any]:
    """The `data` object of /api/v1/query for expr at unix time `at`.

    `now`: the present; no scrape has happened after it (default: `at`).
    """
    horizon = at if now is None else min(at, now)

    def scraped(window_start: float, window_end: float) -> list[float]:
        return scrape_times(window_start, min(window_end, horizon))

    vector = _eval(expr.strip(), at, series_at, scraped)
    return {
        "resultType": "vector",
        "result": [
            {"metric": labels, "value": [format_time(at), format_value(value)]}
            for labels, value in vector
        ],
    }


Scraped = Callable[[float, float], list[float]]


def _eval(
    expr: str, at: float, series_at: SeriesAt, scraped: Scraped
) -> list[tuple[dict[str, str], float]]:
    aggregation = re.match(rf"^\s*({'|'.join(_AGGREGATIONS)})\b\s*", expr)
    if aggregation:
        return _aggregate(aggregation.group(1), expr[aggregation.end() :], at, series_at, scraped)
    call = _split_call(expr)
    if call:
        function, inner = call
        if function not in _FUNCTIONS:
            raise PromQLError(f'parse error: unknown function with name "{function}"')
        selector = _parse_selector(inner)
        if selector.range_seconds is None:
            raise PromQLError(
                f'parse error: expected type range vector in call to function "{function}", '
                "got instant vector"
            )
        window = selector.range_seconds
        samples: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        for moment in scraped(at - window, at):
            for key, value in _matching(series_at(moment), selector).items():
                samples.setdefault(key, []).append((moment, value))
        result = []
        for key, points in samples.items():
            labels = {k: v for k, v in key if k != "__name__"}
            if function == "irate":
                rated = _irate(points)
            else:
                rated = _extrapolated(points, at - window, at, window, function == "rate")
            if rated is not None:
                result.append((labels, rated))
        return result
    selector = _parse_selector(expr)
    if selector.range_seconds is not None:
        raise PromQLError(
            "bad_data: a range vector cannot be the result of /api/v1/query here; "
            "wrap it in rate() or use /api/v1/query_range"
        )
    latest = scraped(at - LOOKBACK_SECONDS, at)
    if not latest:
        return []
    return [(dict(key), value) for key, value in _matching(series_at(latest[-1]), selector).items()]


def _extrapolated(
    points: list[tuple[float, float]], start: float, end: float, window: float, is_rate: bool
) -> float | None:
    """Prometheus's extrapolatedRate for a counter (rate when is_rate, else increase)."""
    if len(points) < 2:
        return None
    (first_t, first_v), (last_t, _) = points[0], points[-1]
    result = points[-1][1] - first_v
    previous = first_v
    for _, value in points[1:]:
        if value < previous:  # a counter reset
            result += previous
        previous = value
    sampled = last_t - first_t
    average = sampled / (len(points) - 1)
    threshold = average * 1.1
    to_start, to_end = first_t - start, end - last_t
    if to_start >= threshold:
        to_start = average / 2
    if result > 0 and first_v >= 0:
        to_start = min(to_start, sampled * (first_v / result))
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor /= window
    return result * factor


def _irate(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    (before_t, before_v), (last_t, last_v) = points[-2], points[-1]
    delta = last_v - before_v if last_v >= before_v else last_v
    return delta / (last_t - before_t)


def _aggregate(
    aggregation: str, rest: str, at: float, series_at: SeriesAt, scraped: Scraped
) -> list[tuple[dict[str, str], float]]:
    """`sum by (a) (x)` or `sum(x) by (a)` (rest is what follows the aggregation's name)."""
    mode, labels, rest = _parse_grouping(rest)
    trailing = re.match(r"^\s*\((.*)\)\s*(by|without)\s*\(([^)]*)\)\s*$", rest, re.S)
    if trailing and not mode:
        inner = trailing.group(1)
        mode = trailing.group(2)
        labels = tuple(p.strip() for p in trailing.group(3).split(",") if p.strip())
    else:
        call = _split_call(aggregation + rest)
        if call is None:
            raise PromQLError(f"parse error: unsupported expression {aggregation + rest!r}")
        inner = call[1]
    groups: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for series_labels, value in _eval(inner, at, series_at, scraped):
        kept = {k: v for k, v in series_labels.items() if k != "__name__"}
        if mode == "by":
            key = tuple(sorted((k, kept[k]) for k in labels if k in kept))
        elif mode == "without":
            key = tuple(sorted((k, v) for k, v in kept.items() if k not in labels))
        else:
            key = ()
        groups.setdefault(key, []).append(value)
    combine: dict[str, Callable[[list[float]], float]] = {
        "sum": sum,
        "max": max,
        "min": min,
        "avg": lambda v: sum(v) / len(v),
        "count": lambda v: float(len(v)),
    }
    return [(dict(key), combine[aggregation](values)) for key, values in groups.items()]


def _matching(series: Series, selector: _Selector) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for name, labels, value in series:
        if selector.matches(name, labels):
            found[tuple(sorted({**labels, "__name__": name}.items()))] = value
    return found


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: strings, `NaN`, `+Inf`, integers without `.0`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def format_time(at: float) -> float | int:
    """Seconds with at most three decimals, an integer when the milliseconds are zero."""
    millis = round(at * 1000)
    return millis // 1000 if millis % 1000 == 0 else millis / 1000
