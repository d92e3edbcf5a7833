"""Server-side defaulting the real API server applies before validation.

Only what a user of the drill sees in `kubectl get -o yaml` or what the
runbook's checks read: NetworkPolicy policyTypes, Secret type, Service type,
a Namespace's name label and phase, Pod phase, Event count.
"""

from __future__ import annotations

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
        status = obj.setdefault("status", {})
        if isinstance(status, dict):
            status.setdefault("phase", "Pending")
    elif kind == "Event":
        obj.setdefault("count", 1)


def _cluster_ip(metadata: dict[str, Any]) -> str:
    key = f"{metadata.get('namespace')}/{metadata.get('name')}".encode()
    digest = hashlib.sha256(key).digest()
    return f"10.96.{digest[0]}.{max(digest[1], 1)}"
