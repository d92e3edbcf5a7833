"""The drill API server's door: only the kubeconfig's holder, only by its address, never a browser.

The drill cluster listens on 127.0.0.1, where every local process and every
web page the facilitator opens can reach it: a page's cross-origin `text/plain`
POST needs no CORS preflight, and DNS rebinding can even read the answers. So
every request must:

- name the server in `Host` as loopback (`127.0.0.1`, `localhost` or `[::1]`)
  or as the one address a team drill listens on (`--listen ADDRESS`), with the
  listening port: a rebound `evil.example` is refused;
- carry no `Origin` but the server's own, and no `Sec-Fetch-Site` other than
  `none`: a browser sends the page's origin, which a page on another origin
  cannot forge; kubectl sends none, and the official client's WebSocket (exec)
  sends the server's own (a real API server refuses origins outside
  `--cors-allowed-origins`, which is empty by default);
- carry the drill's bearer token (`Authorization: Bearer ...`), a random value
  per run that only the kubeconfig the drill writes (mode 0600) holds. As on
  a real API server, `/version`, `/healthz`, `/livez` and `/readyz` are
  readable without credentials (the `system:public-info-viewer` role), and a
  missing or wrong token is answered 401 `Unauthorized`.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from aiohttp import web

from . import status
from .responses import error_response

PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def is_loopback(host: str) -> bool:
    """Whether a host to listen on is a loopback name or address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(address: str) -> str:
    """An address as `Host` names it: an IPv6 address in brackets."""
    return f"[{address}]" if ":" in address else address


def refusal(request: web.Request, token: str,
            names: frozenset[str] = LOOPBACK_NAMES) -> web.Response | None:
    """The answer refusing `request`, or None when it may go on. `names`: what `Host` may
    call this server (the loopback names, and the address a team drill listens on)."""
    if not _names_this_server(request, request.headers.get("Host", ""), names):
        return error_response(status.error(
            403, "Forbidden",
            "the drill cluster answers only requests addressed to it "
            f"(Host {', '.join(sorted(names))} with its port)",
        ))  # fmt: skip
    origin = request.headers.get("Origin")
    if (origin is not None and not _is_own_origin(request, origin, names)) \
            or request.headers.get("Sec-Fetch-Site", "none") != "none":
        return error_response(status.error(
            403, "Forbidden",
            "the drill cluster refuses requests from web pages (an Origin header); "
            "use kubectl or the client with the drill's kubeconfig",
        ))  # fmt: skip
    if request.path in PUBLIC_PATHS and request.method in ("GET", "HEAD"):
        return None
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token}"
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        return error_response(status.error(401, "Unauthorized", "Unauthorized"))
    return None


def _is_own_origin(request: web.Request, origin: str, names: frozenset[str]) -> bool:
    """`https://<a name of this server>:<this port>`: what websocket-client derives from the URL."""
    scheme, _, host = origin.partition("://")
    return scheme == "https" and _names_this_server(request, host, names)


def _names_this_server(request: web.Request, host: str, names: frozenset[str]) -> bool:
    if host.endswith("]") or ":" not in host:  # no port: only right on the default port
        name, port = host, "80"
    else:
        name, _, port = host.rpartition(":")
    if name.lower() not in names:
        return False
    sockname: Any = request.transport.get_extra_info("sockname") if request.transport else None
    return sockname is not None and port == str(sockname[1])
