"""The drill cluster's API server on 127.0.0.1: async (DrillApiServer) or in a thread.

A team drill may listen on one other address, named explicitly (`warroom drill
--listen ADDRESS`, `beyond_loopback=True`), never by default: the same TLS and
bearer token, the address added to the certificate and to the `Host` names the
door accepts (`apiserver/guard.py`).

`DrillApiServer` runs on the caller's event loop. `DrillServerThread` runs one
in a background thread with its own loop, for synchronous tests and the CLI:

    with DrillServerThread() as server:
        server.state.create({...})
        config = server.kubeconfig_path(tmp_path)

Prometheus answers at `prometheus_url` (+ `/api/v1/query`), the API server's
service-proxy path for Service `monitoring/prometheus:9090`; that Service must
exist and `state.metrics_provider` be set (else 404 / 503, as a real cluster).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web

from .apiserver.app import build_app
from .apiserver.cluster_state import ClusterState
from .apiserver.guard import LOOPBACK_NAMES, host_name, is_loopback
from .kubeconfig import write_kubeconfig
from .tls import DrillCertificates, make_certificates

PROMETHEUS_PROXY_PATH = "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy"
SYNCZ_PROXY_PATH = "/api/v1/namespaces/istio-system/services/istiod:15014/proxy/debug/syncz"
# Open watches and log follows are told to end on stop; this bounds the wait for the rest.
SHUTDOWN_TIMEOUT = 2.0


@dataclass(frozen=True)
class DrillCredentials:
    """What a client needs to be let in: the bearer token and the CA that signed the server."""

    token: str
    certificates: DrillCertificates

    @classmethod
    def new(cls, addresses: tuple[str, ...] = ()) -> DrillCredentials:
        """Fresh ones: a random token, a new CA and a server certificate (for the loopback
        names and `addresses`)."""
        return cls(secrets.token_urlsafe(32), make_certificates(addresses=addresses))


def listen_address(text: str) -> str:
    """The one address a team drill listens on, checked: an IP address of this machine's
    networks, not a wildcard (the certificate and the kubeconfig name the address the
    participants reach). Raises ValueError saying why not."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        raise ValueError(f"--listen takes an IP address (e.g. 192.168.1.20), not {text!r}") \
            from None
    if address.is_unspecified:
        raise ValueError(f"--listen {text} would listen on every network: name the one "
                         "address the participants reach")
    if address.is_multicast or (isinstance(address, ipaddress.IPv6Address) and address.scope_id):
        raise ValueError(f"--listen {text}: not an address a server listens on")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError as error:  # EADDRNOTAVAIL: said as "[Errno 99]" after the drill started
            raise ValueError(f"--listen {text}: no network of this machine has that address "
                             f"({error.strerror}); `ip -brief address` lists them") from None
    return str(address)


class DrillApiServer:
    """A Kubernetes API server over one ClusterState, bound to host:port (0 = a free port).

    It listens on loopback only (unless `beyond_loopback`: a team drill's `--listen`),
    serves HTTPS with a certificate from a CA made for it (`tls.py`: kubectl sends
    credentials only over TLS), and every request needs `token` (a new random one per
    server); the kubeconfig it writes carries both the CA and the token: see
    `apiserver/guard.py`.
    """

    def __init__(self, state: ClusterState, *, host: str = "127.0.0.1", port: int = 0,
                 credentials: DrillCredentials | None = None,
                 beyond_loopback: bool = False) -> None:
        if beyond_loopback:
            host = listen_address(host)
        elif not is_loopback(host):
            raise ValueError(f"the drill API server listens on loopback only, not {host!r}")
        self.state = state
        self.host = host
        # The names `Host` may give: the loopback ones, and the address it listens on.
        self.names = LOOPBACK_NAMES | {host_name(host).lower()}
        # Passed in to restart a server its clients still trust, as a real one keeps its own.
        self.credentials = credentials or DrillCredentials.new(
            () if host == "localhost" else (host,)
        )
        self.token = self.credentials.token
        self.certificates = self.credentials.certificates
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            raise RuntimeError("the drill API server is already running")
        # handler_cancellation: a client that goes away cancels its watch or log follow.
        runner = web.AppRunner(build_app(self.state, token=self.token, names=self.names),
                               handler_cancellation=True,
                               shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
        await runner.setup()
        # Bind our own socket so port 0 reports the port it got, through public API only.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            await web.SockSite(runner, sock,
                               ssl_context=self.certificates.server_context()).start()
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; open streams are ended."""
        runner, self._runner = self._runner, None
        self._port = None
        if runner is not None:
            await runner.cleanup()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the drill API server has not been started")
        return self._port

    @property
    def url(self) -> str:
        """`https://127.0.0.1:PORT` (or the address a team drill listens on)."""
        return f"https://{host_name(self.host)}:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        """What a request needs to be let in (the kubeconfig's credentials)."""
        return {"Authorization": f"Bearer {self.token}"}

    def client_ssl_context(self) -> ssl.SSLContext:
        """A TLS context trusting this server's CA, for clients below the official one."""
        return self.certificates.client_context()

    @property
    def prometheus_url(self) -> str:
        """Prometheus' base URL: append `/api/v1/query` or `/api/v1/query_range`."""
        return self.url + PROMETHEUS_PROXY_PATH

    @property
    def syncz_url(self) -> str:
        """istiod's /debug/syncz through the service proxy."""
        return self.url + SYNCZ_PROXY_PATH

    def write_kubeconfig(self, path: Path, *, context: str = "warroom-drill",
                         namespace: str = "voicehive") -> Path:
        return write_kubeconfig(path, self.url, token=self.token,
                                ca_pem=self.certificates.ca_pem, context=context,
                                namespace=namespace)


class DrillServerThread:
    """A DrillApiServer on its own event loop in a daemon thread; a context manager."""

    def __init__(self, state: ClusterState | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, credentials: DrillCredentials | None = None,
                 beyond_loopback: bool = False) -> None:
        self.state = state if state is not None else ClusterState()
        self.server = DrillApiServer(self.state, host=host, port=port, credentials=credentials,
                                     beyond_loopback=beyond_loopback)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DrillServerThread:
        """Start the thread and wait until the server listens (errors are re-raised here)."""
        if self._thread is not None:
            raise RuntimeError("the drill server thread is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.close()

        thread = threading.Thread(target=run, name="warroom-drill-apiserver", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop the server and join the thread."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def auth_headers(self) -> dict[str, str]:
        return self.server.auth_headers

    @property
    def ca_pem(self) -> bytes:
        return self.server.certificates.ca_pem

    @property
    def credentials(self) -> DrillCredentials:
        return self.server.credentials

    def client_ssl_context(self) -> ssl.SSLContext:
        return self.server.client_ssl_context()

    @property
    def prometheus_url(self) -> str:
        return self.server.prometheus_url

    @property
    def syncz_url(self) -> str:
        return self.server.syncz_url

    def kubeconfig_path(self, directory: Path, *, context: str = "warroom-drill",
                        namespace: str = "voicehive") -> Path:
        """Write `kubeconfig` into directory and return its path."""
        return self.server.write_kubeconfig(Path(directory) / "kubeconfig", context=context,
                                            namespace=namespace)

    def __enter__(self) -> DrillServerThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
