"""CoreDNS query log lines (the `log` plugin's default format), read as data.

`[INFO] 10.42.0.5:50759 - 29008 "A IN example.org. udp 41 false 4096" NOERROR
qr,rd,ra,ad 68 0.037990251s`, after kubectl's RFC 3339 timestamp (formats.md 6).
The query name is in DNS presentation format (`\\DDD` and `\\.` escapes, and
raw `[`, `]`, `<`, `|`...): attacker-controlled text, kept as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from actions.sources.cursor import line_time_ns

_QUERY = re.compile(
    r'\[INFO\] (?P<client>\[[0-9A-Fa-f:.]+\]|[0-9.]+):(?P<port>[0-9]+) - (?P<id>[0-9]+) '
    r'"(?P<qtype>[A-Z0-9]+) (?P<qclass>[A-Z0-9]+) (?P<name>(?:\\.|[^\s\\"])+) '
    r'(?P<proto>udp|tcp) (?P<size>[0-9]+) (?P<do>true|false) (?P<bufsize>[0-9]+)" '
    r'(?P<rcode>[A-Z0-9]+) (?P<rflags>\S*) (?P<rsize>[0-9]+) (?P<duration>[0-9.e+-]+)s'
)


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """One query CoreDNS answered."""

    time_ns: int | None
    log_time: str | None
    client: str
    qtype: str
    name: str
    """Presentation format, trailing dot removed, as CoreDNS printed it (not unescaped)."""
    rcode: str


def parse_query(line: bytes) -> DnsQuery | None:
    """The query in a `--timestamps` line of CoreDNS's log, None for any other line."""
    text = line.decode("utf-8", "replace")
    log_time: str | None = None
    time_ns = line_time_ns(line)
    if time_ns is not None:
        log_time, _, text = text.partition(" ")
    match = _QUERY.search(text)
    if match is None:
        return None
    client = match["client"].strip("[]")
    return DnsQuery(time_ns, log_time, client, match["qtype"], match["name"].rstrip("."),
                    match["rcode"])
