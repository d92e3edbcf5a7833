"""The NetworkPolicy and Mesh panes, read from the drill cluster through the official client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from actions.kube.cluster import ClusterOptions, connect
from actions.policy.selectors import selector_text
from tests.plugins.tui import AppFactory
from tui.views.cluster_views import mtls_rows, policy_rows
from tui.widgets.mesh_pane import MeshPane
from tui.widgets.policy_pane import PolicyPane


async def test_policies_and_mesh_come_from_the_drill_cluster(
    make_app: AppFactory, drill_kubeconfig: Path
) -> None:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig)))
    try:
        app = make_app(cluster=cluster, context=cluster.context)
        async with app.run_test(size=(160, 48)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            policies = app.screen.query_one(PolicyPane)
            assert "voicehive/external-api-segmentation" in policies.policies
            row = policies.policies["voicehive/external-api-segmentation"]
            assert row.selector == "app=orchestrator"
            assert row.types == "Egress"
            assert not row.emergency
            await pilot.press("3", "y")
            await pilot.pause()
            assert policies.has_class("-yaml")
            shown = str(policies.query_one("#policy-yaml").render())
            assert "169.254.169.254/32" in shown
            mesh = app.screen.query_one(MeshPane)
            table = mesh.query_one(DataTable)
            assert table.row_count >= 2  # the PeerAuthentication and the AuthorizationPolicy
            assert "istio" in str(mesh.query_one("#mesh-state").render())
    finally:
        await cluster.close()


async def test_without_a_cluster_the_panes_say_so(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for pane in (app.screen.query_one(PolicyPane), app.screen.query_one(MeshPane)):
            assert "absent: no cluster connection" in str(pane.query_one(".pane Static").render())


async def test_in_review_the_cluster_panes_say_they_are_not_read(make_app: AppFactory) -> None:
    """Review is offline by design: its panes say so instead of reading as an error."""
    app = make_app(mode="review")
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for pane in (app.screen.query_one(PolicyPane), app.screen.query_one(MeshPane)):
            shown = str(pane.query_one(".pane Static").render())
            assert shown.startswith("not read in review"), shown


def test_drift_and_emergency_flags() -> None:
    live: list[dict[str, Any]] = [
        {"metadata": {"name": "default-deny", "namespace": "voicehive"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"metadata": {"name": "isolate-orchestrator", "namespace": "voicehive",
                      "labels": {"emergency": "true", "created-by": "incident-response"}},
         "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}},
                  "policyTypes": ["Ingress", "Egress"]}},
        {"metadata": {"name": "hand-made", "namespace": "voicehive"},
         "spec": {"podSelector": {"matchLabels": {"app": "x"}}}},
    ]
    desired: list[dict[str, Any]] = [
        {"kind": "NetworkPolicy", "metadata": {"name": "default-deny"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {"kind": "NetworkPolicy", "metadata": {"name": "allow-dns"}, "spec": {}},
    ]
    rows = {row.name: row for row in policy_rows(live, desired)}
    assert rows["default-deny"].drift == "changed"
    assert rows["default-deny"].selector == "<all pods>"
    assert rows["isolate-orchestrator"].emergency
    assert rows["isolate-orchestrator"].drift == ""
    assert rows["hand-made"].drift == "not desired"
    assert rows["allow-dns"].drift == "missing"
    assert {row.drift for row in policy_rows(live, None)} == {"?"}


def test_permissive_and_disabled_mtls_are_flagged() -> None:
    rows = mtls_rows([
        {"metadata": {"name": "default", "namespace": "voicehive"},
         "spec": {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8080": {"mode": "DISABLE"}}}},
        {"metadata": {"name": "legacy", "namespace": "voicehive"},
         "spec": {"selector": {"matchLabels": {"app": "tts-router"}},
                  "mtls": {"mode": "PERMISSIVE"}}},
    ])
    flagged = {(row.name, row.state) for row in rows if row.flagged}
    assert flagged == {("voicehive/default:8080", "DISABLE"), ("voicehive/legacy", "PERMISSIVE")}
    assert selector_text({"matchExpressions": [{"key": "tier", "operator": "In",
                                                "values": ["a", "b"]}]}) == "tier in (a,b)"


async def test_a_policy_applied_again_after_a_drift_check_found_it_missing_is_one_row(
    make_app: AppFactory,
) -> None:
    """The drift source said "missing"; the live listing then shows it re-applied (the
    runbook's fix for drift). Both arrive before the next drift check: one row, drift
    unknown, and the console keeps running (it once died of a DuplicateKey here)."""
    from actions.policy.drift import DriftFinding
    from actions.sources.policies import DriftReport, PolicyInfo, PolicySnapshot

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.screen.query_one(PolicyPane)
        missing = DriftFinding("missing", "orchestrator-ingress", "voicehive", "deleted")
        pane.show_drift(DriftReport("voicehive", "desired.yaml", (missing,), (missing,), ()))
        reapplied = PolicyInfo("orchestrator-ingress", {"matchLabels": {"app": "orchestrator"}},
                               ("Ingress",), 1, 0, emergency=False, incident=None)
        pane.show_snapshot(PolicySnapshot("voicehive", (reapplied,)))
        await pilot.pause()
        table = pane.query_one(DataTable)
        assert table.row_count == 1
        row = pane.policies["voicehive/orchestrator-ingress"]
        assert (row.drift, row.selector) == ("?", "app=orchestrator")
        assert app.is_running
