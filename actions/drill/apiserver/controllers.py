"""The drill cluster's controller manager: what kube-controller-manager and the kubelets do.

It listens to the cluster's change feed and keeps the objects a responder looks
at consistent, as a real cluster does within seconds (the drill does it at once):

- node registration: a pod on a node that has no Node object registers it (kubelet);
- scheduler and kubelet: a pod created Pending (`kubectl run`, `kubectl debug node/...`
  or `--copy-to`) is placed on a node, given an address and reported Running;
- root-ca-cert-publisher: `kube-root-ca.crt` in every namespace;
- Deployment -> ReplicaSets (one per pod template, `deployment.kubernetes.io/revision`
  annotations, old ones scaled to 0, history pruned to revisionHistoryLimit) -> pods;
- DaemonSet: one pod per node; StatefulSet: pods `<name>-<ordinal>`; both record their
  templates as ControllerRevisions, which `kubectl rollout history/undo` read;
- a controlled pod that is deleted is replaced under a new name (a StatefulSet's under
  the same name), so deleting a pod is not containment;
- Endpoints and EndpointSlices for every Service with a selector (endpoints.py).

Scenario hook: `on_pod_replaced(callback)` calls `callback(old_pod, new_pod)` right after
a controller replaced a deleted pod, on the thread that deleted it, inside the cluster's
lock: the scenario engine decides there whether the attack survives in the new pod.

Objects the starting cluster wrote before their owner (a scenario's pods, then its
Deployment) are adopted: a pod whose controller reference names its owner's kind and name
is taken over, and the first ReplicaSet or revision keeps the hash its pods carry.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import endpoints
from . import workloads as wl

if TYPE_CHECKING:
    from .cluster_state import ClusterState

LOG = logging.getLogger(__name__)
PodReplaced = Callable[[dict[str, Any], dict[str, Any]], None]
APPS = "apps/v1"
ROOT_CA = "-----BEGIN CERTIFICATE-----\ndrill cluster CA (not a real certificate)\n" \
          "-----END CERTIFICATE-----\n"


class ControllerManager:
    """Controllers over one ClusterState; created by it and subscribed to its changes."""

    def __init__(self, state: ClusterState, *, seed: int = 0) -> None:
        self._state = state
        self._rng = random.Random(seed)
        self._replaced: list[PodReplaced] = []
        self._events = 0
        state.subscribe(self._on_change)

    def on_pod_replaced(self, callback: PodReplaced) -> Callable[[], None]:
        """Call callback(old_pod, new_pod) after every replacement; returns an unsubscribe."""
        self._replaced.append(callback)

        def unsubscribe() -> None:
            if callback in self._replaced:
                self._replaced.remove(callback)

        return unsubscribe

    # ----- dispatch -----------------------------------------------------------------------

    def _on_change(self, event_type: str, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        handler = getattr(self, f"_on_{str(kind).lower()}", None)
        if handler is None:
            return
        try:
            handler(event_type, obj)
        except Exception:  # a controller bug must not fail the write that triggered it
            LOG.exception("drill controller for %s %s failed", kind,
                          obj.get("metadata", {}).get("name"))

    def _on_namespace(self, event_type: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if event_type == "ADDED" and self._get("v1", "ConfigMap", name,
                                               "kube-root-ca.crt") is None:
            self._create({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                                             "annotations": {
                                                 "kubernetes.io/description": (
                                                     "Contains a CA bundle that can be used to "
                                                     "verify the kube-apiserver when using "
                                                     "internal endpoints such as the internal "
                                                     "service IP or kubernetes.default.svc. "
                                                     "No other usage is guaranteed across "
                                                     "distributions of Kubernetes "
                                                     "clusters.")}},
                                "data": {"ca.crt": ROOT_CA}})

    def _on_pod(self, event_type: str, pod: dict[str, Any]) -> None:
        namespace = pod["metadata"]["namespace"]
        if event_type == "ADDED" and _waiting_to_start(pod):
            self._start(pod)
            return  # the start is a change of its own, handled when it arrives
        if event_type != "DELETED":
            self._register_node(pod)
        endpoints.sync_namespace(self._state, namespace)
        owner = wl.controller_of(pod)
        if owner is None:
            return
        kind, name = owner.get("kind"), str(owner.get("name"))
        replaced = pod if event_type == "DELETED" else None
        if kind == "ReplicaSet":
            self._replica_set(namespace, name, replaced)
        elif kind == "DaemonSet":
            self._daemon_set(namespace, name, replaced)
        elif kind == "StatefulSet":
            self._stateful_set(namespace, name, replaced)

    def _on_service(self, event_type: str, service: dict[str, Any]) -> None:
        endpoints.sync_service(self._state, service["metadata"]["namespace"],
                               service["metadata"]["name"])

    def _on_node(self, event_type: str, node: dict[str, Any]) -> None:
        for daemon_set in self._state.peek(APPS, "DaemonSet"):
            self._daemon_set(daemon_set["metadata"]["namespace"],
                             daemon_set["metadata"]["name"], None)

    def _on_deployment(self, event_type: str, deployment: dict[str, Any]) -> None:
        meta = deployment["metadata"]
        if event_type == "DELETED":
            self._collect_garbage(deployment, "ReplicaSet")
        else:
            self._deployment(meta["namespace"], meta["name"])

    def _on_replicaset(self, event_type: str, replica_set: dict[str, Any]) -> None:
        meta = replica_set["metadata"]
        if event_type == "DELETED":
            self._collect_garbage(replica_set, "Pod")
        else:
            self._replica_set(meta["namespace"], meta["name"], None)
        owner = wl.controller_of(replica_set)
        if owner is not None and owner.get("kind") == "Deployment":
            self._deployment(meta["namespace"], str(owner["name"]))

    def _on_daemonset(self, event_type: str, daemon_set: dict[str, Any]) -> None:
        meta = daemon_set["metadata"]
        if event_type == "DELETED":
            self._collect_garbage(daemon_set, "Pod")
            self._collect_garbage(daemon_set, "ControllerRevision")
        else:
            self._daemon_set(meta["namespace"], meta["name"], None)

    def _on_statefulset(self, event_type: str, stateful_set: dict[str, Any]) -> None:
        meta = stateful_set["metadata"]
        if event_type == "DELETED":
            self._collect_garbage(stateful_set, "Pod")
            self._collect_garbage(stateful_set, "ControllerRevision")
        else:
            self._stateful_set(meta["namespace"], meta["name"], None)

    # ----- helpers --------------------------------------------------------------------------

    def _get(self, api_version: str, kind: str, namespace: str | None,
             name: str) -> dict[str, Any] | None:
        """The stored object (not a copy: copy it before changing it)."""
        return self._state.stored(api_version, kind, namespace, name)

    def _now(self) -> Any:
        return self._state.clock()

    def _create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._state.create(obj, validate=False)

    def _replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._state.replace(obj, validate=False)

    def _write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        if obj.get("status") != status:
            self._replace({**obj, "status": status})

    def _collect_garbage(self, owner: dict[str, Any], kind: str) -> None:
        """The garbage collector's background deletion of what owner controlled."""
        api_version = APPS if kind in ("ReplicaSet", "ControllerRevision") else "v1"
        for obj in self._state.peek(api_version, kind, owner["metadata"]["namespace"]):
            if wl.owned_by(obj, owner):
                self._state.delete(api_version, kind, obj["metadata"]["namespace"],
                                   obj["metadata"]["name"])

    def _event(self, involved: dict[str, Any], reason: str, message: str,
               component: str) -> None:
        meta = involved["metadata"]
        self._events += 1
        stamp = wl.timestamp(self._now())
        self._create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{self._rng.getrandbits(64):016x}",
                         "namespace": meta["namespace"]},
            "involvedObject": {"kind": involved["kind"], "namespace": meta["namespace"],
                               "name": meta["name"], "uid": meta["uid"],
                               "apiVersion": involved["apiVersion"],
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "source": {"component": component},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": "Normal",
            "reportingComponent": component, "reportingInstance": ""})

    def _register_node(self, pod: dict[str, Any]) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or self._get("v1", "Node", None, node) is not None:
            return
        status = pod.get("status") or {}
        index = len(self._state.peek("v1", "Node"))
        self._create(wl.node_object(node, wl.node_address(node, status.get("hostIP")),
                                          wl.pod_cidr(status.get("podIP"), index), self._now()))

    def _place(self, node: str | None, owner: dict[str, Any] | None) -> tuple[str, str, str]:
        """The scheduler and the CNI: (node, pod IP, host IP); the node given, else the one
        running fewest of owner's pods (of all pods, without an owner)."""
        nodes = self._state.peek("v1", "Node")
        pods = self._state.peek("v1", "Pod")
        if node is None:
            if not nodes:
                raise RuntimeError("no node to schedule the pod on")
            load = {n["metadata"]["name"]: 0 for n in nodes}
            for pod in pods:
                placed = (pod.get("spec") or {}).get("nodeName")
                if placed in load and (owner is None or wl.owned_by(pod, owner)):
                    load[placed] += 1
            node = min(load, key=lambda n: (load[n], n))
        found = next((n for n in nodes if n["metadata"]["name"] == node), None)
        cidr = ((found or {}).get("spec") or {}).get("podCIDR") or wl.pod_cidr(None, 0)
        addresses = ((found or {}).get("status") or {}).get("addresses") or []
        host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"),
                       wl.node_address(node, None))
        used = {str((p.get("status") or {}).get("podIP")) for p in pods}
        return node, wl.allocate_ip(cidr, used), host_ip

    def _new_pod(self, owner: dict[str, Any], template: dict[str, Any], name: str,
                 node: str | None, model: dict[str, Any] | None) -> dict[str, Any]:
        """Schedule and start a pod of owner (on node, else the least busy node)."""
        node, ip, host_ip = self._place(node, owner)
        namespace = owner["metadata"]["namespace"]
        pod = wl.pod_from_template(template, name, namespace, owner, node, ip, host_ip,
                                   self._now(), model, self._istio_injection(namespace, template))
        return self._create(pod)

    def _istio_injection(self, namespace: str, template: dict[str, Any]) -> str | None:
        """The proxy image istiod's webhook injects into a new pod of namespace, if it does:
        the namespace is labelled `istio-injection=enabled`, istiod runs, and the pod does
        not opt out (`sidecar.istio.io/inject: "false"`)."""
        found = self._get("v1", "Namespace", None, namespace) or {}
        if (found.get("metadata", {}).get("labels") or {}).get("istio-injection") != "enabled":
            return None
        meta = template.get("metadata") or {}
        if "false" in ((meta.get("labels") or {}).get("sidecar.istio.io/inject"),
                       (meta.get("annotations") or {}).get("sidecar.istio.io/inject")):
            return None
        for pod in self._state.peek("v1", "Pod", "istio-system"):
            if (pod["metadata"].get("labels") or {}).get("app") == "istiod":
                image = str(((pod.get("spec") or {}).get("containers") or [{}])[0].get("image"))
                return f"docker.io/istio/proxyv2:{image.rpartition(':')[2] or 'latest'}"
        return None

    def _start(self, pod: dict[str, Any]) -> None:
        """A pod created Pending: scheduled, then started by its node's kubelet."""
        if not self._state.peek("v1", "Node"):
            return  # nowhere to run it: it stays Pending, as on a cluster without nodes
        started = copy.deepcopy(pod)
        spec = started["spec"]
        node, ip, host_ip = self._place(spec.get("nodeName"), None)
        spec["nodeName"] = node
        if spec.get("hostNetwork"):
            ip = host_ip
        started["status"] = wl.running_status(spec, started["metadata"]["namespace"],
                                              started["metadata"]["name"], ip, host_ip,
                                              self._now())
        started["metadata"].pop("resourceVersion", None)
        self._replace(started)

    def _sibling(self, namespace: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        """A pod of the same app under another template (a rollout's new pods get its
        injected sidecar, as the webhook would give them)."""
        labels = dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
        labels.pop(wl.HASH_LABEL, None)
        for pod in self._state.peek("v1", "Pod", namespace):
            own = pod["metadata"].get("labels") or {}
            if labels and all(own.get(k) == v for k, v in labels.items()):
                return pod
        return None

    def _announce(self, replaced: dict[str, Any] | None, created: dict[str, Any]) -> None:
        if replaced is None:
            return
        for callback in list(self._replaced):
            callback(replaced, created)

    def _adopt(self, owner: dict[str, Any], pods: list[dict[str, Any]],
               labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """owner's pods: those it controls, plus those that name it (adopted now)."""
        mine = []
        for pod in pods:
            if wl.owned_by(pod, owner):
                mine.append(pod)
            elif wl.claims_by_name(pod, owner):
                pod = copy.deepcopy(pod)
                pod["metadata"]["ownerReferences"] = [
                    wl.owner_reference(owner) if ref.get("controller") else ref
                    for ref in pod["metadata"]["ownerReferences"]]
                if labels:
                    pod["metadata"]["labels"] = {**pod["metadata"].get("labels", {}),
                                                 **labels}
                mine.append(self._replace(pod))
        return mine

    # ----- Deployment -----------------------------------------------------------------------

    def _deployment(self, namespace: str, name: str) -> None:
        deployment = self._get(APPS, "Deployment", namespace, name)
        if deployment is None:
            return
        spec = deployment["spec"]
        template = spec.get("template") or {}
        owned = [self._adopt_set(deployment, rs) if wl.claims_by_name(rs, deployment) else rs
                 for rs in self._state.peek(APPS, "ReplicaSet", namespace)
                 if wl.owned_by(rs, deployment) or wl.claims_by_name(rs, deployment)]
        revisions = [_revision(rs) for rs in owned]
        current = next((rs for rs in owned if wl.without_label(
            rs["spec"].get("template") or {}, wl.HASH_LABEL) == template), None)
        replicas = int(spec.get("replicas", 1))
        if current is None:
            # The starting cluster's pods keep their hash, also next to an older history.
            running = self._running_hash(deployment)
            if any(rs["metadata"]["name"] == f"{name}-{running}" for rs in owned):
                running = None
            pod_hash = running or wl.template_hash(template)
            current = self._new_replica_set(deployment, pod_hash, max(revisions, default=0) + 1,
                                            replicas)
            if owned:
                self._event(deployment, "ScalingReplicaSet",
                            f"Scaled up replica set {current['metadata']['name']} from 0 to "
                            f"{replicas}", "deployment-controller")
        else:
            current = copy.deepcopy(current)
            annotations = current["metadata"].setdefault("annotations", {})
            latest = max(revisions)
            changed = False
            if _revision(current) != latest:
                annotations[wl.REVISION_ANNOTATION] = str(latest + 1)
                changed = True
            if current["spec"].get("replicas") != replicas:
                current["spec"]["replicas"] = replicas
                changed = True
            if changed:
                current = self._replace(current)
        for old in owned:
            if old["metadata"]["name"] != current["metadata"]["name"] \
                    and old["spec"].get("replicas", 0) != 0:
                before = old["spec"].get("replicas", 0)
                old = copy.deepcopy(old)
                old["spec"]["replicas"] = 0
                self._replace(old)
                self._event(deployment, "ScalingReplicaSet",
                            f"Scaled down replica set {old['metadata']['name']} from {before} "
                            "to 0", "deployment-controller")
        self._prune_history(deployment, current)
        self._deployment_status(namespace, name, current["metadata"]["name"])

    def _adopt_set(self, deployment: dict[str, Any], replica_set: dict[str, Any]) -> dict[str, Any]:
        """A ReplicaSet the starting cluster wrote before its Deployment (an older revision):
        its controller reference now carries the Deployment's uid, as kubectl expects."""
        adopted = copy.deepcopy(replica_set)
        adopted["metadata"]["ownerReferences"] = [
            wl.owner_reference(deployment) if ref.get("controller") else ref
            for ref in adopted["metadata"]["ownerReferences"]]
        return self._replace(adopted)

    def _running_hash(self, deployment: dict[str, Any]) -> str | None:
        """The pod-template-hash of the pods a starting cluster already runs for it."""
        prefix = deployment["metadata"]["name"] + "-"
        for pod in self._state.peek("v1", "Pod", deployment["metadata"]["namespace"]):
            owner = wl.controller_of(pod) or {}
            labels = pod["metadata"].get("labels") or {}
            if (owner.get("kind") == "ReplicaSet" and str(owner.get("name")).startswith(prefix)
                    and wl.selects(deployment["spec"].get("selector"), pod)
                    and owner.get("name") == prefix + labels.get(wl.HASH_LABEL, "")):
                return str(labels[wl.HASH_LABEL])
        return None

    def _new_replica_set(self, deployment: dict[str, Any], pod_hash: str, revision: int,
                         replicas: int) -> dict[str, Any]:
        meta = deployment["metadata"]
        template = wl.without_label(deployment["spec"].get("template") or {}, wl.HASH_LABEL)
        template.setdefault("metadata", {}).setdefault("labels", {})[wl.HASH_LABEL] = pod_hash
        selector = dict(deployment["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}),
                                   wl.HASH_LABEL: pod_hash}
        labels = dict(template["metadata"]["labels"])
        return self._create({
            "apiVersion": APPS, "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": meta["namespace"],
                         "labels": labels,
                         "annotations": {wl.REVISION_ANNOTATION: str(revision),
                                         "deployment.kubernetes.io/desired-replicas":
                                             str(replicas),
                                         "deployment.kubernetes.io/max-replicas":
                                             str(replicas + 1)},
                         "ownerReferences": [wl.owner_reference(deployment)]},
            "spec": {"replicas": replicas, "selector": selector, "template": template}})

    def _prune_history(self, deployment: dict[str, Any], current: dict[str, Any]) -> None:
        limit = int(deployment["spec"].get("revisionHistoryLimit", 10))
        old = sorted((rs for rs in self._state.peek(APPS, "ReplicaSet",
                                                    deployment["metadata"]["namespace"])
                      if wl.owned_by(rs, deployment)
                      and rs["metadata"]["name"] != current["metadata"]["name"]
                      and not rs["spec"].get("replicas") and not (rs.get("status") or {}).get(
                          "replicas")), key=_revision)
        for rs in old[:max(0, len(old) - limit)]:
            self._state.delete(APPS, "ReplicaSet", rs["metadata"]["namespace"],
                               rs["metadata"]["name"])

    def _deployment_status(self, namespace: str, name: str, current_name: str) -> None:
        deployment = self._get(APPS, "Deployment", namespace, name)
        if deployment is None:
            return
        owned = [rs for rs in self._state.peek(APPS, "ReplicaSet", namespace)
                 if wl.owned_by(rs, deployment)]
        current = next((rs for rs in owned if rs["metadata"]["name"] == current_name), None)
        if current is None:
            return
        revision = current["metadata"].get("annotations", {}).get(wl.REVISION_ANNOTATION)
        if revision and deployment["metadata"].get("annotations", {}).get(
                wl.REVISION_ANNOTATION) != revision:
            deployment = copy.deepcopy(deployment)
            deployment["metadata"].setdefault("annotations", {})[wl.REVISION_ANNOTATION] = \
                revision
            deployment = self._replace(deployment)

        def total(field: str, sets: list[dict[str, Any]]) -> int:
            return sum(int((rs.get("status") or {}).get(field) or 0) for rs in sets)

        desired = int(deployment["spec"].get("replicas", 1))
        available = total("availableReplicas", owned)
        previous = (deployment.get("status") or {}).get("conditions")
        now = self._now()
        status: dict[str, Any] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": total("replicas", owned),
            "updatedReplicas": total("replicas", [current]),
            "readyReplicas": total("readyReplicas", owned),
            "availableReplicas": available,
            "conditions": [
                wl.condition("Available", "MinimumReplicasAvailable",
                             "Deployment has minimum availability.", now, previous,
                             status="True" if available >= desired else "False"),
                wl.condition("Progressing", "NewReplicaSetAvailable",
                             f'ReplicaSet "{current_name}" has successfully progressed.', now,
                             previous)]}
        if desired > available:
            status["unavailableReplicas"] = desired - available
        for key in ("readyReplicas", "availableReplicas", "replicas", "updatedReplicas"):
            if not status[key]:
                del status[key]  # omitempty, as the server writes them
        self._write_status(deployment, status)

    # ----- ReplicaSet -----------------------------------------------------------------------

    def _replica_set(self, namespace: str, name: str, replaced: dict[str, Any] | None) -> None:
        replica_set = self._get(APPS, "ReplicaSet", namespace, name)
        if replica_set is None:
            return
        spec = replica_set["spec"]
        pods = self._adopt(replica_set, [p for p in self._state.peek("v1", "Pod", namespace)
                                         if wl.selects(spec.get("selector"), p)])
        want = int(spec.get("replicas", 1))
        model = replaced or (pods[0] if pods else self._sibling(namespace, spec))
        while len(pods) < want:
            pod_name = f"{name}-{wl.random_suffix(self._rng)}"
            if self._get("v1", "Pod", namespace, pod_name) is not None:
                continue
            created = self._new_pod(replica_set, spec.get("template") or {}, pod_name, None,
                                    model)
            pods.append(created)
            self._event(replica_set, "SuccessfulCreate", f"Created pod: {pod_name}",
                        "replicaset-controller")
            self._announce(replaced, created)
            replaced = None
        if len(pods) > want:
            newest_first = sorted(pods, key=lambda p: (p["metadata"]["creationTimestamp"],
                                                       p["metadata"]["name"]), reverse=True)
            for pod in newest_first[:len(pods) - want]:
                self._state.delete("v1", "Pod", namespace, pod["metadata"]["name"])
                self._event(replica_set, "SuccessfulDelete",
                            f"Deleted pod: {pod['metadata']['name']}", "replicaset-controller")
            pods = newest_first[len(pods) - want:]
        ready = sum(1 for p in pods if wl.pod_ready(p))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "observedGeneration": replica_set["metadata"]["generation"]}
        replica_set = self._get(APPS, "ReplicaSet", namespace, name) or replica_set
        self._write_status(replica_set, {k: v for k, v in status.items()
                                         if v or k in ("replicas", "observedGeneration")})

    # ----- DaemonSet and StatefulSet --------------------------------------------------------

    def _revision_of(self, owner: dict[str, Any], template: dict[str, Any],
                     running: str | None) -> tuple[dict[str, Any], str]:
        """The ControllerRevision recording owner's template (created or bumped); its hash."""
        namespace = owner["metadata"]["namespace"]
        history = [r for r in self._state.peek(APPS, "ControllerRevision", namespace)
                   if wl.owned_by(r, owner)]
        numbers = [int(r.get("revision") or 0) for r in history]
        found = next((r for r in history if wl.template_of_revision(r) == template), None)
        if found is None:
            pod_hash = (running if not history else None) or wl.template_hash(template)
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels[wl.REVISION_LABEL] = pod_hash
            found = self._create({
                "apiVersion": APPS, "kind": "ControllerRevision",
                "metadata": {"name": f"{owner['metadata']['name']}-{pod_hash}",
                             "namespace": namespace, "labels": labels,
                             "ownerReferences": [wl.owner_reference(owner)]},
                "data": wl.revision_data(template), "revision": max(numbers, default=0) + 1})
        elif int(found.get("revision") or 0) != max(numbers):
            found = {**found, "revision": max(numbers) + 1}
            found = self._replace(found)
        return found, found["metadata"]["labels"][wl.REVISION_LABEL]

    def _daemon_set(self, namespace: str, name: str, replaced: dict[str, Any] | None) -> None:
        daemon_set = self._get(APPS, "DaemonSet", namespace, name)
        if daemon_set is None:
            return
        spec = daemon_set["spec"]
        template = spec.get("template") or {}
        pods = self._adopt(daemon_set, [p for p in self._state.peek("v1", "Pod", namespace)
                                        if wl.selects(spec.get("selector"), p)])
        running = next((p["metadata"].get("labels", {}).get(wl.REVISION_LABEL) for p in pods
                        if p["metadata"].get("labels", {}).get(wl.REVISION_LABEL)), None)
        _, pod_hash = self._revision_of(daemon_set, template, running)
        wanted_labels = {wl.REVISION_LABEL: pod_hash,
                         "pod-template-generation": str(daemon_set["metadata"]["generation"])}
        node_selector = (template.get("spec") or {}).get("nodeSelector") or {}
        nodes = [n["metadata"]["name"] for n in self._state.peek("v1", "Node")
                 if all(n["metadata"].get("labels", {}).get(k) == v
                        for k, v in node_selector.items())]
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            by_node.setdefault(str(pod["spec"].get("nodeName")), []).append(pod)
        kept = []
        for node_name, on_node in by_node.items():
            for pod in on_node:
                outdated = pod["metadata"].get("labels", {}).get(wl.REVISION_LABEL) != pod_hash
                if node_name not in nodes or outdated or pod is not on_node[0]:
                    self._state.delete("v1", "Pod", namespace, pod["metadata"]["name"])
                    self._event(daemon_set, "SuccessfulDelete",
                                f"Deleted pod: {pod['metadata']['name']}",
                                "daemonset-controller")
                else:
                    kept.append(pod)
        have = {pod["spec"].get("nodeName") for pod in kept}
        labelled = _with_labels(template, wanted_labels)
        for node_name in nodes:
            if node_name in have:
                continue
            created = self._new_pod(daemon_set, labelled,
                                    f"{name}-{wl.random_suffix(self._rng)}", node_name,
                                    replaced or (kept[0] if kept else None))
            kept.append(created)
            self._event(daemon_set, "SuccessfulCreate",
                        f"Created pod: {created['metadata']['name']}", "daemonset-controller")
            if replaced is not None and replaced["spec"].get("nodeName") == node_name:
                self._announce(replaced, created)
                replaced = None
        ready = sum(1 for p in kept if wl.pod_ready(p))
        updated = sum(1 for p in kept
                      if p["metadata"].get("labels", {}).get(wl.REVISION_LABEL) == pod_hash)
        status = {"currentNumberScheduled": len(kept), "desiredNumberScheduled": len(nodes),
                  "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                  "updatedNumberScheduled": updated,
                  "observedGeneration": daemon_set["metadata"]["generation"]}
        daemon_set = self._get(APPS, "DaemonSet", namespace, name) or daemon_set
        self._write_status(daemon_set, status)

    def _stateful_set(self, namespace: str, name: str, replaced: dict[str, Any] | None) -> None:
        stateful_set = self._get(APPS, "StatefulSet", namespace, name)
        if stateful_set is None:
            return
        spec = stateful_set["spec"]
        template = spec.get("template") or {}
        pods = [p for p in self._state.peek("v1", "Pod", namespace)
                if wl.selects(spec.get("selector"), p)]
        revision, _ = self._revision_of(stateful_set, template, None)
        running = revision["metadata"]["name"]
        pods = self._adopt(stateful_set, pods, {wl.REVISION_LABEL: running})
        want = int(spec.get("replicas", 1))
        by_name = {p["metadata"]["name"]: p for p in pods}
        for pod in pods:
            ordinal = pod["metadata"]["name"].rpartition("-")[2]
            outdated = pod["metadata"].get("labels", {}).get(wl.REVISION_LABEL) != running
            if not ordinal.isdigit() or int(ordinal) >= want or outdated:
                # Deleted now, started again at the current revision by the DELETED event.
                self._state.delete("v1", "Pod", namespace, pod["metadata"]["name"])
                by_name.pop(pod["metadata"]["name"], None)
                return
        for ordinal in range(want):
            pod_name = f"{name}-{ordinal}"
            if pod_name in by_name:
                continue
            labels = {wl.REVISION_LABEL: running, "statefulset.kubernetes.io/pod-name": pod_name,
                      "apps.kubernetes.io/pod-index": str(ordinal)}
            created = self._new_pod(stateful_set, _with_labels(template, labels), pod_name,
                                    None, replaced or next(iter(by_name.values()), None))
            by_name[pod_name] = created
            self._event(stateful_set, "SuccessfulCreate",
                        f"create Pod {pod_name} in StatefulSet {name} successful",
                        "statefulset-controller")
            if replaced is not None and replaced["metadata"]["name"] == pod_name:
                self._announce(replaced, created)
                replaced = None
        current = list(by_name.values())
        ready = sum(1 for p in current if wl.pod_ready(p))
        status = {"observedGeneration": stateful_set["metadata"]["generation"],
                  "replicas": len(current), "readyReplicas": ready,
                  "currentReplicas": len(current), "updatedReplicas": len(current),
                  "availableReplicas": ready, "currentRevision": running,
                  "updateRevision": running, "collisionCount": 0}
        stateful_set = self._get(APPS, "StatefulSet", namespace, name) or stateful_set
        self._write_status(stateful_set, status)


def _waiting_to_start(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Pending" and not status.get("containerStatuses") \
        and not pod["metadata"].get("deletionTimestamp")


def _revision(replica_set: dict[str, Any]) -> int:
    text = (replica_set["metadata"].get("annotations") or {}).get(wl.REVISION_ANNOTATION, "0")
    return int(text) if str(text).isdigit() else 0


def _with_labels(template: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    shown = dict(template)
    metadata = dict(shown.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    shown["metadata"] = metadata
    return shown
