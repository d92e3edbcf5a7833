"""What the drill cluster's network shows each tick: Hubble flows and the workloads' own logs.

Every tick (the player's, `TICK_SECONDS` of scenario time) each flow the
scenario wants running makes one connection: Hubble records it (FORWARDED, or
DROPPED with POLICY_DENIED where a NetworkPolicy refuses it, at the client's
egress or the server's ingress) and the client logs the flow's `log.ok` or
`log.failed` line. Connection attempts Falco reports and DNS queries are
recorded as they play (`hubble.py`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from actions.drill.scenario import PodSpec, Scenario
from actions.drill.sim import hubble
from actions.drill.sim.attack import AttackTracker
from actions.drill.sim.in_place import PodsInPlace
from actions.drill.sim.traffic import TrafficModel
from actions.policy import ClusterView, Endpoint, Verdict
from actions.policy.networkpolicy import network_verdict


class NetworkShown:
    """The engine's tick and Hubble records (a part of DrillEngine, which provides these)."""

    scenario: Scenario
    view: ClusterView
    traffic: TrafficModel
    attack: AttackTracker
    hubble: hubble.HubbleFeed
    clock: Any
    state: Any
    _rng: random.Random
    _live: Callable[[PodSpec], PodSpec | None]
    _endpoint: Callable[[PodSpec], Endpoint]
    in_place: PodsInPlace
    _dns_verdict: Callable[[Endpoint], tuple[Verdict, Endpoint | None]]
    _write_log: Callable[..., None]
    _report_ended: Callable[..., Any]

    def tick(self, position: float) -> None:
        """One scenario tick: every wanted flow connects once; logs and Hubble show how it went."""
        ended = self.attack.check(self.state)
        if ended:
            self._report_ended(ended, self.clock.now())
        lines = []
        for flow in self.scenario.flows:
            if not self.traffic.wanted(flow.id):
                continue
            source, dest = self.traffic.endpoints(flow)
            if source.pod is None or (flow.dest_pod and dest.pod is None):
                continue
            verdict = self.traffic.verdict(flow.id)
            network = network_verdict(self.view, source, dest, flow.port)
            lines.append(self._flow_line(source, dest, flow.port, "TCP", network, seed=flow.id))
            template = flow.log_ok if verdict.allowed else flow.log_failed
            spec = self.scenario.pod(flow.source_pod)
            live = self._live(spec) if spec else None
            if template and live is not None:
                target = flow.dest_host or (dest.name if dest.pod else dest.ip)
                self._write_log(
                    live,
                    template.replace("{dest}", f"{target}:{flow.port}").replace(
                        "{why}", verdict.why
                    ),
                )
        self.hubble.add(lines)

    def _flow_line(
        self,
        source: Endpoint,
        dest: Endpoint,
        port: int,
        protocol: str,
        verdict: Verdict,
        *,
        seed: str,
        source_port: int | None = None,
    ) -> str:
        egress_denied = (
            not verdict.allowed and source.pod is not None and verdict.why.startswith("Egress")
        )
        return hubble.flow_line(
            moment=self.clock.now(),
            source=source,
            dest=dest,
            source_port=source_port or self._rng.randint(32768, 60999),
            port=port,
            protocol=protocol,
            dropped=not verdict.allowed,
            direction="EGRESS"
            if egress_denied or verdict.allowed or dest.pod is None
            else "INGRESS",
            seed=f"{seed}/{self._rng.getrandbits(32)}",
        )

    def _record_attempt(
        self, client: Endpoint, ip: str, port: int, verdict: Verdict, source_port: int | None = None
    ) -> None:
        self.hubble.add(
            [
                self._flow_line(
                    client,
                    Endpoint(ip=ip),
                    port,
                    "TCP",
                    verdict,
                    seed=f"attempt/{ip}",
                    source_port=source_port,
                )
            ]
        )

    def _record_dns_drop(self, client: Endpoint) -> None:
        verdict, _ = self._dns_verdict(client)
        servers = self.in_place.dns_servers()
        if servers:
            server = Endpoint.of_pod(servers[0])
            self.hubble.add([self._flow_line(client, server, 53, "UDP", verdict, seed="dns")])

    def _record_dns(
        self, client: Endpoint, server: Endpoint, query: str, qtype: str, rcode: str
    ) -> None:
        source_port = self._rng.randint(32768, 60999)
        latency = self._rng.randint(80_000, 40_000_000)
        lines = [
            hubble.flow_line(
                moment=self.clock.now(),
                source=client,
                dest=server,
                source_port=source_port,
                port=53,
                protocol="UDP",
                dropped=False,
                dns=hubble.dns_l7(query, qtype, rcode, response=response, latency_ns=latency),
                seed=f"dns/{query}/{response}",
            )
            for response in (False, True)
        ]
        self.hubble.add(lines)
