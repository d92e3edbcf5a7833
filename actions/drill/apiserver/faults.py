"""Injected failures: method + path pattern -> error code (or a hang), consulted first.

The HTTP layer asks `FaultTable.match()` before touching any state, so an
injected 403 or 409 never leaves a half-applied change behind.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from . import status

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
    422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class Fault:
    """One injected failure; `times` None means every matching request."""

    method: str
    path: re.Pattern[str]
    code: int
    message: str
    times: int | None
    delay: float

    def error(self) -> status.ApiError | None:
        """The ApiError this fault answers with, None for a pure delay (code 0)."""
        if self.code == 0:
            return None
        reason = REASONS.get(self.code, "InternalError")
        message = self.message or f"injected failure: {reason}"
        return status.error(self.code, reason, message)


class FaultTable:
    """Thread-safe list of faults; the first match wins and uses up one of its `times`."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, method: str, path_regex: str, code: int, *, message: str = "",
            times: int | None = None, delay: float = 0.0) -> None:
        if code != 0 and not 400 <= code <= 599:
            raise ValueError(f"fault code must be 0 (delay only) or 400-599, not {code}")
        fault = Fault(method.upper(), re.compile(path_regex), code, message, times, delay)
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def match(self, method: str, path: str) -> Fault | None:
        """The fault for this request (consuming one use), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in ("*", method.upper()) or not fault.path.search(path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None
