"""Which address of an alert is the remote peer and which is the pod's own, from Falco's fields.

Falco (falcosecurity/libs, userspace/libsinsp; formats.md 1.2, 1.7):
- `fd.rip` / `fd.lip`: the remote / local IP of the socket, relative to the process.
- `fd.sip` / `fd.cip`: the server / client IP of the connection, whoever the process is.
- `fd.name` of a TCP or UDP socket: `CLIENT_IP:PORT->SERVER_IP:PORT` (`ipv4tuple_to_string`,
  `ipv6tuple_to_string`: IPv6 without brackets); the network rules print it as
  `connection=` (text form) and most of them only that, with `lport=`/`rport=`
  (`fd.lport`/`fd.rport`, the local and remote ports).
- `evt.type`: `connect` means the process is the client, `accept`/`accept4` the server.
warroom's own detections: a DNS tunnel names its `client` (the pod that asked; there is
no remote address), a Hubble flow its `source_ip` and `destination_ip`.

So the remote is `fd.rip`; else the side of `fd.name` that is not the local one (by the
local or remote port, or the event type); else the server or client address by the same
direction. A local address is never a remote candidate. Where nothing tells the direction,
both sides stay candidates, those outside the usual cluster ranges first (block-ip then
checks each against the cluster's own addresses: `actions.runbook.alert_targets`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_CLIENT_EVENTS = frozenset({"connect"})
_SERVER_EVENTS = frozenset({"accept", "accept4"})
_IP_IN_TEXT = re.compile(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
NOT_AVAILABLE = "<NA>"


@dataclass(frozen=True, slots=True)
class Peers:
    """An alert's addresses: the pod's own, and the remote candidates, most certain first."""

    local: tuple[str, ...]
    remote: tuple[str, ...]
    how: str
    """Which field the first remote came from, in words."""


def _field(fields: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = fields.get(key)
        if value is not None and value != NOT_AVAILABLE and value != "":
            return value
    return None


def ip(value: Any) -> str | None:
    """`value` as an IP address in its normal form, or None."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def _port(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def split_tuple(name: Any) -> tuple[tuple[str, int | None], tuple[str, int | None]] | None:
    """`((client ip, port), (server ip, port))` from `fd.name`, or None for another fd."""
    if not isinstance(name, str) or "->" not in name:
        return None
    sides = []
    for side in name.split("->", 1):
        host, _, port = side.strip().rpartition(":")
        address = ip(host)
        if address is None:
            return None
        sides.append((address, _port(port)))
    return sides[0], sides[1]


def _process_is_client(fields: Mapping[str, Any], tuple_: Any) -> bool | None:
    """True when the process is the connection's client, False its server, None unknown."""
    lport = _port(_field(fields, "fd.lport", "lport"))
    rport = _port(_field(fields, "fd.rport", "rport"))
    if tuple_ is not None:
        (_, client_port), (_, server_port) = tuple_
        if lport is not None and lport != rport:
            if lport == client_port:
                return True
            if lport == server_port:
                return False
        if rport is not None and lport != rport:
            if rport == server_port:
                return True
            if rport == client_port:
                return False
    event = str(_field(fields, "evt.type", "evt_type") or "")
    if event in _CLIENT_EVENTS:
        return True
    if event in _SERVER_EVENTS:
        return False
    return None


# Where clusters put pods and Services (RFC 1918, shared address space RFC 6598, IPv6 ULA):
# without the cluster's own list, an address outside them is the likelier remote.
_INSIDE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _outside_first(addresses: list[str]) -> list[str]:
    def inside(address: str) -> bool:
        parsed = ipaddress.ip_address(address)
        return any(parsed.version == n.version and parsed in n for n in _INSIDE)

    return sorted(addresses, key=inside)


def peers(fields: Mapping[str, Any], output: str = "") -> Peers:
    """The alert's local addresses and its remote candidates (see the module docstring)."""
    tuple_ = split_tuple(_field(fields, "fd.name", "connection"))
    client = _process_is_client(fields, tuple_)
    local: list[str] = []
    found: list[tuple[str, str]] = []  # (address, from which field)
    for key in ("fd.lip", "client"):  # a DNS detection's client is the pod that asked
        if (own := ip(_field(fields, key))) is not None:
            local.append(own)
    if (rip := ip(_field(fields, "fd.rip"))) is not None:
        found.append((rip, "fd.rip, the remote address"))
    sip, cip = ip(_field(fields, "fd.sip")), ip(_field(fields, "fd.cip"))
    if tuple_ is not None:
        (client_ip, _), (server_ip, _) = tuple_
        sip, cip = sip or server_ip, cip or client_ip
    if client is True:
        local += [a for a in (cip,) if a]
        found += [(a, "the server side of the connection") for a in (sip,) if a]
    elif client is False:
        local += [a for a in (sip,) if a]
        found += [(a, "the client side of the connection") for a in (cip,) if a]
    else:
        unsure = _outside_first([a for a in (sip, cip) if a])
        found += [(a, "one side of the connection (direction unknown)") for a in unsure]
    for key, words in (("destination_ip", "the flow's destination"),
                       ("source_ip", "the flow's source")):  # fmt: skip
        if (address := ip(_field(fields, key))) is not None:
            found.append((address, words))
    if not found:
        text = [a for a in map(ip, _IP_IN_TEXT.findall(output)) if a]
        found += [(a, "an address in the alert's text") for a in _outside_first(text)]
    remote: list[str] = []
    how = ""
    for address, words in found:
        parsed = ipaddress.ip_address(address)
        if address in local or address in remote or parsed.is_loopback or parsed.is_unspecified:
            continue
        remote.append(address)
        how = how or words
    return Peers(tuple(dict.fromkeys(local)), tuple(remote), how)


def client_address(fields: Mapping[str, Any]) -> str | None:
    """The address of the pod an alert is about when it names no pod (a DNS detection's
    `client`, a flow's source), or the local side of a Falco connection."""
    for key in ("client", "fd.lip", "source_ip"):
        if (address := ip(_field(fields, key))) is not None:
            return address
    found = peers(fields)
    return found.local[0] if found.local else None
