"""The drill cluster's realistic starting objects, for the tests' fixtures and the benchmarks.

A small voicehive cluster (namespaces, pods, services, service accounts, policies,
events, Falco's log), seeded into a `ClusterState`. It lives here, not in
tests/plugins/, so a benchmark can seed the same cluster without importing pytest.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.drill.apiserver.cluster_state import ClusterState, format_timestamp

SEED_TIME = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)  # in the past, so "since" works

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
