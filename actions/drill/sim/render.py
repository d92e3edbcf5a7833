"""The drill cluster's objects and log lines, shaped as a real cluster writes them.

Pods as the kubelet reports them (owner references, container IDs, an Istio or
Linkerd sidecar), service-account token Secrets, v1 Events with the
timestamps `kubectl get events --sort-by=.lastTimestamp` needs, and CoreDNS
`log` plugin lines (formats.md section 6). Everything random comes from the
scenario's seeded generator or from a hash of names, so a scenario renders the
same way every time.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from datetime import UTC, datetime
from typing import Any

from actions.drill.apiserver.workloads import node_address
from actions.drill.scenario import PodSpec, Scenario, ServiceAccountSpec, ServiceSpec

ISTIO_PROXY_IMAGE = "docker.io/istio/proxyv2"
LINKERD_PROXY_IMAGE = "cr.l5d.io/linkerd/proxy:edge-26.8.3"


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hex(*parts: str, length: int = 64) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _uuid_text(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def container_id(pod: PodSpec) -> str:
    """The full containerd ID of the pod's app container; Falco shows its first 12 characters."""
    return stable_hex(pod.namespace, pod.name, pod.container)


def image_parts(image: str) -> tuple[str, str]:
    """(repository, tag) as Falco's container plugin splits them."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, "latest"
    return name, tag


def namespace_object(name: str) -> dict[str, Any]:
    labels = {"kubernetes.io/metadata.name": name}
    if name == "voicehive":
        labels["istio-injection"] = "enabled"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod_object(pod: PodSpec, scenario: Scenario, started: datetime) -> dict[str, Any]:
    stamp = timestamp(started)
    containers: list[dict[str, Any]] = [{"name": pod.container, "image": pod.image}]
    annotations: dict[str, str] = {}
    labels = dict(pod.labels)
    if pod.sidecar and scenario.mesh == "istio":
        containers.append(
            {"name": "istio-proxy", "image": f"{ISTIO_PROXY_IMAGE}:{scenario.istio_version}"}
        )
        annotations["kubectl.kubernetes.io/default-container"] = pod.container
        annotations["sidecar.istio.io/status"] = (
            '{"initContainers":["istio-init"],"containers":["istio-proxy"],'
            '"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy",'
            '"istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null}'
        )
        if pod.tls_mode_label:
            # Clients' sidecars send mTLS only to pods with this label (auto mTLS).
            labels.setdefault("security.istio.io/tlsMode", "istio")
        labels.setdefault("service.istio.io/canonical-name", pod.labels.get("app", pod.container))
        labels.setdefault(
            "service.istio.io/canonical-revision", pod.labels.get("version", "latest")
        )
    elif pod.sidecar and scenario.mesh == "linkerd":
        containers.insert(0, {"name": "linkerd-proxy", "image": LINKERD_PROXY_IMAGE})
        annotations["kubectl.kubernetes.io/default-container"] = pod.container
        annotations["linkerd.io/inject"] = "enabled"
        labels.setdefault("linkerd.io/control-plane-ns", "linkerd")
    statuses = []
    for container in containers:
        statuses.append(
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": f"{container['image'].rpartition(':')[0] or container['image']}@sha256:"
                + stable_hex("image", container["image"]),
                "containerID": "containerd://"
                + stable_hex(pod.namespace, pod.name, container["name"]),
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": stamp}},
            }
        )
    owner_uid = stable_hex("owner", pod.namespace, pod.owner_name, length=32)
    metadata: dict[str, Any] = {
        "name": pod.name,
        "namespace": pod.namespace,
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": pod.owner_kind,
                "name": pod.owner_name,
                "uid": _uuid_text(owner_uid),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "nodeName": pod.node,
            "serviceAccountName": pod.service_account,
            "containers": containers,
        },
        "status": {
            "phase": "Running",
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}],
            "hostIP": _host_ip(pod.node),
            "startTime": stamp,
            "qosClass": "Burstable",
            "conditions": [
                {"type": condition, "status": "True", "lastTransitionTime": stamp}
                for condition in (
                    "PodReadyToStartContainers",
                    "Initialized",
                    "Ready",
                    "ContainersReady",
                    "PodScheduled",
                )
            ],
            "containerStatuses": statuses,
        },
    }


def _host_ip(node: str) -> str:
    """The node's InternalIP, as its Node object reports it (an EC2 name says it)."""
    digest = hashlib.sha256(node.encode()).digest()
    return node_address(node, f"10.0.{digest[0] % 16}.{digest[1] % 250 + 2}")


def service_object(service: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "namespace": service.namespace},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": service.cluster_ip,
            "clusterIPs": [service.cluster_ip],
            "selector": dict(service.selector),
            "ports": [dict(port) for port in service.ports],
        },
    }


def service_account_objects(
    account: ServiceAccountSpec, rng: random.Random
) -> list[dict[str, Any]]:
    """The account and its token Secret (a drill token: random, never a real credential)."""
    token = "drill." + base64.urlsafe_b64encode(rng.randbytes(48)).decode().rstrip("=")
    uid = stable_hex("sa", account.namespace, account.name, length=32)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account.name, "namespace": account.namespace},
            "secrets": [{"name": account.token_secret}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": account.token_secret,
                "namespace": account.namespace,
                "annotations": {
                    "kubernetes.io/service-account.name": account.name,
                    "kubernetes.io/service-account.uid": _uuid_text(uid),
                },
            },
            "data": {
                "token": base64.b64encode(token.encode()).decode(),
                "namespace": base64.b64encode(account.namespace.encode()).decode(),
                "ca.crt": base64.b64encode(
                    b"-----BEGIN CERTIFICATE-----\ndrill\n-----END CERTIFICATE-----\n"
                ).decode(),
            },
        },
    ]


def event_object(
    spec: dict[str, Any],
    moment: datetime,
    rng: random.Random,
    involved_uid: str | None,
    node: str | None,
) -> dict[str, Any]:
    """A core v1 Event as kubelet/controllers write it (name `<object>.<16 hex>`)."""
    involved = spec["object"]
    namespace = str(spec.get("namespace", "voicehive"))
    stamp = timestamp(moment)
    component = str(spec.get("component", "kubelet"))
    involved_object: dict[str, Any] = {
        "kind": str(involved["kind"]),
        "name": str(involved["name"]),
        "namespace": namespace,
        "apiVersion": str(involved.get("apiVersion", "v1")),
    }
    if involved_uid:
        involved_object["uid"] = involved_uid
    source: dict[str, Any] = {"component": component}
    if node and component == "kubelet":
        source["host"] = node
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{involved['name']}.{rng.getrandbits(64):016x}",
            "namespace": namespace,
        },
        "involvedObject": involved_object,
        "reason": str(spec["reason"]),
        "message": str(spec["message"]),
        "source": source,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": int(spec.get("count", 1)),
        "type": str(spec.get("type", "Warning")),
        "reportingComponent": component,
        "reportingInstance": str(node or ""),
    }


def _wire_length(name: str) -> int:
    labels = [label for label in name.rstrip(".").split(".") if label]
    return sum(len(label) + 1 for label in labels) + 1


_PLACEHOLDER = re.compile(r"\{hex(\d+)\}")


def expand_query(template: str, rng: random.Random) -> str:
    """`{hex32}` in a query becomes 32 seeded hex digits (a tunnel's encoded payload)."""
    return _PLACEHOLDER.sub(
        lambda m: f"{rng.getrandbits(4 * int(m.group(1))):0{m.group(1)}x}", template
    )


def coredns_line(spec: dict[str, Any], client_ip: str, rng: random.Random) -> str:
    """One `log` plugin line in the default (common) format, `[INFO] ` prefixed, no timestamp."""
    query = expand_query(str(spec["query"]), rng)
    qtype = str(spec.get("type", "A"))
    proto = str(spec.get("proto", "udp"))
    rcode = str(spec.get("rcode", "NOERROR"))
    request_size = 12 + _wire_length(query) + 4
    answer = int(spec.get("answer_size", 0 if rcode != "NOERROR" else (16 if qtype == "A" else 90)))
    response_size = request_size + answer
    flags = "qr,aa,rd" if query.endswith(".cluster.local.") else "qr,rd,ra"
    duration = f"{rng.uniform(0.00008, 0.04):.9f}".rstrip("0")
    port = rng.randint(32768, 60999)
    query_id = rng.randint(1, 65535)
    return (
        f"[INFO] {client_ip}:{port} - {query_id} "
        f'"{qtype} IN {query} {proto} {request_size} false 512" '
        f"{rcode} {flags} {response_size} {duration}s"
    )


def coredns_startup_lines() -> list[str]:
    return [
        ".:53",
        "[INFO] plugin/reload: Running configuration SHA512 = "
        + stable_hex("corefile", length=128),
        "CoreDNS-1.11.3",
        "linux/amd64, go1.21.11, a6338e9",
    ]
