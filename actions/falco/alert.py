"""The two results of reading one line of Falco output: an alert, or a rejected line."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Falco's priorities, most severe first, as Falco spells them in alerts
# (falcosecurity/falco userspace/engine/falco_common.cpp `priority_names`).
PRIORITIES: tuple[str, ...] = (
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
)

# Falco parses priorities case-insensitively and takes "info" for Informational
# (`falco_common::parse_priority`); so do we, while keeping the emitted spelling.
_PRIORITY_RANKS: dict[str, int] = {name.casefold(): rank for rank, name in enumerate(PRIORITIES)}
_PRIORITY_RANKS["info"] = PRIORITIES.index("Informational")
_EXACT_PRIORITIES = frozenset(PRIORITIES)


def priority_rank(priority: str) -> int | None:
    """Falco's enum value of a priority (0 = Emergency ... 7 = Debug), None if unknown."""
    return _PRIORITY_RANKS.get(priority.casefold())


def canonical_priority(priority: str) -> str | None:
    """Falco's own spelling of a priority written in any case ("WARNING", "info"), else None."""
    if priority in _EXACT_PRIORITIES:
        return priority
    rank = _PRIORITY_RANKS.get(priority.casefold())
    return None if rank is None else PRIORITIES[rank]


def reported_by(source: str | None, hostname: str | None) -> tuple[str, str]:
    """(heading, value) naming where an alert was seen, as a reader needs it: Falco's
    `hostname` is the node its pod runs on, but warroom's DNS detector puts there the
    CoreDNS pod whose query log it read (or "hubble" for Hubble's flows), and its
    Prometheus checks leave it empty."""
    if source == "warroom-dns":
        if hostname == "hubble":
            return "Seen in", "Hubble's DNS flows"
        return "CoreDNS pod", hostname or "unknown"
    if source == "warroom-traffic":
        return "Seen in", "Prometheus' mesh metrics"
    return "Node", hostname or "unknown"


@dataclass(slots=True)
class FalcoAlert:
    """One Falco alert, as Falco wrote it, with what the parser had to tolerate.

    Values are kept as given: nothing here has been sanitised for display, so
    every string may carry attacker-controlled text (control characters, markup).

    Never changed once built (threads share alerts), but not `frozen`: a frozen
    dataclass sets each field through `object.__setattr__`, which made building
    one cost 5 us, more than decoding its JSON line (bench/parse.py).
    """

    time: str
    """The alert's time exactly as written in the input (never reformatted)."""
    time_ns: int | None
    """Nanoseconds since the epoch (UTC), computed exactly; None when not knowable."""
    rule: str
    """The rule name; for the text form, inferred from the message (see warnings)."""
    priority: str
    """Falco's priority as emitted ("Warning"); an unknown one is kept verbatim."""
    source: str | None
    """"syscall", "internal", a plugin's source name; None when the input does not say."""
    hostname: str | None
    tags: tuple[str, ...]
    output: str
    output_fields: dict[str, object]
    """JSON-able values as given; for the text form the k=v pairs, best effort."""
    form: str
    """"json" or "text"."""
    warnings: tuple[str, ...] = ()
    """What was tolerated, e.g. "invalid UTF-8 replaced"."""
    log_time: str | None = None
    """The RFC 3339 timestamp `kubectl logs --timestamps` put before the line, if any."""
    log_prefix: str | None = None
    """The `[pod/NAME/CONTAINER]` prefix of `kubectl logs --prefix`, without brackets."""
    raw: bytes | None = None
    """The line as read, kept only when parsing lost or coerced something."""

    @property
    def dedupe_key(self) -> str:
        """A key that is the same every time the same alert line is read (see `dedupe_key`)."""
        return dedupe_key(self.hostname, self.time, self.rule, self.output)

    def __reduce__(self) -> tuple[type[FalcoAlert], tuple[object, ...]]:
        # Alerts cross to and from worker processes by the thousand: rebuilding one
        # from its fields is cheaper than the dataclass's generic slot state.
        return (FalcoAlert, (self.time, self.time_ns, self.rule, self.priority, self.source,
                             self.hostname, self.tags, self.output, self.output_fields, self.form,
                             self.warnings, self.log_time, self.log_prefix, self.raw))

    def __hash__(self) -> int:
        # The generated hash would fail on the output_fields dict; equal alerts
        # have equal identifying parts, so hashing those keeps hash and eq consistent.
        return hash((self.hostname, self.time, self.rule, self.output))

    @property
    def priority_rank(self) -> int | None:
        """Falco's enum value of the priority (0 = Emergency ... 7 = Debug), None if unknown."""
        return priority_rank(self.priority)


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line that is not a Falco alert, kept whole with the reason it was refused."""

    raw: bytes
    """The line as read, without its newline (truncated only when longer than the limit)."""
    reason: str
    """Why, in plain words: "truncated JSON (...)", "not a Falco alert: Falco log line"."""
    log_time: str | None = None
    """The RFC 3339 timestamp `kubectl logs --timestamps` put before the line, if any."""


def dedupe_key(hostname: str | None, time: str, rule: str, output: str) -> str:
    """A key that is the same every time the same alert line is read.

    Built from the raw hostname, time, rule and output (never from a parsed
    datetime, which would drop the nanoseconds). Each part is length-prefixed
    so that no choice of field contents can make two different alerts collide:
    the SHA-256 of `<bytes>:<UTF-8>` per part (`-;` for no hostname), 32 hex digits.
    """
    if (
        hostname is not None
        and hostname.isascii()
        and time.isascii()
        and rule.isascii()
        and output.isascii()
    ):
        # The usual alert: characters are bytes, one format and one encode build it all.
        joined = (
            f"{len(hostname)}:{hostname}{len(time)}:{time}{len(rule)}:{rule}{len(output)}:{output}"
        )
        return hashlib.sha256(joined.encode("ascii")).hexdigest()[:32]
    pieces = []
    for part in (hostname, time, rule, output):
        if part is None:
            pieces.append(b"-;")
        else:
            encoded = part.encode("utf-8", "surrogatepass")
            pieces.append(b"%d:" % len(encoded))
            pieces.append(encoded)
    return hashlib.sha256(b"".join(pieces)).hexdigest()[:32]
