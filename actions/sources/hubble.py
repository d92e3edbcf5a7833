"""Cilium Hubble flows: `hubble observe -o json --follow` when the CLI is installed, or a file.

Each line is a protojson `GetFlowsResponse` (formats.md 4): `{"flow": {...},
"node_name": ..., "time": ...}` with proto field names in mixed case, zero
values omitted and uint64 as strings; `lost_events` responses are counted.
DROPPED verdicts and DNS queries are handed to the sink and kept as
evidence in the record (one JSON-lines item per interval); the DNS queries
also feed the DNS tunneling detector, like CoreDNS's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.falco.classify import Classifier
from actions.kube.streams import Backoff, LineSplitter
from actions.sources.coredns_log import DnsQuery
from actions.sources.dns_detector import DnsDetection, DnsTunnelDetector
from actions.sources.dns_follower import record_detections
from actions.sources.health import ABSENT, CONNECTED, RETRYING, STOPPED, HealthReporter
from actions.sources.recorder import session_incident
from store import Record
from store.incidents import SessionScope
from store.wording import counted

# Keys of flows already seen, kept to skip replays (16 bytes each, about 8 MB at the limit).
EXIT_GRACE = 5.0  # seconds a hubble process whose output ended gets to exit by itself
SEEN_LIMIT = 100_000
FLOWS_MEDIA_TYPE = "application/x-ndjson"
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass(frozen=True, slots=True)
class HubbleFlow:
    """A flow worth showing: a DROPPED verdict or a DNS query."""

    time: str
    verdict: str
    drop_reason: str | None
    source: str
    destination: str
    source_ip: str | None
    destination_ip: str | None
    destination_port: int | None
    protocol: str | None
    dns_query: str | None
    dns_qtype: str | None
    dns_rcode: str | None
    node: str | None
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "flow", "time": self.time, "verdict": self.verdict,
                "drop_reason": self.drop_reason, "source": self.source,
                "destination": self.destination, "source_ip": self.source_ip,
                "destination_ip": self.destination_ip,
                "destination_port": self.destination_port, "protocol": self.protocol,
                "dns_query": self.dns_query, "dns_qtype": self.dns_qtype,
                "dns_rcode": self.dns_rcode, "node": self.node}


def _endpoint(end: dict[str, Any], ip: str | None) -> str:
    if end.get("pod_name"):
        return f"{end.get('namespace', '')}/{end['pod_name']}"
    labels = end.get("labels") or []
    if any(str(label).startswith("reserved:world") for label in labels):
        return f"world ({ip})" if ip else "world"
    return ip or "unknown"


def parse_flow(line: bytes) -> HubbleFlow | str | None:
    """A DROPPED/DNS flow; "lost" for a lost_events line; None for anything else."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if "lost_events" in doc:
        return "lost"
    flow = doc.get("flow")
    if not isinstance(flow, dict):
        return None
    verdict = str(flow.get("verdict") or "VERDICT_UNKNOWN")
    dns = ((flow.get("l7") or {}).get("dns")) if isinstance(flow.get("l7"), dict) else None
    if verdict != "DROPPED" and not isinstance(dns, dict):
        return None
    ip = flow.get("IP") or {}
    l4 = flow.get("l4") or {}
    protocol = next(iter(l4), None) if isinstance(l4, dict) else None
    ports = l4.get(protocol) if protocol else None
    port = ports.get("destination_port") if isinstance(ports, dict) else None
    rcode = query = qtype = None
    if isinstance(dns, dict):
        query = str(dns.get("query") or "").rstrip(".") or None
        qtype = str((dns.get("qtypes") or ["A"])[0])
        code = dns.get("rcode") or 0
        rcode = RCODES.get(code, str(code)) if isinstance(code, int) else str(code)
    return HubbleFlow(
        time=str(flow.get("time") or doc.get("time") or ""), verdict=verdict,
        drop_reason=flow.get("drop_reason_desc"),
        source=_endpoint(flow.get("source") or {}, ip.get("source")),
        destination=_endpoint(flow.get("destination") or {}, ip.get("destination")),
        source_ip=ip.get("source"), destination_ip=ip.get("destination"),
        destination_port=int(port) if isinstance(port, int | str) and str(port).isdigit()
        else None,
        protocol=protocol, dns_query=query, dns_qtype=qtype, dns_rcode=rcode,
        node=flow.get("node_name") or doc.get("node_name"), raw=line.decode("utf-8", "replace"))


# The dropped and DNS flows are kept as one evidence item this often: every 10 s put 16
# "Evidence captured" entries on the timeline in under three minutes, burying the
# commander's own, and filled the report's evidence table.
EVIDENCE_SECONDS = 60.0


class HubbleSource:
    """`await HubbleSource(record, classifier, file=...).run(sink)`, or the CLI when installed."""

    SOURCE = "hubble"

    def __init__(self, record: Record, classifier: Classifier, *, file: Path | None = None,
                 command: list[str] | None = None, incident_id: str | None = None,
                 evidence_seconds: float = EVIDENCE_SECONDS, backoff: Backoff | None = None,
                 scope: SessionScope | None = None) -> None:
        self.record = record
        self.classifier = classifier
        self.file = file
        self.command = command
        self.incident_id = incident_id
        self.scope = scope or SessionScope()
        """Which open incidents are this session's: its evidence goes to the one there is."""
        self.evidence_seconds = evidence_seconds
        self.backoff = backoff or Backoff(1.0, 60.0)
        self.detector = DnsTunnelDetector()
        self.flows = 0
        self.lost = 0
        self.repeated = 0
        """Flows seen before (a replay after a reconnect, a file read again): skipped."""
        self._seen: dict[bytes, None] = {}
        self._kept: list[str] = []
        self._kept_since: float = time.monotonic()

    async def run(self, sink: Callable[[object], None]) -> None:
        health = HealthReporter(self.SOURCE, sink)
        try:
            await asyncio.to_thread(self._remember_kept_flows)
            if self.file is not None:
                health.report(CONNECTED, f"reading flows from {self.file}")
                await self._consume(self._file_lines(), sink)
                health.report(CONNECTED, f"read {counted(self.flows, 'flow')} from {self.file}")
                return
            command = self.command
            if command is None:
                hubble = shutil.which("hubble")
                if hubble is None:
                    health.report(ABSENT, "the hubble CLI is not installed")
                    return
                command = [hubble, "observe", "-o", "json", "--follow"]
            while True:
                process = await asyncio.create_subprocess_exec(
                    *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                # stderr carries node status messages: read it all along, so it never fills.
                errors = asyncio.create_task(self._last_error_line(process))
                health.report(CONNECTED, f"following {' '.join(command[:2])} -o json")
                try:
                    await self._consume(self._process_lines(process), sink)
                    # Its output ended: it is exiting. Give it a moment to say how,
                    # rather than killing it and reporting our own signal.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(process.wait(), EXIT_GRACE)
                finally:
                    if process.returncode is None:
                        process.kill()
                    await process.wait()
                last_error = await errors
                health.report(RETRYING, f"hubble exited with {process.returncode}: "
                                        f"{last_error or 'no message'}")
                await self.backoff.sleep()
        finally:
            await asyncio.to_thread(self._keep_evidence)
            if health.current is not None and health.current.state != ABSENT:
                repeated = f" ({self.repeated} seen before, skipped)" if self.repeated else ""
                health.report(STOPPED, f"stopped after {counted(self.flows, 'flow')}{repeated}")

    async def _file_lines(self) -> AsyncIterator[list[bytes]]:
        assert self.file is not None
        splitter = LineSplitter()
        with self.file.open("rb") as stream:
            while chunk := await asyncio.to_thread(stream.read, 256 * 1024):
                if lines := splitter.feed(chunk):
                    yield lines
        if splitter.partial:
            yield [splitter.partial]

    @staticmethod
    async def _process_lines(process: asyncio.subprocess.Process) -> AsyncIterator[list[bytes]]:
        assert process.stdout is not None
        splitter = LineSplitter()
        while chunk := await process.stdout.read(256 * 1024):
            if lines := splitter.feed(chunk):
                yield lines

    @staticmethod
    async def _last_error_line(process: asyncio.subprocess.Process) -> str:
        assert process.stderr is not None
        last = ""
        async for line in process.stderr:
            if line.strip():
                last = line.decode("utf-8", "replace").strip()[:200]
        return last

    async def _consume(self, batches: AsyncIterator[list[bytes]],
                       sink: Callable[[object], None]) -> None:
        async for lines in batches:
            found: list[DnsDetection] = []
            for line in lines:
                parsed = parse_flow(line)
                if parsed == "lost":
                    self.lost += 1
                if not isinstance(parsed, HubbleFlow):
                    continue
                if not self._first_time(parsed.raw.encode()):
                    self.repeated += 1
                    continue
                self.flows += 1
                self._kept.append(parsed.raw)
                sink(parsed)
                if parsed.dns_query and parsed.dns_rcode is not None:
                    found += self.detector.observe(self._as_query(parsed),
                                                   now_ns=time.time_ns())
            if found:
                sink(await asyncio.to_thread(
                    record_detections, self.record, self.classifier, found, hostname="hubble",
                    origin="hubble", incident_id=self.incident_id, scope=self.scope))
            if time.monotonic() - self._kept_since >= self.evidence_seconds:
                await asyncio.to_thread(self._keep_evidence)

    def _first_time(self, line: bytes) -> bool:
        """Whether this flow line is new: Hubble replays flows, and a file may be read again."""
        key = hashlib.sha256(line).digest()[:16]
        if key in self._seen:
            return False
        if len(self._seen) >= SEEN_LIMIT:
            del self._seen[next(iter(self._seen))]  # the oldest: replays are of recent flows
        self._seen[key] = None
        return True

    def _remember_kept_flows(self) -> None:
        """The flows already kept as evidence (by an earlier run) count as seen."""
        rows = self.record.query(
            "SELECT content FROM evidence WHERE source = ? AND media_type = ? ORDER BY seq",
            (self.SOURCE, FLOWS_MEDIA_TYPE))
        for (content,) in rows:
            for line in bytes(content).split(b"\n"):
                if line:
                    self._first_time(line)

    @staticmethod
    def _as_query(flow: HubbleFlow) -> DnsQuery:
        from actions.falco.times import NotATime, rfc3339_to_ns

        try:
            time_ns = rfc3339_to_ns(flow.time, []) if flow.time else None
        except NotATime:
            time_ns = None
        return DnsQuery(time_ns, flow.time or None, flow.source_ip or flow.source,
                        flow.dns_qtype or "A", flow.dns_query or "", flow.dns_rcode or "NOERROR")

    def _keep_evidence(self) -> None:
        """The DROPPED and DNS flows of the interval, as one evidence item."""
        kept, self._kept = self._kept, []
        self._kept_since = time.monotonic()
        if not kept:
            return
        incident = session_incident(self.record, self.incident_id, self.scope)
        first = json.loads(kept[0]).get("time", "") if kept[0].startswith("{") else ""
        self.record.evidence.add(
            incident, f"hubble-flows-{first or self.record.now()}.jsonl",
            ("\n".join(kept) + "\n").encode(), source=self.SOURCE,
            media_type=FLOWS_MEDIA_TYPE)
