"""Where a followed log stands, so a resumed stream neither repeats nor skips a line.

`kubectl logs --timestamps` (the API's `timestamps=true`) puts the kubelet's
RFC 3339 nanosecond time before each line. A resumed stream asks for
`sinceTime` (whole seconds, rounded down, so nothing can be missed) and the
cursor drops the lines it has already handed on: every line older than the
last one seen, and as many lines carrying exactly that time as were seen.
"""

from __future__ import annotations

from datetime import UTC, datetime

from actions.falco.times import NotATime, rfc3339_to_ns

NS = 1_000_000_000


_SECONDS_CACHE: dict[bytes, int] = {}
_SECONDS_CACHE_LIMIT = 4096


def line_time_ns(line: bytes) -> int | None:
    """Nanoseconds of a line's leading kubelet timestamp, None if it has none."""
    space = line.find(b" ", 0, 48)
    if space < 20:
        return None
    stamp = line[:space]
    # The hot path, once per line: the kubelet's `2026-11-27T09:00:01.123456789Z`
    # (RFC3339Nano, trailing zeros trimmed); whole seconds are cached.
    if stamp[-1:] == b"Z" and stamp[19:20] in (b".", b"Z") and stamp[:19].isascii():
        fraction = stamp[20:-1]
        if len(fraction) <= 9 and (not fraction or fraction.isdigit()):
            seconds = _SECONDS_CACHE.get(stamp[:19])
            if seconds is None:
                seconds = _whole_seconds(stamp[:19])
            if seconds is not None:
                return seconds + int(fraction.ljust(9, b"0") or b"0")
    try:
        return rfc3339_to_ns(stamp.decode("ascii"), [])
    except (NotATime, UnicodeDecodeError):
        return None


def _whole_seconds(prefix: bytes) -> int | None:
    try:
        value = rfc3339_to_ns(prefix.decode("ascii") + "Z", [])
    except (NotATime, UnicodeDecodeError):
        return None
    if value is not None:
        if len(_SECONDS_CACHE) >= _SECONDS_CACHE_LIMIT:
            _SECONDS_CACHE.clear()
        _SECONDS_CACHE[prefix] = value
    return value


def since_time(time_ns: int) -> str:
    """RFC 3339 `sinceTime` for a resume: the whole second at or before `time_ns`."""
    moment = datetime.fromtimestamp(time_ns // NS, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class LogCursor:
    """Tracks the newest line time seen and how many lines carried it."""

    def __init__(self) -> None:
        self.last_ns: int | None = None
        self.seen_at_last = 0
        self.lines = 0
        self.skipped = 0
        self._skip_ns: int | None = None
        self._skip_left = 0

    def resume_from(self) -> str | None:
        """The `sinceTime` to ask for on (re)connection; None the first time (whole log)."""
        return None if self.last_ns is None else since_time(self.last_ns)

    def begin_connection(self) -> None:
        """A new stream starts: lines already seen will come again and must be dropped."""
        self._skip_ns = self.last_ns
        self._skip_left = self.seen_at_last

    def accept(self, lines: list[bytes]) -> list[bytes]:
        """The lines not seen before, in order; updates the position."""
        fresh: list[bytes] = []
        # Lines written together carry the same kubelet time: read it once for all of them.
        stamp, stamp_ns = b"", None
        for line in lines:
            if stamp and line.startswith(stamp):
                time_ns = stamp_ns
            else:
                time_ns = line_time_ns(line)
                space = line.find(b" ", 0, 48)
                stamp = line[:space + 1] if time_ns is not None else b""
                stamp_ns = time_ns
            if time_ns is not None and self._skip_ns is not None:
                if time_ns < self._skip_ns:
                    self.skipped += 1
                    continue
                if time_ns == self._skip_ns and self._skip_left > 0:
                    self._skip_left -= 1
                    self.skipped += 1
                    continue
                self._skip_ns = None  # past the replayed part: everything from here is new
            if time_ns is not None:
                if time_ns == self.last_ns:
                    self.seen_at_last += 1
                elif self.last_ns is None or time_ns > self.last_ns:
                    self.last_ns, self.seen_at_last = time_ns, 1
            self.lines += 1
            fresh.append(line)
        return fresh
