"""The DNS tunneling detector: tunnels found, and its false-positive rate on normal traffic."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actions.drill.server import DrillServerThread
from actions.falco.classify import Classifier
from actions.kube.cluster import ClusterOptions, connect
from actions.sources.batches import AlertBatch
from actions.sources.coredns_log import DnsQuery, parse_query
from actions.sources.dns_detector import DnsTunnelDetector, entropy, registered_domain
from actions.sources.dns_follower import NO_QUERIES, CoreDnsSource
from store import Record
from tests.sources_helpers import RunningSource, eventually

NS = 1_000_000_000
START = 1_795_770_000 * NS


def query(at_ns: int, client: str, name: str, qtype: str = "A", rcode: str = "NOERROR"
          ) -> DnsQuery:
    return DnsQuery(at_ns, None, client, qtype, name, rcode)


def normal_traffic(minutes: int, seed: int = 7) -> list[DnsQuery]:
    """A busy namespace's queries: services, search-path misses, SaaS, cloud, CDNs, mail."""
    rng = random.Random(seed)
    services = ["orchestrator", "tts-router", "asr-gateway", "billing", "redis", "postgres",
                "kafka-0.kafka-headless", "prometheus", "istiod.istio-system"]
    external = ["api.stripe.com", "api.twilio.com", "hooks.slack.com", "api.openai.com",
                "sts.amazonaws.com", "s3.eu-west-1.amazonaws.com",
                "voicehive-recordings.s3.eu-west-1.amazonaws.com",
                "d3k8h2x9q1p0ab.cloudfront.net", "oauth2.googleapis.com",
                "www.googleapis.com", "login.microsoftonline.com", "github.com",
                "registry-1.docker.io", "production.cloudflare.docker.com",
                "o4505871234567890.ingest.sentry.io", "api.eu.datadoghq.com",
                "pool.ntp.org", "api.sendgrid.com", "bbc.co.uk", "news.bbc.co.uk",
                "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6.cdn.jsdelivr.net", "ocsp.digicert.com",
                "x8f2k1m9z3.execute-api.eu-west-1.amazonaws.com",
                "ec2-52-16-211-7.eu-west-1.compute.amazonaws.com"]
    mail = ["_dmarc.example.com", "example.com", "_domainkey.mail.example.com",
            "voicehive.io", "_spf.google.com"]
    clients = [f"10.42.{n // 250}.{n % 250 + 2}" for n in range(40)]
    queries: list[DnsQuery] = []
    at = START
    for _ in range(minutes * 6_000):  # 100 queries a second
        at += rng.randint(1, 20) * NS // 1000
        client = rng.choice(clients)
        roll = rng.random()
        if roll < 0.55:
            service = rng.choice(services)
            queries.append(query(at, client, f"{service}.voicehive.svc.cluster.local"))
        elif roll < 0.93:
            name = rng.choice(external)
            # ndots:5 first tries the search path: NXDOMAIN inside cluster.local.
            for suffix in ("voicehive.svc.cluster.local", "svc.cluster.local", "cluster.local"):
                queries.append(query(at, client, f"{name}.{suffix}", rcode="NXDOMAIN"))
            queries.append(query(at, client, name, rng.choice(["A", "AAAA"])))
        elif roll < 0.97:
            queries.append(query(at, client, rng.choice(mail), "TXT"))
        elif roll < 0.99:
            typo = rng.choice(["api.stirpe.com", "hooks.slak.com", "githbu.com"])
            queries.append(query(at, client, typo, rcode="NXDOMAIN"))
        else:
            queries.append(query(at, client, f"{rng.randint(1, 254)}.0.42.10.in-addr.arpa",
                                 "PTR"))
    return queries


def tunnel_queries(count: int, start: int, client: str = "10.42.0.66") -> list[DnsQuery]:
    """dnscat/iodine-like: base32 chunks of a file under one domain, half of them TXT."""
    rng = random.Random(3)
    payload = bytes(rng.getrandbits(8) for _ in range(count * 40))
    out = []
    for index in range(count):
        chunk = base64.b32encode(payload[index * 40:(index + 1) * 40]).decode().rstrip("=")
        label = chunk.lower()[:63]
        out.append(query(start + index * NS // 5, client, f"{label}.{index}.t.exfil-cdn.net",
                         "TXT" if index % 2 else "A"))
    return out


def test_normal_traffic_raises_nothing() -> None:
    detector = DnsTunnelDetector()
    traffic = normal_traffic(minutes=5)
    detections = [d for q in traffic for d in detector.observe(q, now_ns=q.time_ns or 0)]
    # The false-positive rate measured over 5 minutes of a busy namespace (~ 50 k lines).
    assert detector.queries + detector.ignored == len(traffic)
    assert len(traffic) > 45_000
    assert detections == []


def test_a_tunnel_inside_normal_traffic_is_found_quickly_with_its_evidence() -> None:
    detector = DnsTunnelDetector()
    traffic = normal_traffic(minutes=2, seed=11)
    tunnel = tunnel_queries(60, START + 30 * NS)
    merged = sorted(traffic + tunnel, key=lambda q: q.time_ns or 0)
    detections = [d for q in merged for d in detector.observe(q, now_ns=q.time_ns or 0)]
    assert [d.domain for d in detections] == ["exfil-cdn.net"]  # once: then quiet
    (found,) = detections
    assert "data-carrying labels" in found.signals
    assert found.client == "10.42.0.66"
    assert found.time_ns <= START + 30 * NS + 5 * NS // 5  # within the first 5 queries
    assert all(name.endswith(".t.exfil-cdn.net") for name in found.sample)


def test_unique_subdomains_and_txt_bursts_even_with_short_labels() -> None:
    detector = DnsTunnelDetector()
    detections = []
    for index in range(40):
        detections += detector.observe(
            query(START + index * NS, "10.42.0.9", f"c{index:04d}.x.badsite.org", "TXT"),
            now_ns=0)
    assert len(detections) == 1
    assert detections[0].signals == ("TXT/NULL burst",)
    assert detections[0].counts == {"txt_null_queries": 10}


def test_an_nxdomain_storm_across_many_domains_is_one_detection() -> None:
    detector = DnsTunnelDetector()
    rng = random.Random(5)
    detections = []
    for index in range(200):
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12)) + ".com"
        detections += detector.observe(
            query(START + index * NS // 10, "10.42.1.7", name, rcode="NXDOMAIN"), now_ns=0)
    assert [d.signals for d in detections] == [("NXDOMAIN storm",)]
    assert detections[0].counts == {"nxdomain_answers": 25}


def test_coredns_lines_and_hostile_names() -> None:
    line = (b'2026-11-27T09:00:01.5Z [INFO] [::1]:50759 - 29008 "TXT IN '
            b'a\\ b\\027[bold]x.evil.com. udp 41 false 512" NXDOMAIN qr,rd 68 0.0001s')
    parsed = parse_query(line)
    assert parsed is not None
    assert (parsed.client, parsed.qtype, parsed.rcode) == ("::1", "TXT", "NXDOMAIN")
    assert parsed.name == "a\\ b\\027[bold]x.evil.com"  # kept as CoreDNS wrote it
    assert parse_query(b"[INFO] plugin/reload: Running configuration SHA512 = 00") is None
    assert registered_domain("news.bbc.co.uk") == "bbc.co.uk"
    assert registered_domain("a.b.exfil-cdn.net") == "exfil-cdn.net"
    assert entropy("aaaa") == 0.0


# ----- live, on the drill cluster ----------------------------------------------------------------

COREDNS = ("kube-system", "coredns-6d4b75cb6d-z9x8c")


@pytest.fixture
async def api(drill_server: DrillServerThread, tmp_path: Path) -> AsyncIterator[Any]:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_server.kubeconfig_path(tmp_path))))
    yield cluster.client
    await cluster.close()


def log_line(q: DnsQuery) -> str:
    return (f'[INFO] {q.client}:41234 - 4242 "{q.qtype} IN {q.name}. udp 60 false 512" '
            f"{q.rcode} qr,rd,ra 120 0.000412s")


async def test_coredns_logs_followed_and_a_tunnel_recorded_as_a_p0_alert_with_evidence(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    source = CoreDnsSource(api, record, Classifier.load(None), backoff_first=0.05)
    running = RunningSource(source.run)
    await eventually(lambda: any(h.state == "connected" for h in running.health("dns")))
    connected = next(h for h in running.health("dns") if h.state == "connected")
    assert connected.detail == ("following 1 pod matching k8s-app=kube-dns in kube-system: "
                                "coredns-6d4b75cb6d-z9x8c" + NO_QUERIES)
    for q in tunnel_queries(12, START):
        moment = datetime.fromtimestamp((q.time_ns or 0) / NS, tz=UTC)
        state.append_log(*COREDNS, log_line(q), at=moment)
    await eventually(lambda: bool(running.of(AlertBatch)))
    await running.stop()

    (row,) = record.query("SELECT rule, severity, category, origin, source FROM alerts")
    assert tuple(row) == ("DNS tunneling or exfiltration suspected", "P0", "dns-exfiltration",
                          "coredns:kube-system/coredns-6d4b75cb6d-z9x8c", "warroom-dns")
    (evidence,) = record.query("SELECT name, content FROM evidence")
    assert evidence[0].startswith("dns-detection-exfil-cdn.net-")
    content = json.loads(evidence[1])
    assert content["detection"]["domain"] == "exfil-cdn.net"
    assert len(content["detection"]["sample"]) == 5
    batches = running.of(AlertBatch)
    assert [a.classification.severity for b in batches for a in b.alerts] == ["P0"]
    assert not running.health("dns")[-2].detail.endswith(NO_QUERIES)  # before "stopped"
