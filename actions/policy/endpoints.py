"""The two ends of a connection (a pod, or an address outside the cluster) and a verdict."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from actions.policy.selectors import labels_of

Obj = dict[str, Any]
ISTIO_PROXY = "istio-proxy"
LINKERD_PROXY = "linkerd-proxy"
TLS_MODE_LABEL = "security.istio.io/tlsMode"


@dataclass(frozen=True)
class Verdict:
    """Whether a connection gets through, why, and the objects that decided it.

    layer: "network" (a NetworkPolicy), "mesh-authz" (an authorization policy),
    "mtls" (PeerAuthentication), or "" when allowed.
    """

    allowed: bool
    why: str
    blocked_by: str | None = None
    layer: str = ""
    allowed_by: tuple[str, ...] = ()

    @classmethod
    def ok(cls, why: str = "allowed", allowed_by: tuple[str, ...] = ()) -> Verdict:
        return cls(True, why, allowed_by=allowed_by)

    @classmethod
    def denied(cls, why: str, blocked_by: str | None, layer: str) -> Verdict:
        return cls(False, why, blocked_by, layer)


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (its object as the API serves it), or an IP outside."""

    ip: str
    pod: Obj | None = None

    @classmethod
    def of_pod(cls, pod: Obj) -> Endpoint:
        return cls(ip=str((pod.get("status") or {}).get("podIP") or "0.0.0.0"), pod=pod)

    @property
    def namespace(self) -> str | None:
        if self.pod is None:
            return None
        return str((self.pod.get("metadata") or {}).get("namespace") or "default")

    @property
    def name(self) -> str:
        if self.pod is None:
            return self.ip
        return str((self.pod.get("metadata") or {}).get("name") or self.ip)

    @property
    def labels(self) -> dict[str, str]:
        return labels_of(self.pod) if self.pod else {}

    @property
    def annotations(self) -> dict[str, str]:
        return dict(((self.pod or {}).get("metadata") or {}).get("annotations") or {})

    @property
    def service_account(self) -> str:
        return str(((self.pod or {}).get("spec") or {}).get("serviceAccountName") or "default")

    @property
    def containers(self) -> list[Obj]:
        return list(((self.pod or {}).get("spec") or {}).get("containers") or [])

    def has_proxy(self, name: str) -> bool:
        return any(c.get("name") == name for c in self.containers)

    @property
    def has_sidecar(self) -> bool:
        """An Istio or a Linkerd proxy runs in the pod."""
        return self.has_proxy(ISTIO_PROXY) or self.has_proxy(LINKERD_PROXY)

    @property
    def istio_mtls_ready(self) -> bool:
        """Istio's auto mTLS sends mTLS only to endpoints labelled tlsMode=istio."""
        return self.has_proxy(ISTIO_PROXY) and self.labels.get(TLS_MODE_LABEL) == "istio"

    def named_port(self, name: str, protocol: str) -> int | None:
        """The number of the pod's container port with this name and protocol, if declared."""
        for container in self.containers:
            for port in container.get("ports") or []:
                if port.get("name") == name and (port.get("protocol") or "TCP") == protocol:
                    number = port.get("containerPort")
                    return int(number) if isinstance(number, int) else None
        return None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}" if self.pod is not None else self.ip


@lru_cache(maxsize=4096)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


def ip_in_cidr(ip: str, cidr: str) -> bool:
    address, network = _address(ip), _network(str(cidr))
    return (
        address is not None
        and network is not None
        and address.version == network.version
        and address in network
    )


def ip_in_block(ip: str, block: Obj) -> bool:
    """An ipBlock (or a Linkerd network) admits ip: inside cidr, outside every except range."""
    if not ip_in_cidr(ip, str(block.get("cidr"))):
        return False
    return not any(ip_in_cidr(ip, str(excluded)) for excluded in block.get("except") or [])


def glob_matches(pattern: str, value: str) -> bool:
    """Istio's and Linkerd's string match: exact, `*` (anything non-empty), `pre*` or `*suf`."""
    if not value:
        return False
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value
