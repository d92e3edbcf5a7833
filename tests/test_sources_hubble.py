"""Hubble flows from a file and from the CLI's output: DROPPED and DNS shown and kept."""

from __future__ import annotations

import base64
import json
import random
import stat
import sys
from pathlib import Path

import pytest

from actions.falco.classify import Classifier
from actions.sources.batches import AlertBatch
from actions.sources.hubble import HubbleFlow, HubbleSource, parse_flow
from store import Record
from tests.sources_helpers import RunningSource, eventually

DROPPED = {"flow": {
    "time": "2026-11-01T09:00:01.123456789Z", "uuid": "7f0e", "verdict": "DROPPED",
    "drop_reason": 133, "IP": {"source": "10.42.0.12", "destination": "203.0.113.7",
                               "ipVersion": "IPv4"},
    "l4": {"TCP": {"source_port": 51234, "destination_port": 4444, "flags": {"SYN": True}}},
    "source": {"ID": 1234, "identity": 5678, "namespace": "voicehive",
               "labels": ["k8s:app=orchestrator"], "pod_name": "orchestrator-6f8d9c7b5d-k2x9p"},
    "destination": {"identity": 2, "labels": ["reserved:world"]},
    "Type": "L3_L4", "node_name": "kind-kind/kind-worker", "traffic_direction": "EGRESS",
    "drop_reason_desc": "POLICY_DENIED", "is_reply": False, "Summary": "TCP Flags: SYN"},
    "node_name": "kind-kind/kind-worker", "time": "2026-11-01T09:00:01.123456789Z"}
FORWARDED = {"flow": {"time": "2026-11-01T09:00:01.2Z", "verdict": "FORWARDED",
                      "l4": {"TCP": {"destination_port": 8080}}}}
LOST = {"lost_events": {"source": "HUBBLE_RING_BUFFER", "num_events_lost": "12", "cpu": 3},
        "node_name": "kind-kind/kind-worker", "time": "2026-11-01T09:00:02Z"}


def dns_flow(name: str, at: str, rcode: int = 0, qtype: str = "A") -> dict[str, object]:
    dns: dict[str, object] = {"query": name + ".", "observation_source": "proxy",
                              "qtypes": [qtype]}
    if rcode:
        dns["rcode"] = rcode
    return {"flow": {"time": at, "verdict": "FORWARDED", "IP": {"source": "10.42.0.66"},
                     "source": {"namespace": "voicehive", "pod_name": "asr-7d9"},
                     "destination": {}, "Type": "L7",
                     "l7": {"type": "RESPONSE", "latency_ns": "41234", "dns": dns}}}


def flows_file(folder: Path) -> Path:
    rng = random.Random(1)
    lines = [json.dumps(DROPPED), json.dumps(FORWARDED), json.dumps(LOST), "not json {",
             json.dumps(dns_flow("[red]api.example.com", "2026-11-01T09:00:03Z", rcode=3))]
    for index in range(8):
        payload = base64.b32encode(bytes(rng.getrandbits(8) for _ in range(40))).decode()
        lines.append(json.dumps(dns_flow(f"{payload.lower().rstrip('=')}.{index}.t.exfil.net",
                                         f"2026-11-01T09:00:{10 + index:02d}Z", qtype="TXT")))
    path = folder / "flows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_flow_fields_as_hubble_writes_them() -> None:
    flow = parse_flow(json.dumps(DROPPED).encode())
    assert isinstance(flow, HubbleFlow)
    assert (flow.verdict, flow.drop_reason, flow.destination_port) == (
        "DROPPED", "POLICY_DENIED", 4444)
    assert flow.source == "voicehive/orchestrator-6f8d9c7b5d-k2x9p"
    assert flow.destination == "world (203.0.113.7)"
    assert parse_flow(json.dumps(FORWARDED).encode()) is None
    assert parse_flow(json.dumps(LOST).encode()) == "lost"
    assert parse_flow(b"\x00garbage") is None


async def test_a_flows_file_dropped_and_dns_kept_as_evidence_and_a_tunnel_detected(
        record: Record, tmp_path: Path) -> None:
    source = HubbleSource(record, Classifier.load(None), file=flows_file(tmp_path))
    received: list[object] = []
    await source.run(received.append)
    flows = [item for item in received if isinstance(item, HubbleFlow)]
    assert [f.verdict for f in flows[:2]] == ["DROPPED", "FORWARDED"]
    assert flows[1].dns_query == "[red]api.example.com"  # data, never markup
    assert flows[1].dns_rcode == "NXDOMAIN"
    assert (len(flows), source.lost) == (10, 1)
    batches = [item for item in received if isinstance(item, AlertBatch)]
    assert [a.classification.category for b in batches for a in b.alerts] == ["dns-exfiltration"]
    names = [row[0] for row in record.query("SELECT name FROM evidence ORDER BY id")]
    assert names[0].startswith("dns-detection-exfil.net-")
    assert names[-1] == "hubble-flows-2026-11-01T09:00:01.123456789Z.jsonl"
    kept = record.evidence.content(
        record.query("SELECT id FROM evidence ORDER BY id DESC LIMIT 1")[0][0])
    assert kept.count(b"\n") == 10
    assert b"POLICY_DENIED" in kept


async def test_the_cli_absent_or_exiting_is_reported(record: Record, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no hubble here
    absent: list[object] = []
    await HubbleSource(record, Classifier.load(None)).run(absent.append)
    assert [(h.state, h.detail) for h in absent[:1]] == [  # type: ignore[attr-defined]
        ("absent", "the hubble CLI is not installed")]

    script = tmp_path / "hubble"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"sys.stdout.write(open({str(flows_file(tmp_path))!r}).read())\n"
                      "sys.stderr.write('level=info msg=ok\\nfailed to connect to relay\\n')\n"
                      "sys.exit(1)\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    source = HubbleSource(record, Classifier.load(None), command=[str(script), "observe"])
    running = RunningSource(source.run)
    await eventually(lambda: any(h.state == "retrying" for h in running.health("hubble")))
    await running.stop()
    assert running.of(HubbleFlow)
    retrying = next(h for h in running.health("hubble") if h.state == "retrying")
    assert retrying.detail == "hubble exited with 1: failed to connect to relay"


async def test_flows_seen_before_are_not_shown_or_kept_again(record: Record,
                                                            tmp_path: Path) -> None:
    path = flows_file(tmp_path)
    first: list[object] = []
    await HubbleSource(record, Classifier.load(None), file=path).run(first.append)
    kept_before = record.query("SELECT count(*) FROM evidence")[0][0]

    # The same file read again by a later run, with one new flow at its end.
    new = dns_flow("fresh.example.com", "2026-11-01T09:01:00Z")
    path.write_text(path.read_text() + json.dumps(new) + "\n")
    again = HubbleSource(record, Classifier.load(None), file=path)
    second: list[object] = []
    await again.run(second.append)
    assert [f.dns_query for f in second if isinstance(f, HubbleFlow)] == ["fresh.example.com"]
    assert again.repeated == 10
    assert not [item for item in second if isinstance(item, AlertBatch)]  # no detection twice
    added = record.query("SELECT content FROM evidence ORDER BY id")[kept_before:]
    assert [bytes(row[0]).count(b"\n") for row in added] == [1]
    assert "10 seen before, skipped" in second[-1].detail  # type: ignore[attr-defined]

    # A replay within one run (the CLI reconnecting) is skipped the same way.
    replay = tmp_path / "replay.jsonl"
    later = json.dumps(dns_flow("later.example.com", "2026-11-01T09:02:00Z"))
    replay.write_text(f"{later}\n{json.dumps(new)}\n{later}\n")
    third = HubbleSource(record, Classifier.load(None), file=replay)
    await third.run(lambda _item: None)
    assert (third.flows, third.repeated) == (1, 2)
