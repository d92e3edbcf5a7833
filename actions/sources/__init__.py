"""Live sources: Falco, Kubernetes events, NetworkPolicies, DNS, mesh, traffic, Hubble.

Each source is an object with `async run(sink)` that runs until cancelled and
hands plain dataclasses to `sink`, a plain callable; nothing here imports
Textual, so the console, `warroom watch` and tests subscribe the same way.
`live.LiveSources` wires them all to the record and the incident detector.

| module | source / job | delivers |
|---|---|---|
| falco | FalcoFollower: every Falco pod's log into the record | AlertBatch, SourceHealth |
| podlogs, pods, cursor | following pods' logs: discovery, resume, no loss | (for falco, dns) |
| prepare, batches, rates | parsing in a thread or process; what a commit delivers; alerts/s | |
| events | WarningEvents: Warning events, each once | WarningEvent |
| policies, drift | PolicyWatcher: policies, drift from desired | PolicySnapshot, DriftReport |
| coredns, dns, dns_source | CoreDnsSource: DNS tunneling detection from query logs | AlertBatch |
| mesh | MeshMonitor: proxy sync, mTLS modes, authorization policies | MeshSnapshot |
| traffic | TrafficMonitor: Prometheus series, the mTLS-failure P0 | TrafficSample, AlertBatch |
| hubble | HubbleSource: DROPPED and DNS flows, kept as evidence | HubbleFlow, AlertBatch |
| detection | IncidentDetector: P0/P1 with no open incident proposes one | IncidentProposal |
| recorder | TimelineRecorder: health, events and drift on the timeline | |
| health | SourceHealth: connected, retrying, forbidden, absent, stopped | |
| kube, listwatch | raw GETs, watches and chunked bodies through the official client | |
"""
