"""Reading what the NetworkPolicy and Mesh panes show, through the action layer's `Cluster`.

Each loader returns rows or a one-line reason why there are none
("forbidden: ...", "absent: ..."), never raises: a failed cluster call must
leave a pane saying so, not stop the console.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actions.kube.cluster import NETWORK_POLICY, ClusterError
from actions.policy.drift import DesiredStateError, compare, load_desired
from tui.views.cluster_views import (
    MeshView,
    PolicyRow,
    policy_rows,
    snapshot_view,
    with_findings,
)

if TYPE_CHECKING:
    from actions.kube.cluster import Cluster


def _read_desired(path: Path, namespace: str) -> dict[str, dict[str, Any]] | None:
    """The desired NetworkPolicies by name; None when the file cannot be used."""
    try:
        return load_desired(path, namespace)
    except DesiredStateError:
        return None  # the drift source reports why; the pane shows drift as unknown


def _reason(error: ClusterError) -> str:
    if error.cause == "forbidden":
        return f"forbidden: {error}"
    if error.cause == "not-found":
        return f"absent: {error}"
    return f"unavailable: {error}"


async def load_policies(
    cluster: Cluster, namespace: str, desired_file: Path | None
) -> tuple[list[PolicyRow], str | None]:
    """The namespace's NetworkPolicies with drift against `desired_file` (if it exists).

    Drift is judged as the live drift source judges it (`actions.policy.drift`), so the
    pane says the same before and after the first live report.
    """
    desired = (await asyncio.to_thread(_read_desired, desired_file, namespace)
               if desired_file else None)
    try:
        items = await cluster.list(NETWORK_POLICY, namespace)
    except ClusterError as error:
        return [], _reason(error)
    rows = policy_rows(items, None)
    if desired is None:
        return rows, None
    actual = {str((item.get("metadata") or {}).get("name")): item for item in items}
    return with_findings(rows, compare(desired, actual, namespace), namespace), None


async def load_mesh(cluster: Cluster, namespace: str) -> tuple[MeshView, str | None]:
    """Which mesh and how it was found, proxy sync, mTLS modes and AuthorizationPolicies.

    One refresh of the live mesh monitor (`actions.sources.mesh.MeshMonitor`), so the
    first screen and the live updates show the same rows.
    """
    from actions.sources.mesh import MeshMonitor

    try:
        snapshot = await MeshMonitor(cluster, namespace).snapshot()
    except ClusterError as error:
        return MeshView(None), _reason(error)
    return snapshot_view(snapshot), None
