"""`capture`: the evidence bundle of the runbook's "Gather Evidence" and "Analyze Network Flows".

Each piece is read from the cluster, stored as evidence (with its sha256) tied
to the capture's action ID, and reported to the progress sink as it goes. A
piece that fails is reported and named in the outcome; the others are kept.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from actions.kube.cluster import (
    EVENT,
    ISTIO_AUTHORIZATION_POLICY,
    ISTIO_PEER_AUTHENTICATION,
    LINKERD_AUTHORIZATION_POLICY,
    LINKERD_MESH_TLS_AUTHENTICATION,
    LINKERD_SERVER,
    LINKERD_SERVER_AUTHORIZATION,
    NETWORK_POLICY,
    POD,
    Cluster,
    ClusterError,
)
from actions.kube.mesh import MESH_GROUPS, detect_mesh
from actions.runbook.model import ActionOutcome, ActionPreview, CaptureProgress, ProgressSink
from actions.runbook.pipeline import Plan, PlanContext
from store.wording import counted

if TYPE_CHECKING:
    from actions.runbook.pipeline import RunbookActions

FALCO_TAIL = 100
DNS_NAMESPACE, DNS_SELECTOR = "kube-system", "k8s-app=kube-dns"
APP_TAIL = 1000
TRAFFIC_QUERY = "rate(istio_tcp_received_bytes_total[5m])"
MESH_POLICY_KINDS = (
    ISTIO_PEER_AUTHENTICATION, ISTIO_AUTHORIZATION_POLICY, LINKERD_SERVER,
    LINKERD_SERVER_AUTHORIZATION, LINKERD_AUTHORIZATION_POLICY, LINKERD_MESH_TLS_AUTHENTICATION,
)  # fmt: skip


@dataclass(frozen=True)
class Piece:
    """One piece of evidence: a file name, a media type and how to read it."""

    name: str
    media_type: str
    source: str
    read: Callable[[Cluster], Awaitable[bytes]]


def _yaml(items: list[dict[str, Any]]) -> bytes:
    document = {"apiVersion": "v1", "kind": "List", "items": items}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()


async def _logs(
    cluster: Cluster,
    namespace: str,
    selector: str,
    *,
    tail: int | None = None,
    since: int | None = None,
    keep: Callable[[str], bool] | None = None,
) -> bytes:
    pods = await cluster.list(POD, namespace, label_selector=selector)
    if not pods:
        raise ClusterError("not-found", f"no pod with {selector} in {namespace}")
    parts = []
    for pod in pods:
        name = pod["metadata"]["name"]
        text = await cluster.pod_log(name, namespace, tail_lines=tail, since_seconds=since)
        lines = [line for line in text.splitlines() if keep is None or keep(line)]
        parts.append(f"==> {namespace}/{name} <==\n" + "".join(f"{line}\n" for line in lines))
    return "".join(parts).encode()


def pieces(ctx: PlanContext) -> list[Piece]:
    request, ns = ctx.request, ctx.namespace

    async def events(cluster: Cluster) -> bytes:
        items = await cluster.list(EVENT, ns)
        items.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        return _yaml(items)

    async def policies(cluster: Cluster) -> bytes:
        return _yaml(await cluster.list(NETWORK_POLICY, ns))

    async def mesh_policies(cluster: Cluster) -> bytes:
        return _yaml(await _mesh_policies(cluster, ns))

    async def falco(cluster: Cluster) -> bytes:
        return await _logs(
            cluster, request.falco_namespace, request.falco_selector, tail=FALCO_TAIL
        )

    async def app(cluster: Cluster) -> bytes:
        return await _logs(cluster, ns, f"app={request.service}", tail=APP_TAIL)

    async def dns(cluster: Cluster) -> bytes:
        domain = (request.domain or "").lower().rstrip(".")
        return await _logs(
            cluster,
            DNS_NAMESPACE,
            DNS_SELECTOR,
            since=request.since_seconds,
            keep=(lambda line: domain in line.lower()) if domain else None,
        )

    async def traffic(cluster: Cluster) -> bytes:
        if request.prometheus_url:
            return await _prometheus_direct(request.prometheus_url, cluster.timeout)
        namespace, service, port = request.prometheus_service
        return await cluster.service_proxy(
            namespace, f"{service}:{port}", "api/v1/query", query={"query": TRAFFIC_QUERY}
        )

    found = [
        Piece(f"events-{ns}.yaml", "application/yaml", f"kubectl get events -n {ns}", events),
        Piece(
            "falco-logs.txt",
            "text/plain",
            f"kubectl logs -n {request.falco_namespace} -l {request.falco_selector} "
            f"--tail={FALCO_TAIL}",
            falco,
        ),
        Piece(
            f"networkpolicies-{ns}.yaml",
            "application/yaml",
            f"kubectl get networkpolicies -n {ns} -o yaml",
            policies,
        ),
        Piece(
            f"mesh-policies-{ns}.yaml",
            "application/yaml",
            f"kubectl get peerauthentication,authorizationpolicy -n {ns} -o yaml "
            "(or Linkerd's server,serverauthorization,authorizationpolicy,"
            "meshtlsauthentication: the kinds served)",
            mesh_policies,
        ),
    ]
    if request.service:
        found.append(
            Piece(
                f"logs-{request.service}.txt",
                "text/plain",
                f"kubectl logs -n {ns} -l app={request.service} --tail={APP_TAIL}",
                app,
            )
        )
    grep = f" | grep {request.domain}" if request.domain else ""
    found.append(
        Piece(
            "coredns-logs.txt",
            "text/plain",
            f"kubectl logs -n {DNS_NAMESPACE} -l {DNS_SELECTOR} "
            f"--since={request.since_seconds}s{grep}",
            dns,
        )
    )
    found.append(
        Piece(
            "prometheus-tcp-received-rate.json",
            "application/json",
            f"prometheus query {TRAFFIC_QUERY}",
            traffic,
        )
    )
    return found


async def _mesh_policies(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    """The policies of the mesh whose policy API is served; with both served, the one
    mesh-deny would detect, else Istio's (the runbook's first)."""
    served = [mesh for mesh, group in MESH_GROUPS.items() if group in await cluster.api_groups()]
    if not served:
        raise ClusterError("not-found", "no service mesh policy API is served "
                                        "(neither security.istio.io nor policy.linkerd.io)")
    mesh = served[0]
    if len(served) > 1:
        try:
            mesh = (await detect_mesh(cluster))[0] or mesh
        except ClusterError:
            pass  # may not read namespaces: Istio's, as before
    found = []
    for kind in MESH_POLICY_KINDS:
        if kind.api_version.partition("/")[0] == MESH_GROUPS[mesh]:
            found += await cluster.list(kind, namespace)
    return found


async def _prometheus_direct(base_url: str, seconds: float) -> bytes:
    """The query straight from a configured Prometheus URL (no cluster credentials sent)."""
    import httpx

    url = base_url.rstrip("/") + "/api/v1/query"
    doing = f"query Prometheus at {base_url}"
    try:
        async with httpx.AsyncClient(timeout=seconds) as client:
            answer = await client.get(url, params={"query": TRAFFIC_QUERY})
    except httpx.TimeoutException as error:
        raise ClusterError("timeout", f"{doing}: timed out after {seconds:g} s") from error
    except httpx.HTTPError as error:
        raise ClusterError("unreachable", f"{doing}: {error}") from error
    if answer.status_code != 200:
        raise ClusterError(
            "server-error", f"{doing}: HTTP {answer.status_code}: {answer.text[:300]}"
        )
    return answer.content


async def plan(ctx: PlanContext) -> Plan:
    result = Plan()
    result.pieces = [p.name for p in pieces(ctx)]
    ns = ctx.namespace
    result.reads = [
        ("list", "", "events", None, ns),
        ("list", "", "pods", None, ctx.request.falco_namespace),
        ("get", "", "pods", "log", ctx.request.falco_namespace),
        ("list", "networking.k8s.io", "networkpolicies", None, ns),
        ("list", "security.istio.io", "peerauthentications", None, ns),
        ("list", "security.istio.io", "authorizationpolicies", None, ns),
        ("list", "", "pods", None, DNS_NAMESPACE),
        ("get", "", "pods", "log", DNS_NAMESPACE),
    ]
    if not ctx.request.prometheus_url:
        result.reads.append(("get", "", "services", "proxy", ctx.request.prometheus_service[0]))
    if ctx.request.service:
        result.reads += [("list", "", "pods", None, ns), ("get", "", "pods", "log", ns)]
    if not ctx.request.domain:
        result.notes.append("no --domain: CoreDNS logs are kept whole, not filtered")
    result.notes.append("reads only: nothing in the cluster changes")
    result.no_op = None
    return result


async def _report(sink: ProgressSink | None, progress: CaptureProgress) -> None:
    if sink is None:
        return
    answer = sink(progress)
    if inspect.isawaitable(answer):
        await answer


async def run(
    actions: RunbookActions,
    preview: ActionPreview,
    outcome: ActionOutcome,
    sink: ProgressSink | None,
) -> None:
    """Gather every piece, storing each as evidence as soon as it is read."""
    context = PlanContext(
        actions.cluster,
        actions.record,
        preview.request,
        str(preview.incident_id),
        preview.at,
        run_in_record=actions.in_record,
    )
    wanted = pieces(context)
    failed: list[str] = []
    for index, piece in enumerate(wanted, start=1):
        await _report(sink, CaptureProgress(piece.name, index, len(wanted), "started"))
        try:
            content = await piece.read(actions.cluster)
        except ClusterError as error:
            failed.append(f"{piece.name}: {error.message}")
            await _report(
                sink,
                CaptureProgress(piece.name, index, len(wanted), "failed", message=error.message),
            )
            continue
        item = await actions.in_record(
            actions.record.evidence.add,
            preview.incident_id,
            piece.name,
            content,
            source=piece.source,
            media_type=piece.media_type,
            action_id=outcome.action_id,
        )
        outcome.evidence.append(
            {
                "name": item.name,
                "sha256": item.sha256,
                "size": item.size,
                "evidence_id": item.id,
                "source": piece.source,
            }
        )
        await _report(
            sink,
            CaptureProgress(
                piece.name, index, len(wanted), "stored", sha256=item.sha256, size=item.size
            ),
        )
    stored = len(outcome.evidence)
    if failed:
        outcome.status, outcome.cause = "failed", "partial"
        outcome.message = (f"captured {stored} of {counted(len(wanted), 'piece')}; missing: "
                           + "; ".join(failed))
    else:
        outcome.status, outcome.verified = "succeeded", True
        outcome.message = f"captured {counted(stored, 'piece')} of evidence"
    outcome.data["pieces"] = json.loads(json.dumps(outcome.evidence))
