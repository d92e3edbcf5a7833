"""A whole connection (network, then the mesh) and the questions the runbook's previews ask.

`connection_verdict` is what the drill's traffic obeys. The helpers below
answer "after this change, what can still get through?": which outside
addresses a pod can still reach and by which policy, which callers can still
reach a service, what keeps a pod from being cut off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actions.policy.endpoints import Endpoint, Obj, Verdict, ip_in_block
from actions.policy.istio import istio_verdict
from actions.policy.linkerd import linkerd_verdict
from actions.policy.networkpolicy import isolation, name_of, network_verdict, selecting
from actions.policy.selectors import labels_of, selector_matches
from actions.policy.view import ClusterView


def connection_verdict(
    view: ClusterView,
    mesh: str,
    source: Endpoint,
    dest: Endpoint,
    port: int,
    protocol: str = "TCP",
    app_protocol: str = "tcp",
) -> Verdict:
    """Everything between a source and a destination: NetworkPolicies first, then the mesh.

    protocol is the L4 protocol (TCP, UDP, SCTP); app_protocol what the mesh sees
    (tcp, http, grpc).
    """
    verdict = network_verdict(view, source, dest, port, protocol)
    if not verdict.allowed or dest.pod is None or protocol.upper() != "TCP":
        return verdict
    if mesh == "istio":
        return istio_verdict(view, source, dest, port, app_protocol)
    if mesh == "linkerd":
        return linkerd_verdict(view, source, dest, port)
    return verdict


@dataclass(frozen=True)
class EgressPath:
    """A way out to an address: the policy and rule ports that allow it, or no policy at all."""

    pod: str
    policy: str | None  # None: no egress policy selects the pod, so everything is allowed
    ports: str  # "any port" or "TCP 443, TCP 8443"

    def describe(self) -> str:
        if self.policy is None:
            return f"{self.pod}: no egress NetworkPolicy selects it (any port)"
        return f"{self.pod}: NetworkPolicy {self.policy} ({self.ports})"


def _ports_text(rule: Obj) -> str:
    ports = rule.get("ports")
    if not ports:
        return "any port"
    parts = []
    for entry in ports:
        protocol = str(entry.get("protocol") or "TCP")
        port = entry.get("port")
        end = entry.get("endPort")
        if port is None:
            parts.append(f"{protocol} any port")
        elif end:
            parts.append(f"{protocol} {port}-{end}")
        else:
            parts.append(f"{protocol} {port}")
    return ", ".join(parts)


def egress_paths(view: ClusterView, pods: Iterable[Obj], ip: str) -> list[EgressPath]:
    """Every way these pods can still send to `ip` (an address outside the cluster), any port."""
    found = []
    for pod in pods:
        name = str(pod["metadata"]["name"])
        policies = selecting(
            view.network_policies(str(pod["metadata"]["namespace"])), pod, "Egress"
        )
        if not policies:
            found.append(EgressPath(name, None, "any port"))
            continue
        for policy in policies:
            for rule in (policy.get("spec") or {}).get("egress") or []:
                peers = rule.get("to")
                if not peers or any(
                    "ipBlock" in peer and ip_in_block(ip, peer.get("ipBlock") or {})
                    for peer in peers
                    if isinstance(peer, dict)
                ):
                    found.append(EgressPath(name, name_of(policy), _ports_text(rule)))
    return found


def still_open(view: ClusterView, pods: Iterable[Obj]) -> list[str]:
    """For pods meant to be cut off: each policy that still allows them something, and how."""
    notes = []
    for pod in pods:
        name = str(pod["metadata"]["name"])
        for direction, (chosen, allowing) in isolation(view, pod).items():
            if not chosen:
                notes.append(f"{name}: no NetworkPolicy isolates its {direction.lower()}")
            for policy in allowing:
                notes.append(f"{name}: NetworkPolicy {policy} still allows {direction.lower()}")
    return notes


def pods_selected(view: ClusterView, namespace: str, selector: Obj | None) -> list[Obj]:
    return [p for p in view.pods(namespace) if selector_matches(selector, labels_of(p))]


def callers_getting_through(
    view: ClusterView,
    mesh: str,
    servers: Iterable[Obj],
    ports: Iterable[int],
    clients: Iterable[Obj],
) -> list[tuple[str, str, int, Verdict]]:
    """(client, server, port, verdict) for each client that still gets through to a server."""
    through = []
    ports = list(ports)
    clients = list(clients)
    for server in servers:
        server_end = Endpoint.of_pod(server)
        for client in clients:
            if client is server:
                continue
            client_end = Endpoint.of_pod(client)
            for port in ports:
                verdict = connection_verdict(view, mesh, client_end, server_end, port)
                if verdict.allowed:
                    through.append((client_end.name, server_end.name, port, verdict))
    return through
