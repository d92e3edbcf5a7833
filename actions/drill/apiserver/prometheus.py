"""A Prometheus-compatible `/api/v1/query` and `/api/v1/query_range` over a provider.

Provider contract (`ClusterState.metrics_provider`): `provider(promql, at)`
with `at` the evaluation time in unix seconds returns a Prometheus `data`
object for an instant query at that time, e.g.
`{"resultType": "vector", "result": [{"metric": {...}, "value": [at, 12.5]}]}`.
Sample values may be numbers or strings and a vector sample's timestamp may be
left out (`"value": 12.5`): the server rewrites every sample as Prometheus
writes it (timestamp in seconds with at most 3 decimals, value as a string
such as "12.5", "NaN", "+Inf", "1e-07"). A range query calls the provider once
per step and assembles the matrix. A provider raising ValueError answers
400 bad_data with its message (a PromQL it does not understand).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

Provider = Callable[[str, float], Any]
MAX_POINTS = 11_000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class PrometheusError(Exception):
    """An error answer: HTTP code, errorType and message."""

    def __init__(self, code: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return {"status": "error", "errorType": self.error_type, "error": str(self)}


def format_value(value: Any) -> str:
    """A sample value as Prometheus writes it (Go AppendFloat 'f' or 'e', shortest)."""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "0"
    exact = Decimal(repr(number)).normalize()
    if abs(number) < 1e-6 or abs(number) >= 1e21:
        sign, digits, exponent = exact.as_tuple()
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1
                                     else "")
        power = int(exponent) + len(digits) - 1
        return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    return format(exact, "f")


def format_time(moment: float) -> int | float:
    """Seconds with at most 3 decimals, an integer when the milliseconds are 0."""
    rounded = round(moment, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def parse_time(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise PrometheusError(400, "bad_data", f'invalid parameter "{name}": cannot parse '
                                               f'"{text}" to a valid timestamp') from None


def parse_duration(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise PrometheusError(400, "bad_data", f'invalid parameter "{name}": cannot parse '
                                               f'"{text}" to a valid duration')
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _sample(raw: Any, at: float) -> list[Any]:
    if isinstance(raw, list | tuple) and len(raw) == 2:
        return [format_time(float(raw[0])), format_value(raw[1])]
    return [format_time(at), format_value(raw)]


def normalize(data: Any, at: float) -> dict[str, Any]:
    """The provider's data object with timestamps and values written as Prometheus does."""
    if not isinstance(data, dict) or "resultType" not in data:
        raise PrometheusError(500, "internal", "the metrics provider returned no data object")
    result_type = data["resultType"]
    result = data.get("result")
    if result_type in ("scalar", "string"):
        value = result if result is not None else [at, 0]
        text = value[1] if result_type == "string" else format_value(value[1])
        return {"resultType": result_type, "result": [format_time(float(value[0])), text]}
    series = []
    for element in result or []:
        metric = dict(element.get("metric") or {})
        if result_type == "matrix":
            series.append({"metric": metric,
                           "values": [_sample(v, at) for v in element.get("values") or []]})
        else:
            series.append({"metric": metric, "value": _sample(element.get("value"), at)})
    return {"resultType": result_type, "result": series}


def _call(provider: Provider, query: str, at: float) -> dict[str, Any]:
    try:
        data = provider(query, at)
    except ValueError as exc:
        raise PrometheusError(400, "bad_data", f'invalid parameter "query": {exc}') from None
    return normalize(data, at)


def instant_query(provider: Provider, params: Mapping[str, str], now: float) -> dict[str, Any]:
    """The full response body of /api/v1/query."""
    query = params.get("query")
    if not query:
        raise PrometheusError(400, "bad_data", 'invalid parameter "query": 1:1: parse error: '
                                               "no expression found in input")
    at = parse_time(params["time"], "time") if params.get("time") else now
    return {"status": "success", "data": _call(provider, query, at)}


def range_query(provider: Provider, params: Mapping[str, str]) -> dict[str, Any]:
    """The full response body of /api/v1/query_range (one provider call per step)."""
    query = params.get("query")
    if not query:
        raise PrometheusError(400, "bad_data", 'invalid parameter "query": 1:1: parse error: '
                                               "no expression found in input")
    for name in ("start", "end", "step"):
        if not params.get(name):
            expected = "duration" if name == "step" else "timestamp"
            raise PrometheusError(400, "bad_data", f'invalid parameter "{name}": cannot parse '
                                                   f'"" to a valid {expected}')
    start = parse_time(params["start"], "start")
    end = parse_time(params["end"], "end")
    step = parse_duration(params["step"], "step")
    if end < start:
        raise PrometheusError(400, "bad_data", 'invalid parameter "end": end timestamp must not '
                                               "be before start time")
    if step <= 0:
        raise PrometheusError(400, "bad_data", 'invalid parameter "step": zero or negative query '
                                               "resolution step widths are not accepted. Try a "
                                               "positive integer")
    if (end - start) / step > MAX_POINTS:
        raise PrometheusError(400, "bad_data", "exceeded maximum resolution of 11,000 points per "
                                               "timeseries. Try decreasing the query resolution "
                                               "(?step=XX)")
    by_metric: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    steps = int(math.floor((end - start) / step + 1e-9)) + 1
    for index in range(steps):
        at = start + index * step
        data = _call(provider, query, at)
        points: list[tuple[dict[str, Any], Any]]
        if data["resultType"] == "scalar":
            points = [({}, data["result"])]
        elif data["resultType"] == "vector":
            points = [(s["metric"], s["value"]) for s in data["result"]]
        else:
            raise PrometheusError(400, "bad_data", "invalid expression type "
                                                   f'"{data["resultType"]}" for range query, '
                                                   "must be Scalar or instant Vector")
        for metric, value in points:
            key = tuple(sorted(metric.items()))
            by_metric.setdefault(key, {"metric": metric, "values": []})["values"].append(
                [format_time(at), value[1]])
    series = [by_metric[key] for key in sorted(by_metric)]
    return {"status": "success", "data": {"resultType": "matrix", "result": series}}
