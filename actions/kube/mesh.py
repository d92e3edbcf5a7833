"""Which service mesh the cluster runs, from the policy APIs it serves and its namespaces.

Below the runbook's actions and the checklists' checks: both ask it.
"""

from __future__ import annotations

from actions.kube.cluster import NAMESPACE, Cluster

# Each mesh by the API group of its authorization policies.
MESH_GROUPS = {"istio": "security.istio.io", "linkerd": "policy.linkerd.io"}


async def detect_mesh(cluster: Cluster) -> tuple[str | None, str]:
    """("istio" | "linkerd" | None, how it was decided)."""
    groups = await cluster.api_groups()
    istio, linkerd = MESH_GROUPS["istio"] in groups, MESH_GROUPS["linkerd"] in groups
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
