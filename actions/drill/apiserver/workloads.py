"""What the workload controllers build: pods from templates, revisions, nodes, addresses.

Plain functions over dicts, no cluster access (controllers.py does the reading
and writing). Names follow the real controllers: a Deployment's ReplicaSet is
`<deployment>-<pod-template-hash>`, a ReplicaSet's or DaemonSet's pod
`<owner>-<5 characters>`, a StatefulSet's pod `<statefulset>-<ordinal>`, a
ControllerRevision `<owner>-<hash>`; random parts use apimachinery's
utilrand alphabet. The hash is a SHA-256 of the template, not the real FNV of
Go's struct printing: no client compares it with anything but itself.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import random
import re
from datetime import datetime
from typing import Any

from actions.policy.selectors import selector_matches

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# What a mesh's injection webhook adds to a pod; a replacement pod gets the same.
INJECTED_ANNOTATIONS = ("sidecar.istio.io/status", "kubectl.kubernetes.io/default-container",
                        "linkerd.io/inject", "linkerd.io/proxy-version")
INJECTED_LABEL_PREFIXES = ("security.istio.io/", "service.istio.io/", "linkerd.io/")
_NODE_NAME_ADDRESS = re.compile(r"ip-(\d+)-(\d+)-(\d+)-(\d+)(\.|$)")


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_hash(text: str, length: int = 10) -> str:
    """A stable name-safe hash of text, in the utilrand alphabet."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)


def template_hash(template: dict[str, Any]) -> str:
    return encode_hash(json.dumps(template, sort_keys=True))


def random_suffix(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(5))


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with controller: true, if any."""
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(reference, dict) and reference.get("controller"):
            return reference
    return None


def owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    reference = controller_of(obj)
    return reference is not None and reference.get("uid") == owner["metadata"]["uid"]


def claims_by_name(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    """Controlled by an owner of this kind and name under another uid: a pod the drill's
    starting cluster wrote before the owner object existed, which the owner adopts."""
    reference = controller_of(obj)
    return (reference is not None and reference.get("kind") == owner["kind"]
            and reference.get("name") == owner["metadata"]["name"]
            and reference.get("uid") != owner["metadata"]["uid"])


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def selects(selector: Any, obj: dict[str, Any]) -> bool:
    """A workload's label selector over an object (an empty or missing one selects nothing)."""
    if not isinstance(selector, dict) or not (selector.get("matchLabels")
                                              or selector.get("matchExpressions")):
        return False
    return selector_matches(selector, (obj.get("metadata") or {}).get("labels") or {})


def selector_text(selector: Any) -> str:
    """A LabelSelector as a string (`Scale.status.selector`, describe's Selector line)."""
    if not isinstance(selector, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for requirement in selector.get("matchExpressions") or []:
        operator = str(requirement.get("operator", ""))
        key = requirement.get("key")
        if operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            values = ",".join(sorted(requirement.get("values") or []))
            parts.append(f"{key} {operator.lower()} ({values})")
    return ",".join(parts)


def without_label(template: dict[str, Any], label: str) -> dict[str, Any]:
    shown = copy.deepcopy(template)
    labels = (shown.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(label, None)
    return shown


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """A ControllerRevision's data for a DaemonSet or StatefulSet: the patch kubectl's
    rollout undo applies as it is (polymorphichelpers/rollback.go)."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def template_of_revision(revision: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template")
                             or {})
    template.pop("$patch", None)
    return template


def node_address(name: str, fallback: str | None) -> str:
    """A node's InternalIP: an EC2 name ip-10-0-1-23... says it, else what its pods report."""
    match = _NODE_NAME_ADDRESS.match(name)
    if match:
        return ".".join(match.groups()[:4])
    return fallback or "10.0.0.10"


def pod_cidr(pod_ip: str | None, index: int) -> str:
    """A node's pod range: the /24 of a pod it runs, else one of 10.42.0.0/16 by index."""
    if pod_ip:
        try:
            return str(ipaddress.ip_network(f"{pod_ip}/24", strict=False))
        except ValueError:
            pass
    return f"10.42.{100 + index % 150}.0/24"


def allocate_ip(cidr: str, used: set[str]) -> str:
    """The lowest free address of the node's pod range (.1 is the bridge)."""
    network = ipaddress.ip_network(cidr, strict=False)
    for host in list(network.hosts())[1:]:
        if str(host) not in used:
            return str(host)
    raise RuntimeError(f"no free pod address left in {cidr}")


def node_object(name: str, address: str, cidr: str, now: datetime) -> dict[str, Any]:
    """A Node as a kubelet registers it: Ready, with its addresses and capacity."""
    stamp = timestamp(now)
    conditions = [
        {"type": kind, "status": "False", "reason": reason, "message": message,
         "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
        for kind, reason, message in (
            ("MemoryPressure", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))]
    conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "kubelet is posting ready status",
                       "lastHeartbeatTime": stamp, "lastTransitionTime": stamp})
    capacity = {"cpu": "4", "ephemeral-storage": "83873772Ki", "memory": "16069888Ki",
                "pods": "110"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64"}},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address},
                          {"type": "Hostname", "address": name}],
            "capacity": capacity,
            "allocatable": {**capacity, "cpu": "3920m", "memory": "15405312Ki"},
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": "amd64", "bootID": encode_hash("boot" + name, 32),
                         "containerRuntimeVersion": "containerd://2.1.4",
                         "kernelVersion": "6.12.40", "kubeProxyVersion": "",
                         "kubeletVersion": "v1.37.0", "machineID": encode_hash(name, 32),
                         "operatingSystem": "linux", "osImage": "Ubuntu 24.04.3 LTS",
                         "systemUUID": encode_hash("uuid" + name, 32)},
        },
    }


def pod_from_template(template: dict[str, Any], name: str, namespace: str,
                      owner: dict[str, Any], node: str, ip: str, host_ip: str,
                      now: datetime, model: dict[str, Any] | None,
                      istio_injection: str | None = None) -> dict[str, Any]:
    """A pod as the controller creates it and the kubelet then reports it, Running.

    model: a pod of the same owner (the one replaced, or a sibling); what the mesh's
    injection webhook added to it (sidecar containers, their annotations and labels) is
    added to the new pod too, as the webhook would. istio_injection: the proxy image
    istiod's webhook injects in this namespace (`istio-injection=enabled`), for a pod
    whose model had no sidecar (one started before injection was turned on).
    """
    template = copy.deepcopy(template)
    metadata = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = dict(metadata.get("labels") or {})
    annotations = dict(metadata.get("annotations") or {})
    containers = list(spec.get("containers") or [])
    if model is not None:
        model_meta = model.get("metadata") or {}
        for key, value in (model_meta.get("annotations") or {}).items():
            if key in INJECTED_ANNOTATIONS:
                annotations.setdefault(key, value)
        for key, value in (model_meta.get("labels") or {}).items():
            if key.startswith(INJECTED_LABEL_PREFIXES):
                labels.setdefault(key, value)
        own = {c.get("name") for c in containers}
        for position, container in enumerate((model.get("spec") or {}).get("containers") or []):
            if container.get("name") not in own and container.get("name") in (
                    "istio-proxy", "linkerd-proxy"):
                containers.insert(min(position, len(containers)), copy.deepcopy(container))
    if istio_injection and not any(c.get("name") == "istio-proxy" for c in containers):
        _inject_istio(containers, labels, annotations, istio_injection)
    spec["containers"] = containers
    spec["nodeName"] = node
    new_metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels,
                                    "ownerReferences": [owner_reference(owner)]}
    if annotations:
        new_metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": new_metadata, "spec": spec,
            "status": running_status(spec, namespace, name, ip, host_ip, now)}


def _inject_istio(containers: list[dict[str, Any]], labels: dict[str, str],
                  annotations: dict[str, str], image: str) -> None:
    """What istiod's sidecar injector adds to a pod (the parts a responder sees)."""
    app = next((str(c.get("name")) for c in containers), "")
    containers.append({"name": "istio-proxy", "image": image,
                       "args": ["proxy", "sidecar", "--domain",
                                "$(POD_NAMESPACE).svc.cluster.local"]})
    annotations.setdefault("kubectl.kubernetes.io/default-container", app)
    annotations.setdefault("sidecar.istio.io/status", json.dumps(
        {"initContainers": ["istio-init"], "containers": ["istio-proxy"],
         "volumes": ["workload-socket", "credential-socket", "workload-certs", "istio-envoy",
                     "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert"],
         "imagePullSecrets": None}, separators=(",", ":")))
    labels.setdefault("security.istio.io/tlsMode", "istio")
    labels.setdefault("service.istio.io/canonical-name", labels.get("app", app))
    labels.setdefault("service.istio.io/canonical-revision", labels.get("version", "latest"))


def running_status(spec: dict[str, Any], namespace: str, name: str, ip: str, host_ip: str,
                   now: datetime) -> dict[str, Any]:
    """What a kubelet reports for a pod it started: Running, Ready, every container up."""
    stamp = timestamp(now)
    statuses = [{
        "name": c.get("name"), "image": c.get("image"),
        "imageID": f"{str(c.get('image', '')).rpartition(':')[0]}@sha256:"
                   + hashlib.sha256(str(c.get("image")).encode()).hexdigest(),
        "containerID": "containerd://" + hashlib.sha256(
            f"{namespace}/{name}/{c.get('name')}".encode()).hexdigest(),
        "ready": True, "restartCount": 0, "started": True,
        "state": {"running": {"startedAt": stamp}}} for c in spec.get("containers") or []]
    return {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}], "startTime": stamp, "qosClass": "BestEffort",
        "conditions": [{"type": kind, "status": "True", "lastTransitionTime": stamp}
                       for kind in ("PodReadyToStartContainers", "Initialized", "Ready",
                                    "ContainersReady", "PodScheduled")],
        "containerStatuses": statuses}


def pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    conditions = status.get("conditions")
    if not conditions:
        return True  # a hand-written pod without conditions, as the drill's tests make them
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def condition(kind: str, reason: str, message: str, now: datetime,
              previous: list[dict[str, Any]] | None, *, status: str = "True") -> dict[str, Any]:
    """A workload condition, keeping its times while its status and reason stay the same."""
    stamp = timestamp(now)
    for old in previous or []:
        if old.get("type") == kind and old.get("status") == status \
                and old.get("reason") == reason:
            return {**old, "message": message}
    return {"type": kind, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}
