"""An alert's remote address and its pod's own, from Falco's fields (formats.md 1.2, 1.7)."""

from __future__ import annotations

from typing import Any

import pytest

from actions.falco.addresses import client_address, peers, split_tuple

POD_IP, REMOTE = "10.42.2.31", "203.0.113.66"


@pytest.mark.parametrize(
    ("fields", "remote", "local"),
    [
        # The alert: only the connection tuple and its ports (rules 4+, JSON form).
        ({"fd.name": f"{POD_IP}:32901->{REMOTE}:8443", "fd.lport": 32901, "fd.rport": 8443},
         (REMOTE,), (POD_IP,)),
        # The same in Falco's text form: `connection=... lport=... rport=...`.
        ({"connection": f"{POD_IP}:32901->{REMOTE}:8443", "lport": "32901", "rport": "8443"},
         (REMOTE,), (POD_IP,)),
        # Nothing says the direction: both sides stay candidates, the one outside 10/8 first.
        ({"fd.name": f"{POD_IP}:32901->{REMOTE}:8443"}, (REMOTE, POD_IP), ()),
        # An inbound connection: the process accepted it, the remote is the client.
        ({"fd.name": f"{REMOTE}:51000->{POD_IP}:8080", "evt.type": "accept"}, (REMOTE,),
         (POD_IP,)),
        # fd.rip is the remote by definition; fd.lip the pod's own.
        ({"fd.rip": REMOTE, "fd.lip": POD_IP, "fd.sip": POD_IP}, (REMOTE,), (POD_IP,)),
        # The Redirect rule prints fd.sip; the ports say the pod is the client.
        ({"fd.name": f"{POD_IP}:40000->{REMOTE}:443", "fd.sip": REMOTE, "fd.lport": 40000},
         (REMOTE,), (POD_IP,)),
        # IPv6 tuples have no brackets (libsinsp ipv6tuple_to_string).
        ({"fd.name": "fd00::5:40000->2001:db8::7:443", "fd.lport": 40000},
         ("2001:db8::7",), ("fd00::5",)),
        # <NA> fields and a missing tuple fall back to the addresses in the text.
        ({"fd.rip": "<NA>", "fd.name": "<NA>"}, (), ()),
    ],
)
def test_the_remote_is_never_the_pods_own_side(
    fields: dict[str, Any], remote: tuple[str, ...], local: tuple[str, ...]
) -> None:
    found = peers(fields)
    assert found.remote == remote
    assert found.local == local


def test_addresses_in_the_text_are_the_last_resort_outside_ones_first() -> None:
    found = peers({}, f"Outbound connection from {POD_IP} to {REMOTE} refused")
    assert found.remote == (REMOTE, POD_IP)
    assert found.how == "an address in the alert's text"


def test_a_dns_detection_names_its_client_and_no_remote() -> None:
    fields = {"domain": "cdn-telemetry.example.net", "client": "10.42.1.17", "queries": 40}
    output = "DNS tunneling or exfiltration suspected | domain=cdn-telemetry.example.net "
    assert peers(fields, output + "client=10.42.1.17").remote == ()  # never the asking pod
    assert client_address(fields) == "10.42.1.17"


@pytest.mark.parametrize("name", ["[/oops]:1->x:2", "10.0.0.1:80", "/var/run/docker.sock", 7])
def test_other_descriptors_are_not_tuples(name: Any) -> None:
    assert split_tuple(name) is None
