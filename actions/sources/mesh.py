"""The service mesh, refreshed periodically: proxy sync, mTLS modes, authorization policies.

Istio: each proxy's sync state (istiod's /debug/syncz through the API service
proxy, else `istioctl proxy-status`, via actions.runbook.status.mesh_status), the
PeerAuthentication mode per namespace and workload (PERMISSIVE and DISABLE
flagged; the root namespace istio-system sets the mesh-wide default) and the
AuthorizationPolicies of the namespace (one with a selector and no rules
denies everything to its workloads). Linkerd: `linkerd check -o json` when
the CLI is installed. A refusal by istiod (401/403 through the proxy) is
reported as "forbidden", never as "no proxies".

mTLS that cannot work: where PeerAuthentication makes workloads STRICT while
some of them lack the `security.istio.io/tlsMode` label (every client's
sidecar sends them plaintext) or pods of the namespace run without a sidecar
(they cannot present a certificate), calls fail at once; when that touches
two services or more it is the runbook's P0 "mTLS failures affecting multiple
services", recorded as an alert (once per set of services) so the incident
detector proposes an incident, without waiting for Prometheus to show the
failures. The mode is judged with the same semantics the drill plays
(actions/policy/istio.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actions.kube.cluster import (
    ISTIO_AUTHORIZATION_POLICY,
    ISTIO_PEER_AUTHENTICATION,
    POD,
    Cluster,
    ClusterError,
)
from actions.policy import ClusterView, Endpoint
from actions.policy.istio import peer_authentication_mode
from actions.runbook.status import MeshStatus, ProxySync, mesh_status
from actions.sources.batches import AlertBatch
from actions.sources.health import ABSENT, CONNECTED, FORBIDDEN, RETRYING, HealthReporter
from actions.sources.traffic import MTLS_CLASSIFICATION
from actions.sources.warroom_alerts import record_alert
from store import Record
from store.wording import counted

FLAGGED_MODES = ("PERMISSIVE", "DISABLE")
MTLS_RULE = "mTLS STRICT with workloads that cannot do mTLS"
ROOT_NAMESPACE = "istio-system"
LINKERD_NAMESPACE = "linkerd"
LINKERD_PROXY = "linkerd-proxy"
ISTIO_PROXY = "istio-proxy"


@dataclass(frozen=True, slots=True)
class PodMeshState:
    """A pod as the mesh sees it: injected or not, ready or not."""

    namespace: str
    name: str
    injected: bool
    ready: bool


def pod_mesh_state(obj: dict[str, Any], proxy: str) -> PodMeshState:
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    names = [c.get("name") for key in ("containers", "initContainers")
             for c in spec.get(key) or []]
    status = obj.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    ready = conditions.get("Ready", "True" if status.get("phase") == "Running" else "False")
    return PodMeshState(str(metadata.get("namespace") or ""), str(metadata.get("name")),
                        proxy in names, ready == "True")


@dataclass(frozen=True, slots=True)
class PeerAuthenticationInfo:
    namespace: str
    name: str
    selector: dict[str, str] | None
    """matchLabels of the workloads it applies to; None: the whole namespace."""
    mode: str
    port_modes: dict[str, str]
    scope: str
    """"mesh" (root namespace, no selector), "namespace" or "workload"."""

    @property
    def flagged(self) -> bool:
        return self.mode in FLAGGED_MODES or any(m in FLAGGED_MODES
                                                 for m in self.port_modes.values())


@dataclass(frozen=True, slots=True)
class AuthorizationPolicyInfo:
    namespace: str
    name: str
    action: str
    selector: dict[str, str] | None
    rules: int

    @property
    def denies_all(self) -> bool:
        """ALLOW with no rules matches nothing, so it denies all traffic to its workloads."""
        return self.action == "ALLOW" and self.rules == 0


@dataclass(frozen=True, slots=True)
class MeshSnapshot:
    """One refresh of the mesh pane."""

    namespace: str
    mesh: str | None
    mesh_detail: str
    proxies: tuple[ProxySync, ...]
    out_of_sync: tuple[str, ...]
    peer_authentications: tuple[PeerAuthenticationInfo, ...]
    authorization_policies: tuple[AuthorizationPolicyInfo, ...]
    linkerd_checks: tuple[dict[str, Any], ...]
    problems: tuple[str, ...]
    workloads: tuple[PodMeshState, ...] = ()
    """The namespace's pods: which have the mesh's proxy."""
    control_plane: tuple[PodMeshState, ...] = ()
    """Linkerd's control-plane pods, read from the API when the linkerd CLI is not installed."""
    mtls_broken: tuple[str, ...] = ()
    """Services whose calls fail under STRICT mTLS (see `mtls_breakage`), sorted."""
    mtls_findings: tuple[str, ...] = ()
    """Why, one sentence each."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def effective_mode(self) -> str:
        """The namespace-wide mTLS mode: its own policy, else the mesh-wide one, else PERMISSIVE."""
        for scope in ("namespace", "mesh"):
            for pa in self.peer_authentications:
                if pa.scope == scope and pa.mode != "UNSET":
                    return pa.mode
        return "PERMISSIVE"  # Istio's default when nothing says otherwise


def peer_authentication(obj: dict[str, Any]) -> PeerAuthenticationInfo:
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    namespace = str(metadata.get("namespace") or "")
    selector = (spec.get("selector") or {}).get("matchLabels") or None
    ports = {str(port): str((value or {}).get("mode") or "UNSET")
             for port, value in (spec.get("portLevelMtls") or {}).items()}
    scope = "workload" if selector else ("mesh" if namespace == ROOT_NAMESPACE else "namespace")
    return PeerAuthenticationInfo(namespace, str(metadata.get("name")), selector,
                                  str((spec.get("mtls") or {}).get("mode") or "UNSET"), ports,
                                  scope)


def authorization_policy(obj: dict[str, Any]) -> AuthorizationPolicyInfo:
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    return AuthorizationPolicyInfo(
        str(metadata.get("namespace") or ""), str(metadata.get("name")),
        str(spec.get("action") or "ALLOW"),
        (spec.get("selector") or {}).get("matchLabels") or None, len(spec.get("rules") or []))


def mtls_breakage(
    pods: list[dict[str, Any]], peer_authentications: list[dict[str, Any]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(services whose calls fail under STRICT mTLS, the findings) for one namespace's pods.

    A STRICT workload without the tlsMode label gets plaintext from every client sidecar;
    a pod without a sidecar cannot call any STRICT workload.
    """
    view = ClusterView.of([*pods, *peer_authentications])
    ends = [Endpoint.of_pod(p) for p in pods]
    strict = [e for e in ends if e.has_proxy(ISTIO_PROXY)
              and e.pod is not None and peer_authentication_mode(view, e.pod)[0] == "STRICT"]
    if not strict:
        return (), ()
    unlabelled = [e for e in strict if not e.istio_mtls_ready]
    bare = [e for e in ends if not e.has_proxy(ISTIO_PROXY)]

    def app(end: Endpoint) -> str:
        return end.labels.get("app") or end.name

    findings = []
    if unlabelled:
        findings.append(
            f"{', '.join(sorted({app(e) for e in unlabelled}))}: STRICT but without the "
            "security.istio.io/tlsMode label, so every client's sidecar sends plaintext"
        )
    if bare:
        findings.append(
            f"{', '.join(sorted({app(e) for e in bare}))}: no sidecar, so their calls to STRICT "
            f"workloads ({', '.join(sorted({app(e) for e in strict}))}) are refused"
        )
    services = tuple(sorted({app(e) for e in [*unlabelled, *bare]}))
    return services, tuple(findings)


class MeshMonitor:
    """`await MeshMonitor(cluster, "voicehive").run(sink)`: a MeshSnapshot every interval.

    With a record, mTLS that cannot work on two services or more is recorded as a P0
    alert and handed to the sink as an AlertBatch (the incident detector proposes).
    """

    SOURCE = "mesh"

    def __init__(self, cluster: Cluster, namespace: str | None = None, *,
                 interval_seconds: float = 30.0, kubeconfig: str | None = None,
                 record: Record | None = None, incident_id: str | None = None,
                 mtls_services: int = 2) -> None:
        self.cluster = cluster
        self.namespace = namespace or cluster.namespace
        self.interval_seconds = interval_seconds
        self.kubeconfig = kubeconfig
        self.record = record
        self.incident_id = incident_id
        self.mtls_services = mtls_services
        self._alerted: tuple[str, ...] = ()

    async def run(self, sink: Callable[[object], None]) -> None:
        health = HealthReporter(self.SOURCE, sink)
        while True:
            try:
                snapshot = await self.snapshot()
            except ClusterError as error:
                state = FORBIDDEN if error.cause in ("forbidden", "unauthorized") else RETRYING
                health.report(state, error.message)
            else:
                sink(snapshot)
                health.report(*self._health(snapshot))
                batch = await self._check_mtls(snapshot)
                if batch is not None:
                    sink(batch)
            await asyncio.sleep(self.interval_seconds)

    async def _check_mtls(self, snapshot: MeshSnapshot) -> AlertBatch | None:
        """The P0 alert, once per set of broken services (none while fewer than two)."""
        broken = snapshot.mtls_broken
        if len(broken) < self.mtls_services:
            self._alerted = ()
            return None
        if broken == self._alerted or self.record is None:
            return None
        self._alerted = broken
        record = self.record
        return await asyncio.to_thread(
            record_alert, record, at=snapshot.at.timestamp(), rule=MTLS_RULE,
            classification=MTLS_CLASSIFICATION, source="warroom-mesh", origin="mesh",
            tags=("mesh", "mtls", "warroom"),
            details={"namespace": snapshot.namespace, "services": ",".join(broken),
                     "findings": "; ".join(snapshot.mtls_findings)},
            incident_id=self.incident_id)

    async def snapshot(self) -> MeshSnapshot:
        status: MeshStatus = await mesh_status(self.cluster, namespace=self.namespace,
                                               kubeconfig=self.kubeconfig)
        problems = list(status.problems)
        peers: list[PeerAuthenticationInfo] = []
        peer_objects: list[dict[str, Any]] = []
        policies: list[AuthorizationPolicyInfo] = []
        if status.mesh == "istio":
            for namespace in dict.fromkeys((ROOT_NAMESPACE, self.namespace)):
                try:
                    listed = await self.cluster.list(ISTIO_PEER_AUTHENTICATION, namespace)
                except ClusterError as error:
                    problems.append(f"PeerAuthentications in {namespace} unknown: {error}")
                    continue
                peer_objects += listed
                peers += [peer_authentication(o) for o in listed]
            try:
                policies = [authorization_policy(o) for o in
                            await self.cluster.list(ISTIO_AUTHORIZATION_POLICY, self.namespace)]
            except ClusterError as error:
                problems.append(f"AuthorizationPolicies unknown: {error}")
            for pa in peers:
                if pa.flagged:
                    where = f"workload {pa.selector}" if pa.selector else pa.scope
                    problems.append(f"PeerAuthentication {pa.namespace}/{pa.name} ({where}) "
                                    f"allows plaintext: mode {pa.mode}")
        workloads: list[PodMeshState] = []
        control_plane: list[PodMeshState] = []
        broken: tuple[str, ...] = ()
        findings: tuple[str, ...] = ()
        if status.mesh is not None:
            proxy = ISTIO_PROXY if status.mesh == "istio" else LINKERD_PROXY
            try:
                pods = await self.cluster.list(POD, self.namespace)
                workloads = [pod_mesh_state(o, proxy) for o in pods]
                if status.mesh == "istio":
                    broken, findings = mtls_breakage(pods, peer_objects)
                    problems += [f"mTLS will fail: {f}" for f in findings]
            except ClusterError as error:
                problems.append(f"proxy injection unknown: {error}")
            uninjected = [w.name for w in workloads if not w.injected]
            if uninjected:
                problems.append(f"pods without the {proxy} sidecar: {', '.join(uninjected)}")
        if status.mesh == "linkerd" and not status.linkerd_checks:
            # No linkerd CLI: judge the control plane by its pods.
            try:
                control_plane = [pod_mesh_state(o, LINKERD_PROXY) for o in
                                 await self.cluster.list(POD, LINKERD_NAMESPACE)]
            except ClusterError as error:
                problems.append(f"Linkerd control plane unknown: {error}")
            not_ready = [p.name for p in control_plane if not p.ready]
            if not_ready:
                problems.append(f"Linkerd control-plane pods not ready: {', '.join(not_ready)}")
            elif not control_plane:
                problems.append(f"no Linkerd control-plane pods in {LINKERD_NAMESPACE}")
        return MeshSnapshot(
            namespace=self.namespace, mesh=status.mesh, mesh_detail=status.mesh_detail,
            workloads=tuple(workloads), control_plane=tuple(control_plane),
            proxies=tuple(status.proxies),
            out_of_sync=tuple(p.name for p in status.proxies if not p.synced),
            peer_authentications=tuple(peers), authorization_policies=tuple(policies),
            linkerd_checks=tuple(status.linkerd_checks), problems=tuple(problems),
            mtls_broken=broken, mtls_findings=findings)

    @staticmethod
    def _health(snapshot: MeshSnapshot) -> tuple[str, str]:
        if snapshot.mesh is None:
            return ABSENT, f"no service mesh detected ({snapshot.mesh_detail})"
        refused = [p for p in snapshot.problems if "refused the debug request" in p]
        if refused:
            return FORBIDDEN, refused[0]
        detail = f"{snapshot.mesh}: {counted(len(snapshot.proxies), 'proxy')}"
        if snapshot.out_of_sync:
            detail += f", out of sync: {', '.join(snapshot.out_of_sync)}"
        if snapshot.mesh == "istio":
            detail += f"; mTLS in {snapshot.namespace}: {snapshot.effective_mode}"
        if snapshot.workloads:
            injected = sum(w.injected for w in snapshot.workloads)
            detail += f"; {injected} of {counted(len(snapshot.workloads), 'pod')} injected"
        if snapshot.control_plane:
            ready = sum(p.ready for p in snapshot.control_plane)
            detail += f"; control plane {ready}/{len(snapshot.control_plane)} ready"
        return CONNECTED, detail
