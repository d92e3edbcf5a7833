"""Fixtures: a running drill API server on a free port, seeded, with a kubeconfig.

- `drill_server`: a fresh seeded cluster per test (start-up takes milliseconds).
- `drill_server_shared`: one seeded cluster per module, for read-only tests.
- `drill_kubeconfig`: a kubeconfig for `drill_server` in tmp_path.
- `kubectl_proxy`: the real `kubectl proxy` for `drill_server`; its base URL (plain HTTP).
- `kubectl`: runs the real kubectl (`.venv/bin/kubectl`) against `drill_server` with
  HOME and KUBECONFIG pointing into tmp_path, so the developer's config is ignored.
- `seed_drill_cluster(state)`: the realistic starting objects, for other fixtures.
- `raw_request(server, method, url, ...)`: one HTTP request to a drill server with its
  credentials (the bearer token its kubeconfig holds), for tests below the client;
  `kubeconfig_client(path)`: those credentials and TLS context, from a drill's kubeconfig.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pytest
import urllib3
import yaml

from actions.drill.apiserver.cluster_state import ClusterState, format_timestamp
from actions.drill.server import DrillServerThread

if TYPE_CHECKING:
    from kubernetes.aio.client import ApiClient as AsyncApiClient
    from kubernetes.client import ApiClient, V1NetworkPolicy, V1ObjectMeta

T = TypeVar("T")

KUBECTL = Path(sys.executable).parent / "kubectl"
SEED_TIME = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)  # in the past, so "since" works

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

FALCO_ALERT = {
    "hostname": "node-1",
    "output": "09:00:30.123456789: Notice Unexpected connection to K8s API Server from container "
              "(connection=10.42.0.12:51234->10.43.0.1:443 lport=443 rport=51234 "
              "fd_type=ipv4 fd_proto=tcp evt_type=connect user=root user_uid=0 "
              "user_loginuid=-1 process=curl proc_exepath=/usr/bin/curl parent=sh "
              "command=curl https://kubernetes.default terminal=0 "
              "container_id=5f3a1b2c3d4e container_name=orchestrator "
              "k8s_ns=voicehive k8s_pod_name=orchestrator-6f8d9c7b5d-k2x9p)",
    "priority": "Notice",
    "rule": "Contact K8S API Server From Container",
    "source": "syscall",
    "tags": ["T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"],
    "time": "2026-11-01T09:00:30.123456789Z",
    "output_fields": {"k8s.ns.name": "voicehive",
                      "k8s.pod.name": "orchestrator-6f8d9c7b5d-k2x9p",
                      "fd.name": "10.42.0.12:51234->10.43.0.1:443", "proc.name": "curl"},
}


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    return metadata


def _pod(name: str, namespace: str, labels: dict[str, str], container: str,
         image: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": container, "image": image}],
                     "serviceAccountName": labels.get("app", "default"),
                     "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.42.0.12"}}


def _event(name: str, namespace: str, kind: str, obj_name: str, event_type: str, reason: str,
           message: str, at: datetime, count: int = 1) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": _meta(name, namespace),
            "involvedObject": {"kind": kind, "name": obj_name, "namespace": namespace,
                               "apiVersion": "v1"},
            "type": event_type, "reason": reason, "message": message, "count": count,
            "firstTimestamp": format_timestamp(at - timedelta(minutes=count)),
            "lastTimestamp": format_timestamp(at),
            "source": {"component": "kubelet", "host": "node-1"}}


def seed_drill_cluster(state: ClusterState) -> None:
    """A small realistic voicehive cluster: namespaces, pods, services, SAs, policies, events."""
    for namespace in ("voicehive", "falco-system", "istio-system", "kube-system", "monitoring"):
        state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace)})
    pods = [
        ("orchestrator-6f8d9c7b5d-k2x9p", "voicehive", {"app": "orchestrator"}, "orchestrator"),
        ("tts-router-7c9d8e6f5a-q7w3e", "voicehive", {"app": "tts-router"}, "tts-router"),
        ("falco-x7k2p", "falco-system", {"app": "falco", "app.kubernetes.io/name": "falco"},
         "falco"),
        ("falco-m4n8q", "falco-system", {"app": "falco", "app.kubernetes.io/name": "falco"},
         "falco"),
        ("istiod-5d7f8c9b6d-h2j4k", "istio-system", {"app": "istiod"}, "discovery"),
        ("coredns-6d4b75cb6d-z9x8c", "kube-system", {"k8s-app": "kube-dns"}, "coredns"),
        ("prometheus-0", "monitoring", {"app": "prometheus"}, "prometheus"),
    ]
    for name, namespace, labels, container in pods:
        state.create(_pod(name, namespace, labels, container, f"registry.local/{container}:1"))
    services = [("orchestrator", "voicehive", 8080), ("tts-router", "voicehive", 8080),
                ("istiod", "istio-system", 15014), ("prometheus", "monitoring", 9090)]
    for name, namespace, port in services:
        state.create({"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace),
                      "spec": {"selector": {"app": name},
                               "ports": [{"name": "http-monitoring" if port == 15014 else "http",
                                          "port": port, "targetPort": port}]}})
    for account in ("orchestrator", "tts-router"):
        state.create({"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": _meta(account, "voicehive"),
                      "secrets": [{"name": f"{account}-token"}]})
        state.create({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": f"{account}-token", "namespace": "voicehive",
                                   "annotations": {
                                       "kubernetes.io/service-account.name": account}},
                      "type": "kubernetes.io/service-account-token",
                      "data": {"token": base64.b64encode(b"drill-token-not-real").decode()}})
    state.create({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta("external-api-segmentation", "voicehive"),
        "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}},
                 "policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                 "except": ["10.0.0.0/8",
                                                            "169.254.169.254/32"]}}],
                             "ports": [{"protocol": "TCP", "port": 443}]}]}})
    state.create({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                  "metadata": _meta("default", "voicehive"),
                  "spec": {"mtls": {"mode": "STRICT"}}})
    state.create({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                  "metadata": _meta("allow-orchestrator-to-tts", "voicehive"),
                  "spec": {"selector": {"matchLabels": {"app": "tts-router"}},
                           "action": "ALLOW",
                           "rules": [{"from": [{"source": {"principals": [
                               "cluster.local/ns/voicehive/sa/orchestrator"]}}]}]}})
    events = [
        ("orchestrator.1", "Pod", "orchestrator-6f8d9c7b5d-k2x9p", "Normal", "Started",
         "Started container orchestrator", 50),
        ("orchestrator.2", "Pod", "orchestrator-6f8d9c7b5d-k2x9p", "Warning", "Unhealthy",
         "Readiness probe failed: HTTP probe failed with statuscode: 503", 10),
        ("tts-router.1", "Pod", "tts-router-7c9d8e6f5a-q7w3e", "Warning", "BackOff",
         "Back-off restarting failed container tts-router", 30),
        ("external-api-segmentation.1", "NetworkPolicy", "external-api-segmentation",
         "Normal", "NetworkPolicyUpdated", "NetworkPolicy updated", 20),
    ]
    for name, kind, obj_name, event_type, reason, message, minutes_ago in events:
        event = _event(name, "voicehive", kind, obj_name, event_type, reason, message,
                       SEED_TIME - timedelta(minutes=minutes_ago))
        api_version = "v1" if kind == "Pod" else "networking.k8s.io/v1"
        involved = state.get(api_version, kind, "voicehive", obj_name)
        assert involved is not None
        # kubectl describe selects events by involvedObject.uid too.
        event["involvedObject"].update(apiVersion=api_version,
                                       uid=involved["metadata"]["uid"])
        state.create(event)
    for pod in ("falco-x7k2p", "falco-m4n8q"):
        state.append_log("falco-system", pod, "Falco initialized with configuration files:",
                         at=SEED_TIME - timedelta(hours=1))
    state.append_log("falco-system", "falco-x7k2p", json.dumps(FALCO_ALERT),
                     at=SEED_TIME - timedelta(seconds=30))


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
