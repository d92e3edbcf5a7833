"""The Mesh and NetworkPolicies panes fed by the real live sources on the drill cluster.

The console runs the real sources (mesh monitor, Prometheus traffic, the policies
watch with drift, Warning events) through the official client against the drill
API server; what they hand over reaches the panes as `SourceItem`s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.widgets import DataTable

from actions.config import PolicySettings, Settings
from actions.drill.server import DrillServerThread
from actions.kube.cluster import Cluster
from actions.kube.streams import Backoff
from actions.sources.mesh import MeshMonitor
from actions.sources.policies import PolicyWatcher
from actions.sources.traffic import (
    DENIALS,
    MTLS_FAILURES,
    MTLS_FAILURES_BY_SOURCE,
    PLAINTEXT,
    TCP_RECEIVED,
    PrometheusClient,
    TrafficMonitor,
)
from actions.sources.warning_events import WarningEvents
from store import Record
from tests.plugins.tui import HOSTILE
from tests.plugins.waiting import eventually
from tui.app import WarRoomApp
from tui.safe import MARKER
from tui.screens.war_room_base import SourceItem
from tui.services import LiveSource, Services
from tui.widgets.mesh_pane import MeshPane
from tui.widgets.policy_pane import PolicyPane


def _synced(name: str, **overrides: str) -> dict[str, Any]:
    entry = {"cluster_id": "Kubernetes", "proxy": name, "proxy_type": "sidecar",
             "istio_version": "1.24.3"}
    for prefix in ("cluster", "listener", "endpoint", "route", "extensionconfig"):
        entry[f"{prefix}_sent"] = entry[f"{prefix}_acked"] = f"{prefix}-n1"
    entry.update(overrides)
    return entry


# istiod's /debug/syncz: one proxy in sync, one STALE (sent, not acked), one NOT SENT.
SYNCZ = [
    _synced("orchestrator-6f8d9c7b5d-k2x9p.voicehive"),
    _synced("tts-router-7c9d8e6f5a-q7w3e.voicehive", cluster_acked="cluster-n0"),
    _synced("billing-5f6d7c8b9-x2x2x.voicehive", extensionconfig_sent="",
            extensionconfig_acked=""),
]
DESIRED = [
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "external-api-segmentation", "namespace": "voicehive"},
     "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}}, "policyTypes": ["Egress"],
              "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                              "except": ["10.0.0.0/8", "169.254.169.254/32"]}}],
                          "ports": [{"port": 443}]}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "default-deny-ingress"},
     "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
]
EMERGENCY = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "isolate-orchestrator", "namespace": "voicehive",
                 "labels": {"emergency": "true", "created-by": "incident-response"}},
    "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}},
             "policyTypes": ["Ingress", "Egress"]},
}


def prometheus(received: list[float]) -> Callable[[str, float], dict[str, Any]]:
    """Answers the traffic monitor's queries; `received` values are served in turn."""
    served = iter(received)
    last = {"value": 0.0}

    def provider(promql: str, at: float) -> dict[str, Any]:
        if promql == TCP_RECEIVED:
            last["value"] = next(served, last["value"])
            result = [{"metric": {"destination_workload": "tts-router",
                                  "destination_workload_namespace": "voicehive"},
                       "value": str(last["value"])}]
        elif promql == MTLS_FAILURES:
            result = [{"metric": {"destination_service_name": "billing",
                                  "destination_workload_namespace": "voicehive"},
                       "value": "0.5"}]
        elif promql == PLAINTEXT:
            result = [{"metric": {"destination_workload": "tts-router",
                                  "destination_workload_namespace": "voicehive"},
                       "value": "2"}]
        elif promql == MTLS_FAILURES_BY_SOURCE:
            result = [{"metric": {"source_workload": "api-gateway",
                                  "destination_service_name": "billing",
                                  "destination_workload_namespace": "voicehive"},
                       "value": "0.5"}]
        elif promql == DENIALS:
            result = []
        else:
            raise ValueError(promql)
        return {"resultType": "vector", "result": result}

    return provider


@pytest.fixture
def desired_file(tmp_path: Path) -> Path:
    path = tmp_path / "network-policies.yaml"
    path.write_text(yaml.safe_dump_all(DESIRED))
    return path


def cells(table: DataTable[Any]) -> list[list[str]]:
    """The table's rows as the user reads them (plain text, in display order)."""
    return [[str(getattr(cell, "plain", cell)) for cell in table.get_row_at(index)]
            for index in range(table.row_count)]


async def test_live_sources_reach_the_mesh_and_policy_panes(
    drill_server: DrillServerThread, cluster: Cluster, record: Record, clock: Any,
    desired_file: Path,
) -> None:
    state = drill_server.state
    state.syncz_provider = lambda: SYNCZ
    state.metrics_provider = prometheus([100.0, 400.0, 1600.0])
    state.create({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                  "metadata": {"name": "legacy-billing", "namespace": "voicehive"},
                  "spec": {"selector": {"matchLabels": {"app": "billing"}},
                           "mtls": {"mode": "PERMISSIVE"}}})
    backoff = Backoff(0.05, 0.2)
    sources: list[LiveSource] = [
        MeshMonitor(cluster, "voicehive", interval_seconds=0.2),
        TrafficMonitor(PrometheusClient(cluster=cluster), interval_seconds=0.1),
        PolicyWatcher(cluster.client, "voicehive", desired_file, backoff=backoff),
        WarningEvents(cluster.client, "voicehive", backoff=backoff),
    ]
    settings = Settings(policies=PolicySettings(desired_state_file=desired_file))
    services = Services(record, mode="drill", context=cluster.context, cluster=cluster,
                        source=sources)
    app = WarRoomApp(services, settings, clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        mesh = app.screen.query_one(MeshPane)
        policies = app.screen.query_one(PolicyPane)
        await eventually(lambda: len(mesh.traffic) >= 2 and len(mesh.traffic[0].spark.strip()) >= 3
                    and any(row.kind == "proxy" for row in mesh.rows))

        proxies = {row.name: row for row in mesh.rows if row.kind == "proxy"}
        assert proxies["orchestrator-6f8d9c7b5d-k2x9p.voicehive"].state == "SYNCED"
        stale = proxies["tts-router-7c9d8e6f5a-q7w3e.voicehive"]
        assert (stale.state, stale.flagged) == ("STALE", True)
        not_sent = proxies["billing-5f6d7c8b9-x2x2x.voicehive"]
        assert (not_sent.state, not_sent.caution) == ("NOT SENT", True)
        mtls = {row.name: row for row in mesh.rows if row.kind == "mtls"}
        assert (mtls["voicehive/default"].state, mtls["voicehive/default"].flagged) == (
            "STRICT", False)
        assert (mtls["voicehive/legacy-billing"].state,
                mtls["voicehive/legacy-billing"].flagged) == ("PERMISSIVE", True)
        assert "workload app=billing" in mtls["voicehive/legacy-billing"].detail
        authz = next(row for row in mesh.rows if row.kind == "authz")
        assert authz.name == "voicehive/allow-orchestrator-to-tts"
        state_line = str(mesh.query_one("#mesh-state").render())
        assert state_line.startswith("Istio (detected: ")
        assert "3 proxies: 1 STALE, 1 NOT SENT" in state_line

        # What the user reads in the table: the warning sign on STALE and PERMISSIVE.
        shown = cells(mesh.query_one("#mesh-table", DataTable))
        assert ["proxy", "\N{WARNING SIGN} STALE", "tts-router-7c9d8e6f5a-q7w3e.voicehive"] in [
            row[:3] for row in shown]
        assert ["mtls", "\N{WARNING SIGN} PERMISSIVE", "voicehive/legacy-billing"] in [
            row[:3] for row in shown]

        # Traffic: the sparkline rises with the served values; plaintext and mTLS flagged.
        received = next(row for row in mesh.traffic if row.kind == "received")
        assert received.name == "voicehive/tts-router"
        # 100, 400, 1600 B/s scaled to their maximum: low, a quarter, full.
        assert received.spark.strip().startswith(
            "\N{LOWER ONE EIGHTH BLOCK}\N{LOWER THREE EIGHTHS BLOCK}\N{FULL BLOCK}")
        assert received.flagged
        assert received.plaintext == "plaintext 2.00 req/s"
        failing = next(row for row in mesh.traffic if row.kind == "mtls-fail")
        assert (failing.name, failing.rate, failing.flagged) == (
            "voicehive/billing mTLS", "0.50 req/s", True)

        # Policies: drift against the file, from the live drift source.
        await eventually(lambda: "voicehive/default-deny-ingress" in policies.policies)
        assert policies.policies["voicehive/default-deny-ingress"].drift == "missing"
        assert policies.policies["voicehive/external-api-segmentation"].drift == ""

        # A change on the cluster reaches the pane live, then its YAML.
        state.create(EMERGENCY)
        await eventually(lambda: "voicehive/isolate-orchestrator" in policies.policies
                    and policies.policies["voicehive/isolate-orchestrator"].manifest != {})
        isolate = policies.policies["voicehive/isolate-orchestrator"]
        assert (isolate.emergency, isolate.drift) == (True, "extra")
        assert "(an emergency policy)" in isolate.drift_detail
        table = policies.query_one("#policy-table", DataTable)
        assert ["isolate-orchestrator", "app=orchestrator", "Ingress,Egress", "0/0", "EMERG",
                "\N{WARNING SIGN} extra"] in cells(table)
        await pilot.press("3")
        table.move_cursor(row=table.get_row_index("voicehive/isolate-orchestrator"))
        await pilot.press("y")
        await pilot.pause()
        shown_yaml = str(policies.query_one("#policy-yaml").render())
        assert shown_yaml.startswith("# drift: extra: in the cluster, not in the desired state")
        assert "created-by: incident-response" in shown_yaml

        # A Warning event lands in the Mesh pane's events.
        state.create({"apiVersion": "v1", "kind": "Event",
                      "metadata": {"name": "orch.1", "namespace": "voicehive"},
                      "involvedObject": {"kind": "Pod", "name": "orchestrator-6f8d9c7b5d-k2x9p"},
                      "type": "Warning", "reason": "FailedCreatePodSandBox",
                      "message": "failed to set up sandbox network",
                      "lastTimestamp": "2026-11-01T09:05:00Z", "count": 3})
        await eventually(lambda: any(row.state == "FailedCreatePodSandBox" for row in mesh.rows))
        event = next(row for row in mesh.rows if row.state == "FailedCreatePodSandBox")
        assert (event.kind, event.name) == ("event", "pod/orchestrator-6f8d9c7b5d-k2x9p")
        assert event.detail == "09:05:00 failed to set up sandbox network (x3)"
        app.exit()


async def test_hostile_names_from_live_items_are_shown_literally(
    record: Record, clock: Any
) -> None:
    from actions.policy.drift import DriftFinding
    from actions.runbook.status import ProxySync
    from actions.sources.mesh import MeshSnapshot, PeerAuthenticationInfo
    from actions.sources.policies import DriftReport, PolicyInfo, PolicySnapshot
    from actions.sources.traffic import TrafficSample
    from actions.sources.warning_events import WarningEvent

    app = WarRoomApp(Services(record, mode="drill"), clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        for bad in HOSTILE:
            screen.post_message(SourceItem(MeshSnapshot(
                "voicehive", "istio", "detail", (ProxySync(f"pod-{bad}", "", "sidecar", "1",
                                                           {"CDS": "STALE"}),), (f"pod-{bad}",),
                (PeerAuthenticationInfo("voicehive", f"pa-{bad}", None, "DISABLE", {},
                                        "namespace"),), (), (), ())))
            screen.post_message(SourceItem(TrafficSample(1.0, {f"voicehive/w-{bad}": 1.0},
                                                         {}, {})))
            screen.post_message(SourceItem(WarningEvent(
                "voicehive", f"e-{bad}", f"uid-{bad}", "Failed", f"msg {bad}", f"pod/p-{bad}", 1,
                "", "2026-11-01T09:00:00Z", "kubelet")))
            screen.post_message(SourceItem(PolicySnapshot("voicehive", (PolicyInfo(
                f"np-{bad}", {"matchLabels": {"app": bad}}, ("Ingress",), 0, 0, False, None),))))
            screen.post_message(SourceItem(DriftReport("voicehive", "f", (
                DriftFinding("changed", f"np-{bad}", "voicehive", f"spec differs in {bad}"),),
                (), ())))
            await pilot.pause()
            mesh = screen.query_one(MeshPane)
            literal = bad if "\x1b" not in bad and "\x9b" not in bad else None
            table_text = [" ".join(row) for row in cells(mesh.query_one("#mesh-table",
                                                                         DataTable))]
            traffic_text = [" ".join(row) for row in cells(mesh.query_one("#mesh-traffic",
                                                                          DataTable))]
            policy_text = [" ".join(row) for row in cells(screen.query_one(
                "#policy-table", DataTable))]
            if literal is not None:  # markup shown as typed
                assert any(f"pod-{literal}" in row for row in table_text)
                assert any(f"msg {literal}" in row for row in table_text)
                assert any(f"w-{literal}" in row for row in traffic_text)
                assert any(f"np-{literal} app={literal}" in row for row in policy_text)
            else:  # escape sequences never reach the terminal: replaced by a marker
                everything = "".join(table_text + traffic_text + policy_text)
                assert "\x1b" not in everything
                assert "\x9b" not in everything
                assert MARKER in everything


async def test_linkerd_checks_and_unknown_parts_are_rows_not_silence(
    record: Record, clock: Any
) -> None:
    from actions.sources.mesh import MeshSnapshot, PodMeshState

    failing = {"description": "control plane pods are ready", "result": "error",
               "error": "linkerd-destination is not ready"}
    snapshot = MeshSnapshot(
        "voicehive", "linkerd", "only its policy API is served", (), (), (), (),
        linkerd_checks=({"categories": [{"checks": [failing, failing]}]},),
        problems=("Istio proxy status unknown: istiod refused the debug request (403)",),
        control_plane=(PodMeshState("linkerd", "linkerd-destination-1", True, False),))
    app = WarRoomApp(Services(record, mode="drill"), clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        app.screen.post_message(SourceItem(snapshot))
        await pilot.pause()
        mesh = app.screen.query_one(MeshPane)
        shown = [row[:3] for row in cells(mesh.query_one("#mesh-table", DataTable))]
        assert ["control", "\N{WARNING SIGN} NOT READY", "linkerd/linkerd-destination-1"] in shown
        assert shown.count(["check", "\N{WARNING SIGN} ERROR",
                            "control plane pods are ready"]) == 2
        assert ["problem", "PROBLEM", "Istio proxy status unknown"] in shown
        assert str(mesh.query_one("#mesh-state").render()).startswith("Linkerd (detected: ")
