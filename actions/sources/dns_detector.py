"""DNS tunneling and exfiltration, detected from the queries CoreDNS logs.

Falco ships no DNS rule, so warroom looks at the queries itself, per
registered domain over a sliding minute of log time:

- labels that carry data: several queries with a label longer than 50
  characters, or a long label with high Shannon entropy (base32/base64/hex
  payloads);
- many unique subdomains of one domain in a minute (each query a new chunk);
- bursts of TXT/NULL queries (the usual return channel of DNS tunnels);
- per client, NXDOMAIN storms for names outside the cluster (DGA malware, or
  a tunnel whose server is down).

Names under the cluster's own suffixes are ignored: Kubernetes' search path
makes every external lookup produce NXDOMAINs for `<name>.<ns>.svc.cluster.local`.
The registered domain is approximated without the public suffix list: the
last two labels, or three under a two-letter country code with a generic
second level (`co.uk`, `com.au`).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from actions.sources.coredns_log import DnsQuery

NS = 1_000_000_000
_GENERIC_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or"})
DATA_QTYPES = frozenset({"TXT", "NULL"})


@dataclass(frozen=True, slots=True)
class DnsDetectorSettings:
    window_seconds: int = 60
    long_label: int = 50
    entropy_label_min: int = 24
    entropy_bits: float = 3.8
    suspicious_labels: int = 5
    unique_subdomains: int = 30
    data_queries: int = 10
    nxdomain_storm: int = 25
    cooldown_seconds: int = 300
    ignored_suffixes: tuple[str, ...] = ("cluster.local", "in-addr.arpa", "ip6.arpa", "local")


@dataclass(frozen=True, slots=True)
class DnsDetection:
    """What crossed a threshold, with the queries that did it (the evidence)."""

    domain: str
    client: str
    signals: tuple[str, ...]
    time_ns: int
    log_time: str | None
    queries: int
    sample: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "client": self.client, "signals": list(self.signals),
                "time_ns": self.time_ns, "log_time": self.log_time, "queries": self.queries,
                "sample": list(self.sample), "counts": self.counts}


def registered_domain(name: str) -> str:
    labels = name.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in Counter(text).values())


@dataclass
class _Seen:
    time_ns: int
    subdomain: str
    qtype: str
    suspicious: bool
    name: str


class _Window:
    """One domain's queries in the last window, with distinct-subdomain counts kept up to date.

    Distinct names are what count: a tunnel asks for a new name each time,
    while normal clients repeat the same few (`_dmarc`, a CDN's hashed host).
    """

    def __init__(self) -> None:
        self.seen: deque[_Seen] = deque()
        self.subdomains: Counter[str] = Counter()
        self.suspicious: Counter[str] = Counter()
        self.data: Counter[str] = Counter()

    def add(self, item: _Seen) -> None:
        self.seen.append(item)
        self._count(item, 1)

    def expire(self, before_ns: int) -> None:
        while self.seen and self.seen[0].time_ns <= before_ns:
            self._count(self.seen.popleft(), -1)

    def _count(self, item: _Seen, step: int) -> None:
        if not item.subdomain:
            return
        for counter, applies in ((self.subdomains, True), (self.suspicious, item.suspicious),
                                 (self.data, item.qtype in DATA_QTYPES)):
            if applies:
                counter[item.subdomain] += step
                if counter[item.subdomain] <= 0:
                    del counter[item.subdomain]


class DnsTunnelDetector:
    """Feed it queries in log order; it returns detections (at most one per domain per cooldown)."""

    def __init__(self, settings: DnsDetectorSettings | None = None) -> None:
        self.settings = settings or DnsDetectorSettings()
        self._by_domain: dict[str, _Window] = {}
        self._nxdomains: dict[str, deque[tuple[int, str]]] = {}
        self._quiet_until: dict[str, int] = {}
        self.queries = 0
        self.ignored = 0

    def observe(self, query: DnsQuery, *, now_ns: int) -> list[DnsDetection]:
        s = self.settings
        name = query.name.lower()
        if not name or any(name == suffix or name.endswith("." + suffix)
                           for suffix in s.ignored_suffixes):
            self.ignored += 1
            return []
        self.queries += 1
        at = query.time_ns if query.time_ns is not None else now_ns
        window = s.window_seconds * NS
        domain = registered_domain(name)
        subdomain = name[: -len(domain)].rstrip(".") if name != domain else ""
        labels = [label for label in subdomain.split(".") if label]
        longest = max(labels, key=len, default="")
        suspicious = len(longest) > s.long_label or (
            len(longest) >= s.entropy_label_min and entropy(longest) >= s.entropy_bits)
        recent = self._by_domain.setdefault(domain, _Window())
        recent.add(_Seen(at, subdomain, query.qtype, suspicious, query.name))
        recent.expire(at - window)
        signals: list[str] = []
        counts: dict[str, int] = {}
        if len(recent.suspicious) >= s.suspicious_labels:
            signals.append("data-carrying labels")
            counts["long_or_random_labels"] = len(recent.suspicious)
        if len(recent.subdomains) >= s.unique_subdomains:
            signals.append("many unique subdomains")
            counts["unique_subdomains"] = len(recent.subdomains)
        if len(recent.data) >= s.data_queries:
            signals.append("TXT/NULL burst")
            counts["txt_null_queries"] = len(recent.data)
        if signals and self._quiet_until.get(domain, -1) > at:
            signals, counts = [], {}  # this domain was reported a moment ago
        if query.rcode == "NXDOMAIN":
            storm = self._nxdomains.setdefault(query.client, deque())
            storm.append((at, query.name))
            while storm and storm[0][0] <= at - window:
                storm.popleft()
            # A storm spans many domains (DGA): it is quieted per client, not per domain.
            client_key = "client " + query.client
            if len(storm) >= s.nxdomain_storm and self._quiet_until.get(client_key, -1) <= at:
                signals.append("NXDOMAIN storm")
                counts["nxdomain_answers"] = len(storm)
                self._quiet_until[client_key] = at + s.cooldown_seconds * NS
        if not signals:
            return []
        if any(signal != "NXDOMAIN storm" for signal in signals):
            self._quiet_until[domain] = at + s.cooldown_seconds * NS
        sample = tuple(item.name for item in list(recent.seen)[-20:])
        if signals == ["NXDOMAIN storm"]:
            sample = tuple(name for _, name in list(self._nxdomains[query.client])[-20:])
        return [DnsDetection(domain, query.client, tuple(signals), at, query.log_time,
                             len(recent.seen), sample, counts)]
