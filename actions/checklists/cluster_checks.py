"""Checklist verifiers that read the cluster: services healthy, mTLS enforced, policies applied.

Each is a coroutine over `actions.kube.cluster.Cluster` (the official client over
HTTP) that returns a `Verdict` with the evidence in words and never raises
for a cluster that refuses (403), times out or cannot be reached: that is an
`unknown` verdict naming the cause.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from actions.checklists.verdict import Verdict, named, not_verified, unknown, verified
from actions.kube.cluster import (
    ISTIO_PEER_AUTHENTICATION,
    NAMESPACE,
    NETWORK_POLICY,
    POD,
    Cluster,
    ClusterError,
    Kind,
)
from actions.kube.mesh import detect_mesh
from actions.policy.drift import DesiredStateError, compare, load_desired
from actions.sources.mesh import (
    ISTIO_PROXY,
    LINKERD_PROXY,
    ROOT_NAMESPACE,
    PeerAuthenticationInfo,
    peer_authentication,
    pod_mesh_state,
)
from store.wording import counted, noun_of

DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
AMBIENT_LABEL = "istio.io/dataplane-mode"
LINKERD_INBOUND_POLICY = "config.linkerd.io/default-inbound-policy"
# Linkerd inbound policies that refuse plaintext from unmeshed clients.
LINKERD_AUTHENTICATED = ("all-authenticated", "cluster-authenticated", "deny")


def refused(error: ClusterError) -> Verdict:
    """`unknown: forbidden: list pods in voicehive: forbidden (403): ...`."""
    return unknown(f"{error.cause}: {error.message}")


# --- all services healthy ------------------------------------------------------------------------


def pod_problem(pod: dict[str, Any]) -> str | None:
    """Why a pod is not Ready (`CrashLoopBackOff`, `Pending`...), or None when it is."""
    metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating"
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    ready = conditions.get("Ready")
    # Without conditions (an old or minimal API answer) Running is the best there is.
    is_ready = ready.get("status") == "True" if ready else status.get("phase") == "Running"
    if is_ready:
        return None
    for container in status.get("containerStatuses") or []:
        if container.get("ready"):
            continue
        state = container.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason") or (state.get("terminated") or {}).get(
            "reason"
        )
        if reason:
            return str(reason)
    return str((ready or {}).get("reason") or status.get("phase") or "not Ready")


def deployment_problem(deployment: dict[str, Any]) -> str | None:
    """`0/2 available` for a deployment short of its replicas, None when all are available."""
    wanted = (deployment.get("spec") or {}).get("replicas")
    wanted = 1 if wanted is None else int(wanted)
    available = int((deployment.get("status") or {}).get("availableReplicas") or 0)
    return None if available >= wanted else f"{available}/{wanted} available"


async def services_healthy(cluster: Cluster, namespace: str | None = None) -> Verdict:
    """Every pod of the namespace Ready and every deployment at its available replicas."""
    ns = namespace or cluster.namespace
    try:
        pods = await cluster.list(POD, ns)
    except ClusterError as error:
        return refused(error)
    deployments: list[dict[str, Any]] | None
    deployment_note = ""
    try:
        deployments = await cluster.list(DEPLOYMENT, ns)
    except ClusterError as error:
        deployments = None
        deployment_note = (
            "deployments not checked: the cluster serves no apps/v1 Deployments"
            if error.cause == "not-found"
            else f"deployments not checked: {error.cause}: {error.message}"
        )
    # A finished Job's pod is done, not unhealthy.
    running = [p for p in pods if (p.get("status") or {}).get("phase") != "Succeeded"]
    sick = [
        f"{(p.get('metadata') or {}).get('name')} ({problem})"
        for p in running
        if (problem := pod_problem(p)) is not None
    ]
    short = [
        f"{(d.get('metadata') or {}).get('name')} ({problem})"
        for d in deployments or []
        if (problem := deployment_problem(d)) is not None
    ]
    parts = []
    if sick:
        parts.append(f"{len(sick)} of {counted(len(running), 'pod')} not Ready: {named(sick)}")
    if short:
        deployed = counted(len(deployments or []), "deployment")
        parts.append(f"{len(short)} of {deployed} short: {named(short)}")
    if parts:
        return not_verified("; ".join(parts + ([deployment_note] if deployment_note else [])))
    if not running:
        return not_verified(f"no running pods in namespace {ns}")
    seen = f"{len(running)} of {counted(len(running), 'pod')} Ready in {ns}"
    if deployments is not None:
        seen += f"; {len(deployments)} of {counted(len(deployments), 'deployment')} available"
    return verified(f"{seen}; {deployment_note}" if deployment_note else seen)


# --- mTLS enforced -------------------------------------------------------------------------------


def effective_mode(peers: list[PeerAuthenticationInfo], namespace: str) -> tuple[str, str]:
    """(mode, where it comes from) for a namespace: its own policy, the mesh's, else Istio's
    default PERMISSIVE (as actions.sources.mesh.MeshSnapshot.effective_mode decides)."""
    for scope, where in (("namespace", namespace), ("mesh", ROOT_NAMESPACE)):
        for pa in peers:
            if pa.scope == scope and pa.namespace == where and pa.mode != "UNSET":
                return pa.mode, f"PeerAuthentication {pa.namespace}/{pa.name}"
    return "PERMISSIVE", "no PeerAuthentication sets it (Istio's default)"


async def mtls_enforced(
    cluster: Cluster, namespace: str | None = None, *, mesh: str = "auto"
) -> Verdict:
    """STRICT mTLS for the namespace, no PERMISSIVE/DISABLE exception, every pod in the mesh.

    mesh: "auto" detects it; "istio", "linkerd" or "none" as configured.
    """
    ns = namespace or cluster.namespace
    try:
        if mesh == "auto":
            found, how = await detect_mesh(cluster)
        else:
            found, how = (None if mesh == "none" else mesh), f"mesh.provider = {mesh}"
        if found is None:
            return not_verified(f"no service mesh ({how}): nothing enforces mTLS")
        pods = await cluster.list(POD, ns)
        if found == "istio":
            return await _istio_mtls(cluster, ns, pods)
        return await _linkerd_mtls(cluster, ns, pods)
    except ClusterError as error:
        return refused(error)


async def _namespace_labels(cluster: Cluster, ns: str) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) of the namespace; empty when it cannot be read (optional detail)."""
    try:
        obj = await cluster.get_or_none(NAMESPACE, ns)
    except ClusterError:
        return {}, {}
    metadata = (obj or {}).get("metadata") or {}
    return dict(metadata.get("labels") or {}), dict(metadata.get("annotations") or {})


async def _istio_mtls(cluster: Cluster, ns: str, pods: list[dict[str, Any]]) -> Verdict:
    peers: list[PeerAuthenticationInfo] = []
    for where in dict.fromkeys((ROOT_NAMESPACE, ns)):
        peers += [
            peer_authentication(o) for o in await cluster.list(ISTIO_PEER_AUTHENTICATION, where)
        ]
    mode, source = effective_mode(peers, ns)
    problems = []
    if mode != "STRICT":
        problems.append(f"mTLS mode for {ns} is {mode} ({source})")
    for pa in peers:
        if pa.scope == "workload" and pa.namespace == ns and pa.flagged:
            ports = {p: m for p, m in pa.port_modes.items() if m in ("PERMISSIVE", "DISABLE")}
            what = f"ports {ports}" if ports else f"mode {pa.mode}"
            problems.append(
                f"PeerAuthentication {pa.namespace}/{pa.name} "
                f"(workload {pa.selector}) allows plaintext: {what}"
            )
    labels, _ = await _namespace_labels(cluster, ns)
    ambient = labels.get(AMBIENT_LABEL) == "ambient"
    states = [pod_mesh_state(o, ISTIO_PROXY) for o in pods]
    outside = [] if ambient else [s.name for s in states if not s.injected]
    if outside:
        problems.append(
            f"{len(outside)} of {counted(len(states), 'pod')} without the {ISTIO_PROXY} "
            f"sidecar: {named(outside)}"
        )
    if problems:
        return not_verified("; ".join(problems))
    pods_seen = (
        f"namespace {ns} is in ambient mode ({counted(len(states), 'pod')})"
        if ambient
        else f"{len(states)} of {counted(len(states), 'pod')} {noun_of(len(states), 'has')} "
        f"the {ISTIO_PROXY} sidecar"
    )
    return verified(
        f"Istio mTLS STRICT for {ns} ({source}); no PERMISSIVE or DISABLE exception; {pods_seen}"
    )


async def _linkerd_mtls(cluster: Cluster, ns: str, pods: list[dict[str, Any]]) -> Verdict:
    _, annotations = await _namespace_labels(cluster, ns)
    namespace_policy = annotations.get(LINKERD_INBOUND_POLICY)
    outside, plaintext, unset = [], [], []
    for obj in pods:
        state = pod_mesh_state(obj, LINKERD_PROXY)
        if not state.injected:
            outside.append(state.name)
            continue
        own = ((obj.get("metadata") or {}).get("annotations") or {}).get(LINKERD_INBOUND_POLICY)
        policy = own or namespace_policy
        if policy is None:
            unset.append(state.name)
        elif policy not in LINKERD_AUTHENTICATED:
            plaintext.append(f"{state.name} ({policy})")
    problems = []
    if outside:
        problems.append(
            f"{len(outside)} of {counted(len(pods), 'pod')} without the {LINKERD_PROXY}: "
            f"{named(outside)}"
        )
    if plaintext:
        problems.append(f"inbound policy accepts plaintext for {named(plaintext)}")
    if problems:
        return not_verified("; ".join(problems))
    if unset:
        return unknown(
            f"{len(pods)} of {counted(len(pods), 'pod')} {noun_of(len(pods), 'is')} meshed "
            "(mTLS between meshed pods), but "
            f"{LINKERD_INBOUND_POLICY} is not set on {ns} or {named(unset)}: the cluster-wide "
            "default decides whether plaintext is accepted, and the API does not show it"
        )
    return verified(
        f"Linkerd: {len(pods)} of {counted(len(pods), 'pod')} meshed; inbound policy "
        f"{namespace_policy or 'set per pod'} refuses plaintext"
    )


# --- network policies applied --------------------------------------------------------------------


async def policies_applied(
    cluster: Cluster, namespace: str | None = None, desired_file: Path | None = None
) -> Verdict:
    """The desired-state file's NetworkPolicies present in the cluster exactly as written."""
    ns = namespace or cluster.namespace
    if desired_file is None:
        return unknown("no desired-state file configured ([policies] desired_state_file)")
    try:
        # A file read: off the event loop like every other wait.
        desired = await asyncio.to_thread(load_desired, Path(desired_file), ns)
    except DesiredStateError as error:
        return unknown(str(error))
    if not desired:
        return unknown(f"{desired_file} holds no NetworkPolicy for namespace {ns}")
    try:
        actual = {
            str((obj.get("metadata") or {}).get("name")): obj
            for obj in await cluster.list(NETWORK_POLICY, ns)
        }
    except ClusterError as error:
        return refused(error)
    findings = compare(desired, actual, ns)
    missing = [f.name for f in findings if f.kind == "missing"]
    changed = [f"{f.name} ({f.detail})" for f in findings if f.kind == "changed"]
    emergency: list[str] = []
    extra: list[str] = []
    for finding in (f for f in findings if f.kind == "extra"):
        labels = (actual[finding.name].get("metadata") or {}).get("labels") or {}
        (emergency if labels.get("emergency") == "true" else extra).append(finding.name)
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {len(desired)} desired policies missing: {named(missing)}"
        )
    if changed:
        problems.append(f"changed in the cluster: {named(changed)}")
    if extra:
        problems.append(f"not in the desired state: {named(extra)}")
    note = f"emergency policies still applied: {named(emergency)}" if emergency else ""
    if problems:
        return not_verified("; ".join(problems + ([note] if note else [])))
    seen = (f"{len(desired)} of {counted(len(desired), 'policy')} of {desired_file} "
            "applied as written")
    return verified(f"{seen}; {note}" if note else seen)
