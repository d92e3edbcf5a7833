"""The drill cluster's Cilium Hubble: flows as `hubble observe -o json` prints them.

Each line is one `GetFlowsResponse` as protojson with proto names
(formats.md 4, cilium/cilium api/v1/flow/flow.proto): `{"flow": {...},
"node_name": ..., "time": ...}`, keys in declaration order, zero values left
out, enums as strings. The drill records:

- per tick, one connection (TCP SYN) of every flow the scenario wants
  running: FORWARDED when the network lets it through, DROPPED with
  POLICY_DENIED where a NetworkPolicy stops it (at the client's egress or the
  server's ingress), as Cilium reports a policy drop;
- each DNS query a pod sends: its L7 REQUEST and RESPONSE when kube-dns gets
  it (the cluster has DNS visibility, as a CiliumNetworkPolicy with a `dns`
  rule gives), or a DROPPED UDP packet to port 53 when egress to kube-dns is
  denied;
- each connection attempt Falco reports (`connect` to an outside address):
  DROPPED when a policy denies it.

`HubbleFeed` keeps the lines (the newest `KEEP` of them) and appends them to
a file; the drill's `hubble` command (actions/drill/sim/hubble_cli.py) reads that
file the way the real CLI reads Hubble Relay.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actions.policy import Endpoint

CLUSTER_NAME = "voicehive-eu-west-1"
KEEP = 20_000
WORLD_IDENTITY = 2
DROP_POLICY_DENIED = 133
EVENT_DROP, EVENT_TRACE, EVENT_L7 = 1, 4, 129


def go_time(moment: datetime) -> str:
    """RFC 3339 in UTC with nanoseconds, as protojson writes a Timestamp."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 1000:09d}Z"


def _number(*parts: str, low: int, high: int) -> int:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return low + int.from_bytes(digest[:4], "big") % (high - low)


_ENDPOINTS: dict[tuple[str, str], dict[str, Any]] = {}


def endpoint_of(end: Endpoint) -> dict[str, Any]:
    """A flow's `source`/`destination`: a Cilium endpoint with its labels, or the world."""
    if end.pod is None:
        return {"identity": WORLD_IDENTITY, "labels": ["reserved:world"]}
    meta = end.pod.get("metadata") or {}
    key = (str(meta.get("uid") or end.describe()), str(meta.get("resourceVersion") or ""))
    cached = _ENDPOINTS.get(key)
    if cached is None:
        if len(_ENDPOINTS) > 4096:
            _ENDPOINTS.clear()
        cached = _ENDPOINTS[key] = _cilium_endpoint(end)
    return cached


def _cilium_endpoint(end: Endpoint) -> dict[str, Any]:
    assert end.pod is not None
    namespace = str(end.namespace)
    labels = [
        f"k8s:{key}={value}"
        for key, value in end.labels.items()
        if key not in ("pod-template-hash", "controller-revision-hash")
    ]
    labels += [
        f"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={namespace}",
        "k8s:io.cilium.k8s.policy.cluster=default",
        f"k8s:io.cilium.k8s.policy.serviceaccount={end.service_account}",
        f"k8s:io.kubernetes.pod.namespace={namespace}",
    ]
    owner = ((end.pod.get("metadata") or {}).get("ownerReferences") or [{}])[0]
    workload_name = str(owner.get("name") or end.labels.get("app") or end.name)
    workload_kind = str(owner.get("kind") or "Pod")
    if workload_kind == "ReplicaSet" and end.labels.get("pod-template-hash"):
        workload_name, workload_kind = workload_name.rsplit("-", 1)[0], "Deployment"
    identity_labels = "/".join(sorted(labels))
    return {
        "ID": _number(namespace, end.name, low=100, high=4000),
        "identity": _number(identity_labels, low=10000, high=65000),
        "namespace": namespace,
        "labels": sorted(labels),
        "pod_name": end.name,
        "workloads": [{"name": workload_name, "kind": workload_kind}],
    }


def _node(source: Endpoint, dest: Endpoint, direction: str) -> str:
    """The node that observed the flow: the client's for egress, the server's for ingress."""
    end = source if direction == "EGRESS" or dest.pod is None else dest
    if end.pod is None:
        end = dest
    node = str(((end.pod or {}).get("spec") or {}).get("nodeName") or "unknown")
    return f"{CLUSTER_NAME}/{node}"


def flow_line(
    *,
    moment: datetime,
    source: Endpoint,
    dest: Endpoint,
    source_port: int,
    port: int,
    protocol: str,
    dropped: bool,
    direction: str = "EGRESS",
    dns: dict[str, Any] | None = None,
    destination_names: list[str] | None = None,
    seed: str = "",
) -> str:
    """One `hubble observe -o json` line."""
    l4_key = protocol.upper()
    l4: dict[str, Any] = {"source_port": source_port, "destination_port": port}
    if l4_key == "TCP":
        l4["flags"] = {"SYN": True}
    version = "IPv6" if ":" in dest.ip else "IPv4"
    node = _node(source, dest, direction)
    flow: dict[str, Any] = {
        "time": go_time(moment),
        "uuid": str(
            uuid.UUID(hashlib.sha256(f"{seed}/{moment.isoformat()}".encode()).hexdigest()[:32])
        ),
        "verdict": "DROPPED" if dropped else "FORWARDED",
    }
    if dropped:
        flow["drop_reason"] = DROP_POLICY_DENIED
    flow["IP"] = {"source": source.ip, "destination": dest.ip, "ipVersion": version}
    flow["l4"] = {l4_key: l4}
    flow["source"] = endpoint_of(source)
    flow["destination"] = endpoint_of(dest)
    flow["Type"] = "L7" if dns is not None else "L3_L4"
    flow["node_name"] = node
    if destination_names:
        flow["destination_names"] = destination_names
    if dns is not None:
        flow["l7"] = dns
        flow["event_type"] = {"type": EVENT_L7}
    elif dropped:
        flow["event_type"] = {"type": EVENT_DROP, "sub_type": DROP_POLICY_DENIED}
    else:
        flow["event_type"] = {"type": EVENT_TRACE}
    flow["traffic_direction"] = direction
    if not dropped and dns is None:
        flow["trace_observation_point"] = "TO_STACK" if dest.pod is None else "TO_ENDPOINT"
    if dropped:
        flow["drop_reason_desc"] = "POLICY_DENIED"
    flow["is_reply"] = bool(dns is not None and dns.get("type") == "RESPONSE")
    flow["Summary"] = (
        f"DNS {dns.get('type', '').title()}"
        if dns is not None
        else ("TCP Flags: SYN" if l4_key == "TCP" else "UDP")
    )
    response = {"flow": flow, "node_name": node, "time": flow["time"]}
    # Go's json.Encoder escapes <, > and & (formats.md 4).
    text = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def dns_l7(
    query: str, qtype: str, rcode: str, *, response: bool, latency_ns: int
) -> dict[str, Any]:
    codes = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
    record: dict[str, Any] = {"query": query, "observation_source": "proxy"}
    if response:
        if codes.get(rcode, 0):
            record["rcode"] = codes[rcode]
        record["qtypes"] = [qtype]
        if rcode == "NOERROR":
            record["rrtypes"] = [qtype]
    else:
        record["qtypes"] = [qtype]
    layer7: dict[str, Any] = {"type": "RESPONSE" if response else "REQUEST"}
    if response:
        layer7["latency_ns"] = str(latency_ns)
    layer7["dns"] = record
    return layer7


class HubbleFeed:
    """The flows so far (bounded), appended to `path` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lines: deque[str] = deque(maxlen=KEEP)
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def add(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._lines.extend(lines)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write("".join(line + "\n" for line in lines))

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)
