"""Reading what the NetworkPolicy and Mesh panes show, through the action layer's `Cluster`.

Each loader returns rows or a one-line reason why there are none
("forbidden: ...", "absent: ..."), never raises: a failed cluster call must
leave a pane saying so, not stop the console.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from actions.cluster import (
    ISTIO_AUTHORIZATION_POLICY,
    ISTIO_PEER_AUTHENTICATION,
    NETWORK_POLICY,
    ClusterError,
)
from tui.widgets.cluster_views import MeshView, PolicyRow, authz_rows, mtls_rows, policy_rows

if TYPE_CHECKING:
    from actions.cluster import Cluster


def _read_desired(path: Path) -> list[dict[str, Any]] | None:
    """The desired NetworkPolicies from the policy file; None when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    except yaml.YAMLError:
        return None


def _reason(error: ClusterError) -> str:
    if error.cause == "forbidden":
        return f"forbidden: {error}"
    if error.cause == "not-found":
        return f"absent: {error}"
    return f"unavailable: {error}"


async def load_policies(
    cluster: Cluster, namespace: str, desired_file: Path | None
) -> tuple[list[PolicyRow], str | None]:
    """The namespace's NetworkPolicies with drift against `desired_file` (if it exists)."""
    desired = await asyncio.to_thread(_read_desired, desired_file) if desired_file else None
    try:
        items = await cluster.list(NETWORK_POLICY, namespace)
    except ClusterError as error:
        return [], _reason(error)
    return policy_rows(items, desired), None


async def load_mesh(cluster: Cluster, namespace: str) -> tuple[MeshView, str | None]:
    """Which mesh, and its mTLS settings and AuthorizationPolicies in the namespace."""
    from actions.runbook.mesh_deny import detect_mesh

    try:
        mesh, detail = await detect_mesh(cluster)
    except ClusterError as error:
        return MeshView(None), _reason(error)
    rows = []
    if mesh == "istio":
        try:
            rows += mtls_rows(await cluster.list(ISTIO_PEER_AUTHENTICATION, namespace))
            rows += authz_rows(await cluster.list(ISTIO_AUTHORIZATION_POLICY, namespace))
        except ClusterError as error:
            return MeshView(mesh, detail), _reason(error)
    return MeshView(mesh, detail, tuple(rows)), None
