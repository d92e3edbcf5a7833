"""Fixtures: a running drill API server on a free port, seeded, with a kubeconfig.

- `drill_server`: a fresh seeded cluster per test (start-up takes milliseconds).
- `drill_server_shared`: one seeded cluster per module, for read-only tests.
- `drill_kubeconfig`: a kubeconfig for `drill_server` in tmp_path.
- `kubectl_proxy`: the real `kubectl proxy` for `drill_server`; its base URL (plain HTTP).
- `kubectl`: runs the real kubectl (`.venv/bin/kubectl`) against `drill_server` with
  HOME and KUBECONFIG pointing into tmp_path, so the developer's config is ignored.
- `seed_drill_cluster(state)`, `SEED_TIME`, `FALCO_ALERT`: the realistic starting objects,
  from bench/seeded_cluster.py (shared with the benchmarks, which never import pytest).
- `raw_request(server, method, url, ...)`: one HTTP request to a drill server with its
  credentials (the bearer token its kubeconfig holds), for tests below the client;
  `kubeconfig_client(path)`: those credentials and TLS context, from a drill's kubeconfig.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pytest
import urllib3
import yaml

from actions.drill.apiserver.cluster_state import ClusterState
from actions.drill.server import DrillServerThread

# Re-exported: the tests import them from here.
from bench.seeded_cluster import FALCO_ALERT as FALCO_ALERT
from bench.seeded_cluster import SEED_TIME as SEED_TIME
from bench.seeded_cluster import seed_drill_cluster as seed_drill_cluster

if TYPE_CHECKING:
    from kubernetes.aio.client import ApiClient as AsyncApiClient
    from kubernetes.client import ApiClient, V1NetworkPolicy, V1ObjectMeta

T = TypeVar("T")

KUBECTL = Path(sys.executable).parent / "kubectl"

# The runbook's emergency isolation, as its emergency-isolate.sh applies it.
RUNBOOK_ISOLATION_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: emergency-isolation-1764234000
  namespace: voicehive
  labels:
    emergency: "true"
    created-by: "incident-response"
spec:
  podSelector:
    matchLabels:
      app: orchestrator
  policyTypes:
  - Ingress
  - Egress
"""


@dataclass
class KubectlResult:
    """What one kubectl run printed and returned."""

    returncode: int
    stdout: str
    stderr: str


KubectlRunner = Callable[..., KubectlResult]


def raw_request(server: DrillServerThread, method: str, url: str, *,
                headers: dict[str, str] | None = None, **options: Any) -> urllib3.BaseHTTPResponse:
    """One request with the drill's credentials as kubectl sends them (a bearer token, over
    TLS checked against the drill's CA)."""
    with urllib3.PoolManager(ssl_context=server.client_ssl_context()) as pool:
        return pool.request(method, url, headers={**server.auth_headers, **(headers or {})},
                            **options)


def kubeconfig_client(path: Path) -> tuple[dict[str, str], ssl.SSLContext]:
    """The credentials a drill's kubeconfig holds: request headers, and TLS trusting its CA."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    ca_pem = base64.b64decode(document["clusters"][0]["cluster"]["certificate-authority-data"])
    headers = {"Authorization": f"Bearer {document['users'][0]['user']['token']}"}
    return headers, ssl.create_default_context(cadata=ca_pem.decode("ascii"))


def new_sync_client(kubeconfig: Path) -> ApiClient:
    """The official sync client for this kubeconfig, as a user's script makes it."""
    from kubernetes import config  # loaded by the tests that use it, not by every test

    # kubernetes.config is not annotated (kubernetes.client is).
    made: ApiClient = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
    return made


# The official client's models type every field optional; these read what a real server always
# sends, and fail the test where it is missing.


def present(value: T | None) -> T:
    """A field the server must have sent."""
    assert value is not None
    return value


class HasMetadata(Protocol):
    @property
    def metadata(self) -> V1ObjectMeta | None: ...


def meta(obj: HasMetadata) -> V1ObjectMeta:
    return present(obj.metadata)


def name_of(obj: HasMetadata) -> str:
    return present(meta(obj).name)


def except_list(policy: V1NetworkPolicy) -> list[str]:
    """`spec.egress[0].to[0].ipBlock.except` (external-api-segmentation's blocked addresses)."""
    egress = present(present(policy.spec).egress)
    block = present(present(egress[0].to)[0].ip_block)
    return present(block._except)


def as_object(answer: object) -> dict[str, Any]:
    """A custom-objects call's answer, which the client types `object`: one JSON object."""
    assert isinstance(answer, dict)
    return answer


async def new_async_client(kubeconfig: Path) -> AsyncApiClient:
    """The official asyncio client for this kubeconfig (kubernetes.aio), as warroom makes it."""
    from kubernetes.aio import config  # loaded by the tests that use it, not by every test

    # kubernetes.aio.config is not annotated (kubernetes.aio.client is).
    made: AsyncApiClient = await config.new_client_from_config(  # type: ignore[no-untyped-call]
        str(kubeconfig)
    )
    return made


def make_kubectl(kubeconfig: Path, home: Path) -> KubectlRunner:
    """A function running the real kubectl with only this kubeconfig in sight."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(home))

    def run(*args: str, input: str | None = None, timeout: float = 30) -> KubectlResult:
        completed = subprocess.run([str(KUBECTL), *args], env=env, input=input,
                                   capture_output=True, text=True, timeout=timeout, check=False)
        return KubectlResult(completed.returncode, completed.stdout, completed.stderr)

    return run


def _seeded() -> ClusterState:
    state = ClusterState()
    seed_drill_cluster(state)
    return state


@pytest.fixture(autouse=True)
def drill_control_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Short: a Unix socket's path is at most 107 bytes, and tmp_path's can be longer.
    folder = Path(tempfile.mkdtemp(prefix="wr-"))
    path = folder / "drill.sock"
    monkeypatch.setenv("WARROOM_DRILL_CONTROL", str(path))
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def drill_server() -> Iterator[DrillServerThread]:
    """A fresh seeded drill cluster serving on a free port."""
    with DrillServerThread(_seeded()) as server:
        yield server


@pytest.fixture(scope="module")
def drill_server_shared() -> Iterator[DrillServerThread]:
    """One seeded drill cluster for a whole module (tests must not depend on changes)."""
    with DrillServerThread(_seeded()) as server:
        yield server


@pytest.fixture
def drill_kubeconfig(drill_server: DrillServerThread, tmp_path: Path) -> Path:
    return drill_server.kubeconfig_path(tmp_path)


@pytest.fixture
def kubectl_proxy(drill_kubeconfig: Path, tmp_path: Path) -> Iterator[str]:
    """The real `kubectl proxy` for `drill_server`: its API on plain HTTP at 127.0.0.1, the
    kubeconfig's credentials added, as a user's script or browser reaches a cluster."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
    env.update(KUBECONFIG=str(drill_kubeconfig), HOME=str(tmp_path))
    process = subprocess.Popen([str(KUBECTL), "proxy", "--port=0"], env=env,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    banner = process.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
    try:
        assert banner.startswith("Starting to serve on "), banner
        yield "http://" + banner.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def kubectl(drill_kubeconfig: Path, tmp_path: Path) -> KubectlRunner:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return make_kubectl(drill_kubeconfig, home)
