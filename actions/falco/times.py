"""Exact nanosecond arithmetic on the time strings Falco writes.

Python's datetime keeps microseconds only, and Falco's times carry nine
fractional digits; so times are turned into integer nanoseconds here, from the
digits, with no float and no datetime in between.
"""

from __future__ import annotations

import datetime
import functools
import re

NS_PER_SECOND = 1_000_000_000
_NS_PER_DAY = 86_400 * NS_PER_SECOND

# The range Python's datetime can hold; a time outside it is kept raw without time_ns,
# so that every consumer that turns time_ns into a datetime can do so.
_MIN_YEAR = datetime.MINYEAR
_MAX_YEAR = datetime.MAXYEAR
# ...and the range of a signed 64-bit count of nanoseconds (1677-09-21 to 2262-04-11),
# what SQLite's INTEGER, Go's time.Time.UnixNano and Falco's own evt.time hold.
NS_MIN, NS_MAX = -(2**63), 2**63 - 1

_RFC3339 = re.compile(
    r"([0-9]{4,})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]+))?([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)",
    re.ASCII,
)
_CLOCK = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?", re.ASCII)

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class NotATime(ValueError):
    """The string is not a time (wrong shape, month 13, 25 o'clock...)."""


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _check_date(year: int, month: int, day: int) -> None:
    if not 1 <= month <= 12:
        raise NotATime(f"month {month} does not exist")
    last = 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]
    if not 1 <= day <= last:
        raise NotATime(f"day {day} does not exist in month {month}")


def _clock_ns(hour: int, minute: int, second: int, fraction: str, warnings: list[str]) -> int:
    """Nanoseconds since midnight; appends a warning for a leap second or extra digits."""
    if hour > 23 or minute > 59 or second > 60:
        raise NotATime(f"{hour:02d}:{minute:02d}:{second:02d} is not a time of day")
    if second == 60:
        warnings.append("leap second 60 counted as the next second")
    if len(fraction) > 9:
        warnings.append(f"time has {len(fraction)} fractional digits: truncated to nanoseconds")
        fraction = fraction[:9]
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return ((hour * 60 + minute) * 60 + second) * NS_PER_SECOND + nanos


def _fast_falco_time(text: str) -> int | None:
    """The shapes Falco and the kubelet write, else None (the general parser decides).

    `2025-03-14T09:12:01.004518233Z` (Falco's JSON `time`) and the kubelet's
    RFC3339Nano `2025-03-14T09:12:01.0045Z` / `...:01Z` (trailing zeros trimmed).
    The hot path of every alert line: lines come thousands to the second, so
    the whole-second part is computed once per second and cached; only the
    fractional digits are read each time.
    """
    size = len(text)
    if not 20 <= size <= 30 or text[-1] != "Z":
        return None
    if size == 20:
        fraction = ""
    elif size == 21 or text[19] != ".":
        return None
    else:
        fraction = text[20:-1]
        # isascii() first: isdigit() alone accepts other scripts' digits, which int() reads.
        if not (fraction.isascii() and fraction.isdigit()):
            return None
    seconds_ns = _whole_seconds_ns(text[:19])
    if seconds_ns is None:
        return None
    if not fraction:
        return seconds_ns
    return seconds_ns + int(fraction) * _FRACTION_SCALE[len(fraction)]


def fast_rfc3339_to_ns(text: str) -> int | None:
    """`rfc3339_to_ns` for the shapes Falco and the kubelet write; None for any other shape.

    Raises NotATime for a date that does not exist (`2026-02-30T...Z`).
    """
    return _fast_falco_time(text)


def falco_time_ns(text: str) -> int | None:
    """`rfc3339_to_ns(text, warnings)` where that adds no warning and Falco's shape says it
    quickly; None otherwise (never raises): then ask `rfc3339_to_ns`."""
    try:
        nanoseconds = _fast_falco_time(text)
    except NotATime:
        return None
    if nanoseconds is not None and NS_MIN <= nanoseconds <= NS_MAX:
        return nanoseconds
    return None


_FRACTION_SCALE: tuple[int, ...] = tuple(10 ** (9 - digits) for digits in range(10))


@functools.lru_cache(maxsize=4096)
def _whole_seconds_ns(text: str) -> int | None:
    """Nanoseconds of `YYYY-MM-DDTHH:MM:SS` at the start of `text`, None if not that shape."""
    if text[4] != "-" or text[7] != "-" or text[10] != "T" or text[13] != ":" or text[16] != ":":
        return None
    digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    # isascii() first: isdigit() alone accepts other scripts' digits, which int() reads.
    if not (digits.isascii() and digits.isdigit()):
        return None
    year = int(digits[0:4])
    month = int(digits[4:6])
    day = int(digits[6:8])
    hour = int(digits[8:10])
    minute = int(digits[10:12])
    second = int(digits[12:14])
    if year < _MIN_YEAR or hour > 23 or minute > 59 or second > 59:
        return None  # the general path explains these
    _check_date(year, month, day)
    return (
        _days_from_civil(year, month, day) * _NS_PER_DAY
        + ((hour * 60 + minute) * 60 + second) * NS_PER_SECOND
    )


def rfc3339_to_ns(text: str, warnings: list[str]) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 / ISO 8601 date-time with an offset.

    Accepts Falco's `...T09:12:01.004518233Z`, falcosidekick's trimmed fractions
    (`.0045182Z`), offsets `+0000` and `+00:00`. Returns None (with a warning)
    for a time 64-bit nanoseconds cannot hold (before 1677, after 2262: the time
    itself is kept raw); raises NotATime for anything else.
    """
    try:
        nanoseconds = _rfc3339_to_ns(text, warnings)
    except NotATime as error:
        raise _about(text, error) from None
    if nanoseconds is not None and not NS_MIN <= nanoseconds <= NS_MAX:
        warnings.append(
            f"time {_quote(text)} is outside what 64-bit nanoseconds hold (1677-2262): "
            "kept raw, no nanosecond value"
        )
        return None
    return nanoseconds


def _rfc3339_to_ns(text: str, warnings: list[str]) -> int | None:
    fast = _fast_falco_time(text)
    if fast is not None:
        return fast
    return _general_rfc3339_to_ns(text, warnings)


def _general_rfc3339_to_ns(text: str, warnings: list[str]) -> int | None:
    """Every RFC 3339 shape, by regex; the fast path must agree with it wherever it answers."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise NotATime(f"time {_quote(text)} is not an RFC 3339 date-time")
    year_text, month, day, hour, minute, second, fraction, offset = match.groups()
    if len(year_text) > 9:
        raise NotATime(f"time {_quote(text)} has a {len(year_text)}-digit year")
    year = int(year_text)
    _check_date(year, int(month), int(day))
    day_ns = _clock_ns(int(hour), int(minute), int(second), fraction or "", warnings)
    offset_ns = _offset_ns(offset)
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        warnings.append(
            f"time {_quote(text)} is outside the years {_MIN_YEAR}-{_MAX_YEAR}: kept raw, "
            "no nanosecond value"
        )
        return None
    return _days_from_civil(year, int(month), int(day)) * _NS_PER_DAY + day_ns - offset_ns


def _offset_ns(offset: str) -> int:
    """The UTC offset `Z`, `+0000`, `-05:00`, `+01` in nanoseconds (east positive)."""
    if offset in ("Z", "z"):
        return 0
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise NotATime(f"time zone offset {offset} does not exist")
    sign = -1 if offset[0] == "-" else 1
    return sign * (hours * 3600 + minutes * 60) * NS_PER_SECOND


def clock_to_ns(text: str, date: datetime.date, warnings: list[str]) -> int:
    """Nanoseconds since the epoch of Falco's text-form `HH:MM:SS.nnnnnnnnn` on `date`, in UTC.

    Falco renders `%evt.time` in the container's local time, which is UTC in
    Falco's images; the line itself carries no date.
    """
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise NotATime(f"time {_quote(text)} is not HH:MM:SS.nnnnnnnnn")
    hour, minute, second, fraction = match.groups()
    try:
        day_ns = _clock_ns(int(hour), int(minute), int(second), fraction or "", warnings)
    except NotATime as error:
        raise _about(text, error) from None
    return _days_from_civil(date.year, date.month, date.day) * _NS_PER_DAY + day_ns


def _about(text: str, error: NotATime) -> NotATime:
    """The error with the time it is about, so that a reason makes sense on its own."""
    if str(error).startswith("time "):
        return error
    return NotATime(f"time {_quote(text)}: {error}")


def _quote(text: str) -> str:
    """A short, printable rendering of a hostile string for a reason or a warning."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    return ascii(shown)
