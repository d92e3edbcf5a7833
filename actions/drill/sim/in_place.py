"""Which pods play the scenario's parts now: the drill follows the controllers.

A scenario names its pods (`orchestrator-6f8d9c7b5d-k2x9p`); the cluster's
controllers replace them. A deleted pod comes back under a new name and
address (`ControllerManager.on_pod_replaced` names the replacement); a rollout
(`kubectl set image`, `rollout restart`, `rollout undo`) deletes a workload's
pods and starts new ones without that hook. From then on the new pod is the
workload's pod: its traffic, its logs, the Falco fields that name it, its
Hubble flows and its exec answers. Which attack drivers still run in it is
`AttackTracker.runs_in`'s call (a process dies with its pod, an image carries
over).

System pods are found the way their users find them, never by the scenario's
names: Falco by its `app=falco` label on the node where the syscall happened
(it runs one pod per node, a DaemonSet), CoreDNS by `k8s-app=kube-dns`.
"""

from __future__ import annotations

import threading
from typing import Any

from actions.drill.scenario import Scenario
from actions.policy import ClusterView

Obj = dict[str, Any]
FALCO = ("falco-system", {"app": "falco"})
KUBE_DNS = ("kube-system", {"k8s-app": "kube-dns"})
APPS = "apps/v1"


def _alive(pod: Obj) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp")


def _name(pod: Obj) -> str:
    return str(pod["metadata"]["name"])


def _controller(obj: Obj) -> Obj | None:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(reference, dict) and reference.get("controller"):
            return reference
    return None


class PodsInPlace:
    """The pod running in place of each scenario pod, and the system pods, by label."""

    def __init__(self, scenario: Scenario, view: ClusterView) -> None:
        self._scenario = scenario
        self._view = view
        self._lock = threading.Lock()
        # (namespace, name) -> the name of the pod that took its place.
        self._successor: dict[tuple[str, str], str] = {}
        self._workloads: dict[tuple[str, str], tuple[str, str]] = {}
        self._replaced: list[tuple[Obj, Obj]] = []

    def start(self) -> None:
        """Note each scenario pod's workload (its top controller), once the cluster is seeded."""
        for spec in self._scenario.pods:
            pod = self._view.pod(spec.namespace, spec.name)
            workload = self.workload_of(pod) if pod is not None else None
            if workload is not None:
                self._workloads[(spec.namespace, spec.name)] = workload

    # ----- following the controllers --------------------------------------------------------

    def replaced(self, old: Obj, new: Obj) -> None:
        """The controllers' hook (on the deleting thread, inside the cluster's lock): note it."""
        key = (str(old["metadata"]["namespace"]), _name(old))
        with self._lock:
            if _name(new) != key[1]:
                for earlier, successor in list(self._successor.items()):
                    if successor == key[1] and earlier[0] == key[0]:
                        self._successor[earlier] = _name(new)
                self._successor[key] = _name(new)
            self._replaced.append((old, new))

    def take_replaced(self) -> list[tuple[Obj, Obj]]:
        """The replacements since the last call (for the engine's reaction report)."""
        with self._lock:
            found, self._replaced = self._replaced, []
        return found

    def pod(self, namespace: str | None, name: str) -> Obj | None:
        """The pod running in place of scenario pod `name`: itself, the replacement its
        controller started, or after a rollout a pod of the same workload; None when none
        runs (a bare pod deleted, a workload scaled to zero or deleted)."""
        found = self._view.pod(namespace, name)
        if found is not None and _alive(found):
            return found
        spec = self._scenario.pod(name)
        ns = namespace or (spec.namespace if spec is not None else "default")
        with self._lock:
            successor = self._successor.get((ns, name))
        if successor is not None:
            found = self._view.pod(ns, successor)
            if found is not None and _alive(found):
                return found
        workload = self._workloads.get((ns, name))
        if workload is None:
            return None
        found = self._free_pod_of(ns, name, workload)
        if found is not None:
            with self._lock:
                self._successor[(ns, name)] = _name(found)
        return found

    def _free_pod_of(self, namespace: str, name: str, workload: tuple[str, str]) -> Obj | None:
        """A live pod of the workload no other scenario pod is played by (a DaemonSet's on
        the same node), oldest first, so the choice is stable."""
        spec = self._scenario.pod(name)
        taken = set()
        for other in self._scenario.pods:
            if other.namespace == namespace and other.name != name:
                with self._lock:
                    taken.add(self._successor.get((namespace, other.name), other.name))
        candidates = [
            pod
            for pod in self._view.pods(namespace)
            if _alive(pod) and _name(pod) not in taken and self.workload_of(pod) == workload
        ]
        if workload[0] == "DaemonSet" and spec is not None:
            candidates = [
                p for p in candidates if (p.get("spec") or {}).get("nodeName") == spec.node
            ]
        candidates.sort(key=lambda p: (str(p["metadata"].get("creationTimestamp")), _name(p)))
        return candidates[0] if candidates else None

    def workload_of(self, pod: Obj) -> tuple[str, str] | None:
        """(kind, name) of the pod's top controller: a ReplicaSet's Deployment, else the
        ReplicaSet, DaemonSet or StatefulSet itself; None for a bare pod."""
        owner = _controller(pod)
        if owner is None:
            return None
        kind, name = str(owner.get("kind")), str(owner.get("name"))
        if kind == "ReplicaSet":
            namespace = pod["metadata"].get("namespace")
            replica_set = next(
                (
                    rs
                    for rs in self._view.objects(APPS, "ReplicaSet", namespace)
                    if rs["metadata"]["name"] == name
                ),
                None,
            )
            parent = _controller(replica_set) if replica_set is not None else None
            if parent is not None and parent.get("kind") == "Deployment":
                return "Deployment", str(parent.get("name"))
        return kind, name

    # ----- system pods, by label --------------------------------------------------------------

    def labelled(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        """The live pods of namespace carrying labels, by name."""
        found = [
            pod
            for pod in self._view.pods(namespace)
            if _alive(pod)
            and all(
                ((pod["metadata"].get("labels") or {}).get(k) == v) for k, v in labels.items()
            )
        ]
        return sorted(found, key=_name)

    def falco_on(self, node: str) -> Obj | None:
        """The Falco pod on `node` (Falco sees the syscalls of its own node only)."""
        return next(
            (p for p in self.labelled(*FALCO) if (p.get("spec") or {}).get("nodeName") == node),
            None,
        )

    def dns_servers(self) -> list[Obj]:
        """The kube-dns pods, as the kube-dns Service selects them."""
        return self.labelled(*KUBE_DNS)
