"""The mesh monitor on the drill cluster: proxy sync, mTLS modes, policies, istiod refusing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actions.drill.apiserver import status
from actions.drill.apiserver.cluster_state import ApiError
from actions.drill.server import DrillServerThread
from actions.kube.cluster import Cluster
from actions.sources.mesh import MeshMonitor, MeshSnapshot
from tests.sources_helpers import RunningSource, eventually

SYNCZ = [
    {"cluster_id": "Kubernetes", "proxy": "orchestrator-6f8d9c7b5d-k2x9p.voicehive",
     "proxy_type": "sidecar", "istio_version": "1.24.3",
     "cluster_sent": "n1", "cluster_acked": "n1", "listener_sent": "n2", "listener_acked": "n2"},
    {"cluster_id": "Kubernetes", "proxy": "tts-router-7c9d8e6f5a-q7w3e.voicehive",
     "proxy_type": "sidecar", "istio_version": "1.24.3",
     "cluster_sent": "n3", "cluster_acked": "n2", "listener_sent": "n4"},
]


def pod(name: str, namespace: str, containers: list[str], ready: bool = True
        ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name[:7]}},
            "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers]},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


async def test_sync_state_modes_and_policies(drill_server: DrillServerThread,
                                             cluster: Cluster) -> None:
    state = drill_server.state
    state.syncz_provider = lambda: SYNCZ
    state.create({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                  "metadata": {"name": "legacy-billing", "namespace": "voicehive"},
                  "spec": {"selector": {"matchLabels": {"app": "billing"}},
                           "mtls": {"mode": "PERMISSIVE"}}})
    state.create({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                  "metadata": {"name": "deny-all-orchestrator", "namespace": "voicehive"},
                  "spec": {"selector": {"matchLabels": {"app": "orchestrator"}}}})
    state.create(pod("billing-5f6d7c8b9-x2x2x", "voicehive", ["billing", "istio-proxy"]))
    monitor = MeshMonitor(cluster, "voicehive", interval_seconds=0.1)
    snapshot = await monitor.snapshot()

    assert snapshot.mesh == "istio"
    assert snapshot.out_of_sync == ("tts-router-7c9d8e6f5a-q7w3e.voicehive",)
    assert snapshot.effective_mode == "STRICT"  # the namespace's default policy
    legacy = next(p for p in snapshot.peer_authentications if p.name == "legacy-billing")
    assert (legacy.scope, legacy.flagged) == ("workload", True)
    assert any("legacy-billing" in p and "PERMISSIVE" in p for p in snapshot.problems)
    deny = next(p for p in snapshot.authorization_policies if p.name == "deny-all-orchestrator")
    assert deny.denies_all
    allow = next(p for p in snapshot.authorization_policies
                 if p.name == "allow-orchestrator-to-tts")
    assert (allow.action, allow.rules, allow.denies_all) == ("ALLOW", 1, False)

    running = RunningSource(monitor.run)
    await eventually(lambda: len(running.of(MeshSnapshot)) >= 2)
    await running.stop()
    (health,) = running.health("mesh")  # reported once: it did not change
    assert health.state == "connected"
    assert health.detail == ("istio: 2 proxies, out of sync: tts-router-7c9d8e6f5a-q7w3e.voicehive"
                             "; mTLS in voicehive: STRICT; 1 of 3 pods injected")
    assert any(p.startswith("pods without the istio-proxy sidecar: orchestrator-")
               for p in snapshot.problems)


async def test_istiod_refusing_the_proxy_is_forbidden_not_quiet(
        drill_server: DrillServerThread, cluster: Cluster) -> None:
    def refuse() -> list[dict[str, Any]]:
        raise ApiError(status.status_failure(401, "Unauthorized", "Unauthorized"))

    drill_server.state.syncz_provider = refuse
    running = RunningSource(MeshMonitor(cluster, "voicehive", interval_seconds=0.1).run)
    await eventually(lambda: bool(running.health("mesh")))
    await running.stop()
    health = running.health("mesh")[0]
    assert health.state == "forbidden"
    assert "refused the debug request" in health.detail
    assert running.of(MeshSnapshot)[0].proxies == ()


async def test_linkerd_without_its_cli_is_judged_from_the_api(
        drill_server: DrillServerThread, cluster: Cluster,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no linkerd CLI
    state = drill_server.state
    state.delete("v1", "Namespace", None, "istio-system")
    state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "linkerd"}})
    state.create(pod("linkerd-destination-6b8f9", "linkerd", ["destination", "linkerd-proxy"]))
    state.create(pod("linkerd-identity-5c7d8", "linkerd", ["identity", "linkerd-proxy"],
                     ready=False))
    state.create(pod("asr-gateway-7d9f8-abcde", "voicehive", ["asr", "linkerd-proxy"]))
    snapshot = await MeshMonitor(cluster, "voicehive").snapshot()
    assert snapshot.mesh == "linkerd"
    assert [p.name for p in snapshot.control_plane if not p.ready] == ["linkerd-identity-5c7d8"]
    assert "Linkerd control-plane pods not ready: linkerd-identity-5c7d8" in snapshot.problems
    assert [w.name for w in snapshot.workloads if w.injected] == ["asr-gateway-7d9f8-abcde"]


async def test_strict_mtls_that_cannot_work_is_a_p0_alert_and_proposal(
    drill_factory: Any, record: Any
) -> None:
    """mtls-failure: STRICT while two workloads lack the tlsMode label and two have no sidecar."""
    from actions.kube.cluster import ClusterOptions, connect
    from actions.sources.batches import AlertBatch
    from actions.sources.detection import IncidentDetector, IncidentProposal

    drill = await drill_factory("mtls-failure", serve=True)
    cluster = await connect(ClusterOptions(kubeconfig=str(drill.kubeconfig_path)))
    proposals: list[object] = []
    detector = IncidentDetector(record, proposals.append)
    try:
        monitor = MeshMonitor(cluster, "voicehive", record=record)
        calm = await monitor.snapshot()
        assert calm.mtls_broken == ()
        assert await monitor._check_mtls(calm) is None

        drill.state.apply(drill.scenario.injects[0].spec["object"])  # STRICT, as the inject
        snapshot = await monitor.snapshot()
        assert snapshot.mtls_broken == (
            "api-gateway", "booking-service", "orchestrator", "pms-connector")
        assert any("without the security.istio.io/tlsMode label" in p
                   for p in snapshot.problems)
        batch = await monitor._check_mtls(snapshot)
        assert isinstance(batch, AlertBatch)
        (alert,) = batch.fresh
        assert (alert.classification.severity, alert.alert.rule) == (
            "P0", "mTLS STRICT with workloads that cannot do mTLS")
        assert await monitor._check_mtls(snapshot) is None  # once per set of services
        detector(batch)
        (proposal,) = proposals
        assert isinstance(proposal, IncidentProposal)
        assert proposal.severity == "P0"
    finally:
        await cluster.close()
