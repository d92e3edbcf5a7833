"""Snapshots of the Mesh and NetworkPolicies panes zoomed, and the header at 120 columns.

The panes are fed the live sources' own dataclasses (what `LiveSources` hands the
console), so the snapshots show what a live feed shows, deterministically.
Update after a deliberate change with
`pytest tests/test_tui_snapshots_panes.py --snapshot-update`, then look at the svgs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from actions.policy.drift import DriftFinding
from actions.runbook.status import ProxySync
from actions.sources.mesh import (
    AuthorizationPolicyInfo,
    MeshSnapshot,
    PeerAuthenticationInfo,
    PodMeshState,
)
from actions.sources.policies import DriftReport, PolicyInfo, PolicySnapshot
from actions.sources.traffic import TrafficSample
from actions.sources.warning_events import WarningEvent
from store import Record
from tests.plugins.tui import AppFactory
from tui.screens.war_room_base import SourceItem
from tui.views.cluster_views import policy_rows
from tui.widgets.header import WarRoomHeader
from tui.widgets.policy_pane import PolicyPane

LARGE = (160, 48)
SMALL = (80, 24)
SYNCED = {"CDS": "SYNCED", "LDS": "SYNCED", "EDS": "SYNCED", "RDS": "SYNCED"}



@pytest.fixture
def incident(record: Record, clock: Any) -> str:
    opened = record.incidents.open("mTLS failures on billing and tts-router", severity="P0",
                                   drill=True)
    clock.advance(minutes=13, seconds=5)
    return opened.id


def live_items() -> list[object]:
    """One of each item the mesh and policy panes take, as the live sources build them."""
    mesh = MeshSnapshot(
        namespace="voicehive", mesh="istio", mesh_detail="only its policy API is served",
        proxies=(
            ProxySync("orchestrator-6f8d9c7b5d-k2x9p.voicehive", "Kubernetes", "sidecar",
                      "1.24.3", SYNCED),
            ProxySync("tts-router-7c9d8e6f5a-q7w3e.voicehive", "Kubernetes", "sidecar",
                      "1.24.3", {**SYNCED, "CDS": "STALE (Never Acknowledged)"}),
            ProxySync("billing-5f6d7c8b9-x2x2x.voicehive", "Kubernetes", "sidecar", "1.24.3",
                      {**SYNCED, "ECDS": "NOT SENT"}),
        ),
        out_of_sync=("tts-router-7c9d8e6f5a-q7w3e.voicehive",),
        peer_authentications=(
            PeerAuthenticationInfo("istio-system", "default", None, "STRICT", {}, "mesh"),
            PeerAuthenticationInfo("voicehive", "default", None, "STRICT", {"8080": "DISABLE"},
                                   "namespace"),
            PeerAuthenticationInfo("voicehive", "legacy-billing", {"app": "billing"},
                                   "PERMISSIVE", {}, "workload"),
        ),
        authorization_policies=(
            AuthorizationPolicyInfo("voicehive", "allow-orchestrator-to-tts", "ALLOW",
                                    {"app": "tts-router"}, 1),
            AuthorizationPolicyInfo("voicehive", "deny-all-orchestrator", "ALLOW",
                                    {"app": "orchestrator"}, 0),
        ),
        linkerd_checks=(), problems=(),
        workloads=(PodMeshState("voicehive", "legacy-cron-28391-abcde", False, True),),
    )
    traffic = [
        TrafficSample(float(step), {"voicehive/tts-router": 1200.0 + 300 * (step % 5),
                                    "voicehive/orchestrator": 52000.0 - 4000 * step,
                                    "voicehive/billing": 800.0},
                      {"voicehive/billing": 0.1 * step, "voicehive/tts-router": 0.0},
                      {"voicehive/billing": 1.5} if step > 8 else {})
        for step in range(12)
    ]
    event = WarningEvent("voicehive", "tts.1", "uid-1", "Unhealthy",
                         "Readiness probe failed: HTTP probe failed with statuscode: 503",
                         "pod/tts-router-7c9d8e6f5a-q7w3e", 4, "2026-03-14T09:02:00Z",
                         "2026-03-14T09:06:40Z", "kubelet")
    policies = PolicySnapshot("voicehive", (
        PolicyInfo("external-api-segmentation", {"matchLabels": {"app": "orchestrator"}},
                   ("Egress",), 0, 1, False, None),
        PolicyInfo("isolate-orchestrator", {"matchLabels": {"app": "orchestrator"}},
                   ("Ingress", "Egress"), 0, 0, True, "NSI-2026-03-14-001"),
        PolicyInfo("allow-monitoring", {"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["api", "worker"]}]},
            ("Ingress",), 2, 0, False, None),
    ))
    drift = DriftReport("voicehive", "infra/k8s/security/network-policies.yaml", (
        DriftFinding("changed", "allow-monitoring", "voicehive", "spec differs in ingress"),
        DriftFinding("extra", "isolate-orchestrator", "voicehive",
                     "in the cluster, not in the desired state (an emergency policy)"),
        DriftFinding("missing", "default-deny-ingress", "voicehive",
                     "in the desired state, not in the cluster"),
    ), (), ())
    return [mesh, *traffic, event, policies, drift]


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()
    # A DataTable measures its columns when idle: on a loaded machine a snapshot once
    # caught the policy table before that, at its header widths. Wait for it.
    for _ in range(100):
        tables = list(pilot.app.screen.query(DataTable))
        if not any(t._require_update_dimensions or t._updated_cells for t in tables):
            break
        await pilot.pause(0.02)
    await pilot.pause()


# The war room's first listing (with manifests, for the YAML view) before the live items.
LISTED = [
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "allow-monitoring", "namespace": "voicehive",
                  "labels": {"app.kubernetes.io/part-of": "voicehive"}},
     "spec": {"podSelector": {"matchExpressions": [
         {"key": "tier", "operator": "In", "values": ["api", "worker"]}]},
         "policyTypes": ["Ingress"],
         "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
                      "ports": [{"port": 9090, "protocol": "TCP"}]},
                     {"from": [{"ipBlock": {"cidr": "10.42.0.0/16"}}]}]}},
]


def _fed(*keys: str, health: bool = False, select: str | None = None
         ) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.app.workers.wait_for_complete()
        screen = pilot.app.screen
        screen.query_one(PolicyPane).show_policies(policy_rows(LISTED))
        for item in live_items():
            screen.post_message(SourceItem(item))
        if health:
            screen.query_one(WarRoomHeader).set_health(
                {"falco": "connected", "events": "connected", "policies": "connected",
                 "drift": "connected", "mesh": "connected", "traffic": "retrying",
                 "hubble": "absent"})
        await _settle(pilot)
        if select is not None:
            table = screen.query_one("#policy-table", DataTable)
            table.move_cursor(row=table.get_row_index(select))
        await pilot.press(*keys)
        await _settle(pilot)

    return run_before


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_mesh_pane_zoomed(snap_compare: Any, make_app: AppFactory, incident: str,
                          theme: str) -> None:
    keys = ("2", "z") if theme == "dark" else ("ctrl+t", "2", "z")
    assert snap_compare(make_app(), terminal_size=LARGE, run_before=_fed(*keys))


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_policy_pane_zoomed_with_drift_and_yaml(snap_compare: Any, make_app: AppFactory,
                                                incident: str, theme: str) -> None:
    keys = ("3", "z", "y") if theme == "dark" else ("ctrl+t", "3", "z", "y")
    assert snap_compare(make_app(), terminal_size=LARGE,
                        run_before=_fed(*keys, select="voicehive/allow-monitoring"))


def test_header_at_120_columns_light(snap_compare: Any, make_app: AppFactory,
                                     incident: str) -> None:
    """Two rows: badge to clocks, then the health marks and the elided context."""
    app = make_app(context="arn:aws:eks:eu-west-1:123456789012:cluster/voicehive-prod")
    assert snap_compare(app, terminal_size=(120, 40),
                        run_before=_fed("ctrl+t", "2", health=True))


def test_mesh_tab_at_80x24(snap_compare: Any, make_app: AppFactory, incident: str) -> None:
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=_fed("2", health=True))


def test_war_room_fed_at_160x48(snap_compare: Any, make_app: AppFactory, incident: str) -> None:
    assert snap_compare(make_app(), terminal_size=LARGE, run_before=_fed(health=True))
