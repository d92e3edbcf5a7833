"""`mesh-deny SERVICE`: the runbook's service-mesh containment, for Istio or Linkerd.

Istio: AuthorizationPolicy `emergency-deny-<unix time>` selecting app=SERVICE
with no rules (an ALLOW policy that matches nothing: every request to the
workload is denied, unless another ALLOW policy for it matches).

Linkerd: authorizations only ever allow; the server's default policy denies.
So both Linkerd objects (the runbook's ServerAuthorization v1beta1 and the
current AuthorizationPolicy v1alpha1, backed by a MeshTLSAuthentication)
authorize only an identity no proxy can hold (`*.invalid` is reserved), which
keeps them valid (the CRDs require a client) without admitting anyone.

Either way the preview computes, with the semantics the drill plays
(actions/policy), which callers still get through once the objects exist
(another ALLOW policy or authorization admits them), which pods of the app run
without a proxy (nothing is enforced there), and says what mesh policy cannot
stop: the app's own outbound traffic.
"""

from __future__ import annotations

from typing import Any

from actions.kube.cluster import (
    ISTIO_AUTHORIZATION_POLICY,
    ISTIO_PEER_AUTHENTICATION,
    LINKERD_AUTHORIZATION_POLICY,
    LINKERD_MESH_TLS_AUTHENTICATION,
    LINKERD_SERVER,
    LINKERD_SERVER_AUTHORIZATION,
    NAMESPACE,
    NETWORK_POLICY,
    POD,
    SERVICE,
    ClusterError,
    Kind,
)
from actions.kube.mesh import detect_mesh
from actions.policy import ClusterView
from actions.policy.reachability import callers_getting_through
from actions.policy.selectors import labels_of, selector_matches
from actions.runbook.checks import emergency_metadata
from actions.runbook.model import Change, Problem
from actions.runbook.pipeline import Plan, PlanContext

NOBODY = "nobody.emergency-deny.invalid"
LINKERD_NETWORK_AUTHENTICATION = Kind(
    "policy.linkerd.io/v1alpha1", "NetworkAuthentication", "networkauthentications"
)


def _create(kind: Kind, body: dict[str, Any], summary: str) -> Change:
    meta = body["metadata"]
    return Change(
        "create", kind.api_version, kind.kind, meta["namespace"], meta["name"], summary, body=body
    )


async def plan(ctx: PlanContext) -> Plan:
    result = Plan()
    mesh = ctx.request.mesh
    if mesh == "auto":
        detected, how = await detect_mesh(ctx.cluster)
        if detected is None:
            result.problems.append(
                Problem(
                    "not-found",
                    f"cannot tell which mesh runs here: {how}; pass --mesh istio or --mesh linkerd",
                )
            )
            return result
        mesh = detected
        result.notes.append(f"mesh: {mesh} (detected: {how})")
    else:
        result.notes.append(f"mesh: {mesh} (as asked)")
    builder = _istio if mesh == "istio" else _linkerd
    try:
        await builder(ctx, result)
        result.notes += await _who_gets_through(ctx, mesh, result.changes)
    except ClusterError as error:
        if error.cause != "not-found":
            raise
        result.problems.append(
            Problem("not-found", f"the {mesh} policy API is not served: {error.message}")
        )
    result.intent_data = {"mesh": mesh, "creates": [c.ref() for c in result.changes]}
    return result


async def _istio(ctx: PlanContext, result: Plan) -> None:
    service = str(ctx.request.target)
    name = f"emergency-deny-{ctx.unix_time}"
    body = {
        "apiVersion": ISTIO_AUTHORIZATION_POLICY.api_version,
        "kind": ISTIO_AUTHORIZATION_POLICY.kind,
        "metadata": emergency_metadata(name, ctx.namespace, ctx.incident_id, "mesh-deny"),
        "spec": {"selector": {"matchLabels": {"app": service}}},
    }
    result.changes.append(
        _create(
            ISTIO_AUTHORIZATION_POLICY,
            body,
            f"created Istio AuthorizationPolicy {name} (deny all to app={service})",
        )
    )


async def _linkerd(ctx: PlanContext, result: Plan) -> None:
    service = str(ctx.request.target)
    server = f"{service}-server"
    stamp = ctx.unix_time
    if await ctx.cluster.get_or_none(LINKERD_SERVER, server, ctx.namespace) is None:
        result.notes.append(
            f"no Linkerd Server {server} in {ctx.namespace}: these authorizations attach to "
            "nothing until it exists, and the proxy's default policy decides"
        )
    authentication = f"emergency-nobody-{stamp}"
    meta = emergency_metadata  # short alias for the three manifests below
    result.changes += [
        _create(
            LINKERD_SERVER_AUTHORIZATION,
            {
                "apiVersion": LINKERD_SERVER_AUTHORIZATION.api_version,
                "kind": LINKERD_SERVER_AUTHORIZATION.kind,
                "metadata": meta(
                    f"emergency-block-{stamp}", ctx.namespace, ctx.incident_id, "mesh-deny"
                ),
                "spec": {
                    "server": {"name": server},
                    "client": {"meshTLS": {"identities": [NOBODY]}},
                },
            },
            f"created Linkerd ServerAuthorization emergency-block-{stamp} for {server} "
            "(admits no client)",
        ),
        _create(
            LINKERD_MESH_TLS_AUTHENTICATION,
            {
                "apiVersion": LINKERD_MESH_TLS_AUTHENTICATION.api_version,
                "kind": LINKERD_MESH_TLS_AUTHENTICATION.kind,
                "metadata": meta(authentication, ctx.namespace, ctx.incident_id, "mesh-deny"),
                "spec": {"identities": [NOBODY]},
            },
            f"created Linkerd MeshTLSAuthentication {authentication} (an identity no proxy holds)",
        ),
        _create(
            LINKERD_AUTHORIZATION_POLICY,
            {
                "apiVersion": LINKERD_AUTHORIZATION_POLICY.api_version,
                "kind": LINKERD_AUTHORIZATION_POLICY.kind,
                "metadata": meta(
                    f"emergency-deny-{stamp}", ctx.namespace, ctx.incident_id, "mesh-deny"
                ),
                "spec": {
                    "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": server},
                    "requiredAuthenticationRefs": [
                        {
                            "group": "policy.linkerd.io",
                            "kind": "MeshTLSAuthentication",
                            "name": authentication,
                        }
                    ],
                },
            },
            f"created Linkerd AuthorizationPolicy emergency-deny-{stamp} for {server} "
            "(admits no client)",
        ),
    ]


async def _listed(
    ctx: PlanContext, kind: Kind, namespaces: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Objects of a kind in these namespaces; a kind the cluster does not serve lists nothing."""
    found: list[dict[str, Any]] = []
    for namespace in dict.fromkeys(namespaces):
        try:
            found += await ctx.cluster.list(kind, namespace)
        except ClusterError as error:
            if error.cause not in ("not-found", "forbidden"):
                raise
    return found


async def _who_gets_through(ctx: PlanContext, mesh: str, changes: list[Change]) -> list[str]:
    """Which callers still reach app=SERVICE once the emergency objects exist, and why.

    The same semantics the drill cluster plays (actions/policy), over the pods, Services,
    NetworkPolicies and mesh policies the preview can read, plus the objects it would create.
    """
    service = str(ctx.request.target)
    namespace = ctx.namespace
    try:
        clients = await ctx.cluster.list(POD, all_namespaces=True)
    except ClusterError as error:
        if error.cause != "forbidden":
            raise
        clients = await ctx.cluster.list(POD, namespace)
    targets = [
        p
        for p in clients
        if (p["metadata"].get("namespace") == namespace and labels_of(p).get("app") == service)
    ]
    notes = []
    proxy = "istio-proxy" if mesh == "istio" else "linkerd-proxy"
    bare = [
        p["metadata"]["name"]
        for p in targets
        if not any(c.get("name") == proxy for c in (p.get("spec") or {}).get("containers") or [])
    ]
    if bare:
        notes.append(
            f"not protected: {', '.join(bare)} run without {proxy}, so the mesh "
            "enforces nothing there"
        )
    ports = sorted(
        {
            int(port.get("targetPort") if isinstance(port.get("targetPort"), int) else port["port"])
            for svc in await ctx.cluster.list(SERVICE, namespace)
            if any(
                selector_matches(
                    {"matchLabels": (svc.get("spec") or {}).get("selector") or {}}, labels_of(p)
                )
                for p in targets
            )
            and (svc.get("spec") or {}).get("selector")
            for port in (svc.get("spec") or {}).get("ports") or []
            if isinstance(port.get("port"), int)
        }
    )
    namespaces = tuple(sorted({str(p["metadata"].get("namespace")) for p in clients}))
    kinds = [NETWORK_POLICY]
    if mesh == "istio":
        kinds += [ISTIO_AUTHORIZATION_POLICY, ISTIO_PEER_AUTHENTICATION]
        mesh_namespaces: tuple[str, ...] = (namespace, "istio-system")
    else:
        kinds += [
            LINKERD_SERVER,
            LINKERD_SERVER_AUTHORIZATION,
            LINKERD_AUTHORIZATION_POLICY,
            LINKERD_MESH_TLS_AUTHENTICATION,
            LINKERD_NETWORK_AUTHENTICATION,
        ]
        mesh_namespaces = (namespace,)
    objects: list[dict[str, Any]] = [*clients]
    for kind in kinds:
        objects += await _listed(
            ctx, kind, namespaces if kind is NETWORK_POLICY else mesh_namespaces
        )
    objects += [c.body for c in changes if isinstance(c.body, dict)]
    try:
        objects += await ctx.cluster.list(NAMESPACE)
    except ClusterError as error:
        if error.cause != "forbidden":
            raise
    if targets and ports:
        through = callers_getting_through(ClusterView.of(objects), mesh, targets, ports, clients)
        if through:
            shown = "; ".join(
                f"{client} -> {server}:{port} ({verdict.why})"
                for client, server, port, verdict in through[:8]
            )
            more = f" and {len(through) - 8} more" if len(through) > 8 else ""
            notes.append(f"after this, still gets through: {shown}{more}")
        else:
            notes.append(
                f"after this, no pod the preview can see reaches app={service} on "
                f"{', '.join(map(str, ports))}"
            )
    elif targets:
        notes.append(f"no Service selects app={service}: which ports callers use is unknown")
    notes.append(
        f"cannot stop: app={service}'s own outbound traffic (mesh policy guards what arrives "
        "at its proxy: its DNS and uploads go on), traffic that bypasses the proxy (excluded "
        "ports, hostNetwork)"
    )
    return notes
