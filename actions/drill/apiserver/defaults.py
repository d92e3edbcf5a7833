"""Server-side defaulting the real API server applies before validation.

What a user of the drill sees in `kubectl get -o yaml` and what kubectl relies
on (`kubectl debug` reads `spec.securityContext` without a nil check):
NetworkPolicy policyTypes, Secret type, Service type, a Namespace's name label
and phase, Pod and pod-template specs (k8s.io/kubernetes pkg/apis/core/v1/
defaults.go), the workloads' replicas, strategies and history limits
(pkg/apis/apps/v1/defaults.go), Event count.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from .resources import ResourceType


def apply_defaults(resource: ResourceType, obj: dict[str, Any]) -> None:
    """Fill defaulted fields in place."""
    kind = resource.kind if resource.builtin else ""
    if kind == "NetworkPolicy":
        spec = obj.get("spec")
        if isinstance(spec, dict) and not spec.get("policyTypes"):
            # k8s.io/kubernetes pkg/apis/networking/v1/defaults.go
            types = ["Ingress"]
            if spec.get("egress"):
                types.append("Egress")
            spec["policyTypes"] = types
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            if spec.get("clusterIP") is None:
                # A stable address in the default service range, as if allocated.
                spec["clusterIP"] = _cluster_ip(obj.get("metadata") or {})
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    elif kind == "Namespace":
        metadata = obj.setdefault("metadata", {})
        if isinstance(metadata, dict) and metadata.get("name"):
            labels = metadata.setdefault("labels", {})
            if isinstance(labels, dict):
                labels["kubernetes.io/metadata.name"] = metadata["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
    elif kind == "Pod":
        pod_spec_defaults(obj.get("spec"))
        status = obj.setdefault("status", {})
        if isinstance(status, dict):
            status.setdefault("phase", "Pending")
    elif kind in _WORKLOAD_DEFAULTS:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for key, value in _WORKLOAD_DEFAULTS[kind].items():
                spec.setdefault(key, copy.deepcopy(value))
            template = spec.get("template")
            if isinstance(template, dict):
                pod_spec_defaults(template.get("spec"))
    elif kind == "Event":
        obj.setdefault("count", 1)


_ROLLING = {"type": "RollingUpdate"}
_WORKLOAD_DEFAULTS: dict[str, dict[str, Any]] = {
    "Deployment": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                   "strategy": {**_ROLLING, "rollingUpdate": {"maxUnavailable": "25%",
                                                              "maxSurge": "25%"}}},
    "ReplicaSet": {"replicas": 1},
    "DaemonSet": {"revisionHistoryLimit": 10,
                  "updateStrategy": {**_ROLLING, "rollingUpdate": {"maxUnavailable": 1,
                                                                   "maxSurge": 0}}},
    "StatefulSet": {"replicas": 1, "revisionHistoryLimit": 10,
                    "podManagementPolicy": "OrderedReady",
                    "updateStrategy": {**_ROLLING, "rollingUpdate": {"partition": 0}},
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                                                             "whenScaled": "Retain"}},
}
_POD_SPEC_DEFAULTS: dict[str, Any] = {
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler",
    "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
}


def pod_spec_defaults(spec: Any) -> None:
    """SetDefaults_PodSpec and SetDefaults_Container, for a pod or a pod template's spec."""
    if not isinstance(spec, dict):
        return
    for key, value in _POD_SPEC_DEFAULTS.items():
        spec.setdefault(key, copy.deepcopy(value))
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            image = str(container.get("image") or "")
            tagged = ":" in image.rpartition("/")[2] and not image.endswith(":latest")
            container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image
                                 else "Always")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            if key != "ephemeralContainers":
                container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
            for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = container.get(probe_key)
                if isinstance(probe, dict):
                    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10),
                                       ("successThreshold", 1), ("failureThreshold", 3)):
                        probe.setdefault(key, value)
                    if isinstance(probe.get("httpGet"), dict):
                        probe["httpGet"].setdefault("scheme", "HTTP")


def _cluster_ip(metadata: dict[str, Any]) -> str:
    key = f"{metadata.get('namespace')}/{metadata.get('name')}".encode()
    digest = hashlib.sha256(key).digest()
    return f"10.96.{digest[0]}.{max(digest[1], 1)}"
