"""`mesh-deny SERVICE`: the runbook's service-mesh containment, for Istio or Linkerd.

Istio: AuthorizationPolicy `emergency-deny-<unix time>` selecting app=SERVICE
with no rules (an ALLOW policy that matches nothing: every request to the
workload is denied, unless another ALLOW policy for it matches; the preview
lists those).

Linkerd: authorizations only ever allow; the server's default policy denies.
So both Linkerd objects (the runbook's ServerAuthorization v1beta1 and the
current AuthorizationPolicy v1alpha1, backed by a MeshTLSAuthentication)
authorize only an identity no proxy can hold (`*.invalid` is reserved), which
keeps them valid (the CRDs require a client) without admitting anyone. The
preview lists the authorizations that still admit clients.
"""

from __future__ import annotations

from typing import Any

from actions.cluster import (
    ISTIO_AUTHORIZATION_POLICY,
    LINKERD_AUTHORIZATION_POLICY,
    LINKERD_MESH_TLS_AUTHENTICATION,
    LINKERD_SERVER,
    LINKERD_SERVER_AUTHORIZATION,
    NAMESPACE,
    Cluster,
    ClusterError,
    Kind,
)
from actions.runbook.checks import emergency_metadata
from actions.runbook.model import Change, Problem
from actions.runbook.pipeline import Plan, PlanContext

NOBODY = "nobody.emergency-deny.invalid"


async def detect_mesh(cluster: Cluster) -> tuple[str | None, str]:
    """("istio" | "linkerd" | None, how it was decided)."""
    groups = await cluster.api_groups()
    istio, linkerd = "security.istio.io" in groups, "policy.linkerd.io" in groups
    if istio != linkerd:
        return ("istio" if istio else "linkerd"), "only its policy API is served"
    if not istio:
        return None, "neither security.istio.io nor policy.linkerd.io is served"
    present = {
        ns
        for ns in ("istio-system", "linkerd")
        if await cluster.get_or_none(NAMESPACE, ns) is not None
    }
    if present == {"istio-system"}:
        return "istio", "both policy APIs are served; only istio-system exists"
    if present == {"linkerd"}:
        return "linkerd", "both policy APIs are served; only the linkerd namespace exists"
    return None, (
        "both policy APIs are served and "
        + (
            "both istio-system and linkerd exist"
            if present
            else "neither istio-system nor linkerd exists"
        )
    )


def _selects(selector: dict[str, Any] | None, service: str) -> bool:
    labels = (selector or {}).get("matchLabels")
    return not selector or not labels or labels.get("app") == service


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
    existing = await ctx.cluster.list(ISTIO_AUTHORIZATION_POLICY, ctx.namespace)
    allowing = [
        p["metadata"]["name"]
        for p in existing
        if (p.get("spec") or {}).get("action", "ALLOW") == "ALLOW"
        and (p.get("spec") or {}).get("rules")
        and _selects((p.get("spec") or {}).get("selector"), service)
    ]
    if allowing:
        result.notes.append(
            f"other ALLOW policies may still admit traffic to app={service}: "
            f"{', '.join(allowing)} (Istio allows a request that any ALLOW policy matches)"
        )
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
    authorizations = await ctx.cluster.list(LINKERD_SERVER_AUTHORIZATION, ctx.namespace)
    admitting = [
        a["metadata"]["name"]
        for a in authorizations
        if ((a.get("spec") or {}).get("server") or {}).get("name") == server
    ]
    policies = await ctx.cluster.list(LINKERD_AUTHORIZATION_POLICY, ctx.namespace)
    admitting += [
        p["metadata"]["name"]
        for p in policies
        if ((p.get("spec") or {}).get("targetRef") or {}).get("name") == server
    ]
    if admitting:
        result.notes.append(
            f"Linkerd authorizations only allow: {', '.join(admitting)} still admit clients "
            f"to {server}; delete them too for a full block"
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
