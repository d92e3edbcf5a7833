"""The checklist's cluster verifiers on the drill cluster, through the official client over HTTP."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.checklists.cluster_checks import mtls_enforced, policies_applied, services_healthy
from actions.drill.server import DrillServerThread
from actions.kube.cluster import Cluster, ClusterOptions, connect
from tests.plugins.drill import RUNBOOK_ISOLATION_POLICY

NS = "voicehive"
SEED_PODS = ("orchestrator-6f8d9c7b5d-k2x9p", "tts-router-7c9d8e6f5a-q7w3e")
# Everything the verifiers read, except what a test takes away.
READS = ["pods", "deployments", "namespaces", "networkpolicies", "peerauthentications"]


def allow_reading(*resources: str) -> list[dict[str, Any]]:
    return [{"verbs": ["get", "list"], "apiGroups": ["*"], "resources": list(resources)}]


def crashing_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": "registry.local/api:1"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [
                {
                    "name": "api",
                    "image": "registry.local/api:1",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 7,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }


def inject_sidecars(server: DrillServerThread, proxy: str = "istio-proxy") -> None:
    """Give the seeded voicehive pods the mesh's proxy container, as injection would."""
    for name in SEED_PODS:
        pod = server.state.get("v1", "Pod", NS, name)
        assert pod is not None
        injected = copy.deepcopy(pod)
        injected["spec"]["containers"].append({"name": proxy, "image": f"mesh/{proxy}"})
        for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
            injected["metadata"].pop(key, None)
        server.state.delete("v1", "Pod", NS, name)
        server.state.create(injected)


def set_inbound_policy(server: DrillServerThread, policy: str) -> None:
    """Annotate the namespace with Linkerd's default inbound policy."""
    namespace = server.state.get("v1", "Namespace", None, NS)
    assert namespace is not None
    namespace["metadata"].setdefault("annotations", {})[
        "config.linkerd.io/default-inbound-policy"
    ] = policy
    server.state.replace(namespace)


def desired_file(tmp_path: Path, server: DrillServerThread, *extra: dict[str, Any]) -> Path:
    """A desired-state file holding the seeded policy as the cluster has it, plus `extra`."""
    seeded = server.state.get(
        "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    assert seeded is not None
    wanted = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "external-api-segmentation", "namespace": NS},
        "spec": seeded["spec"],
    }
    path = tmp_path / "network-policies.yaml"
    path.write_text(yaml.safe_dump_all([wanted, *extra]), encoding="utf-8")
    return path


@pytest.fixture
async def slow_cluster(drill_kubeconfig: Path) -> AsyncIterator[Cluster]:
    connected = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig), timeout=0.5))
    async with connected:
        yield connected


# --- all services healthy ------------------------------------------------------------------------


async def test_ready_pods_are_verified_and_a_crashing_one_is_named(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    healthy = await services_healthy(cluster, NS)
    assert healthy.state == "verified"
    assert healthy.evidence.startswith("2 of 2 pods Ready in voicehive")
    assert "0 of 0 deployments available" in healthy.evidence
    # A cluster without apps/v1 (a 404 from the deployments list) is said so.
    drill_server.state.inject_fault("GET", r"/apis/apps/v1/.*deployments", 404, times=1)
    without_apps = await services_healthy(cluster, NS)
    assert "the cluster serves no apps/v1 Deployments" in without_apps.evidence
    drill_server.state.create(crashing_pod("api-7d9f-x2"))
    sick = await services_healthy(cluster, NS)
    assert sick.state == "not-verified"
    assert sick.evidence.startswith("1 of 3 pods not Ready: api-7d9f-x2 (CrashLoopBackOff)")


async def test_forbidden_pods_make_the_health_unknown(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    drill_server.state.set_rbac(allow_reading("deployments", "namespaces"))
    verdict = await services_healthy(cluster, NS)
    assert verdict.state == "unknown"
    assert verdict.evidence.startswith("forbidden: list pods in voicehive: forbidden (403)")


async def test_a_server_that_does_not_answer_makes_the_health_unknown(
    slow_cluster: Cluster, drill_server: DrillServerThread
) -> None:
    drill_server.state.inject_fault("GET", r"/api/v1/namespaces/voicehive/pods$", 0, delay=2.0)
    verdict = await services_healthy(slow_cluster, NS)
    assert verdict.state == "unknown"
    assert verdict.evidence.startswith("timeout: list pods in voicehive: timed out")


# --- mTLS enforced -------------------------------------------------------------------------------


async def test_strict_mtls_with_every_pod_in_the_mesh_is_verified(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    without = await mtls_enforced(cluster, NS)
    assert without.state == "not-verified"
    assert "2 of 2 pods without the istio-proxy sidecar" in without.evidence
    inject_sidecars(drill_server)
    verdict = await mtls_enforced(cluster, NS)
    assert verdict.state == "verified", verdict.evidence
    assert "STRICT for voicehive (PeerAuthentication voicehive/default)" in verdict.evidence
    assert "2 of 2 pods have the istio-proxy sidecar" in verdict.evidence


async def test_a_permissive_exception_or_namespace_is_not_verified(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    inject_sidecars(drill_server)
    drill_server.state.create({
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "legacy-plaintext", "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": "tts-router"}},
                 "mtls": {"mode": "PERMISSIVE"}},
    })  # fmt: skip
    exception = await mtls_enforced(cluster, NS)
    assert exception.state == "not-verified"
    assert "PeerAuthentication voicehive/legacy-plaintext" in exception.evidence
    assert "allows plaintext: mode PERMISSIVE" in exception.evidence
    drill_server.state.delete("security.istio.io/v1", "PeerAuthentication", NS, "default")
    inherited = await mtls_enforced(cluster, NS)
    assert "mTLS mode for voicehive is PERMISSIVE (no PeerAuthentication sets it" in (
        inherited.evidence
    )


async def test_forbidden_peer_authentications_make_mtls_unknown(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    drill_server.state.set_rbac(allow_reading("pods", "namespaces"))
    verdict = await mtls_enforced(cluster, NS)
    assert verdict.state == "unknown"
    assert verdict.evidence.startswith("forbidden: list peerauthentications")


async def test_no_mesh_means_mtls_is_not_enforced(cluster: Cluster) -> None:
    verdict = await mtls_enforced(cluster, NS, mesh="none")
    assert verdict.state == "not-verified"
    assert "nothing enforces mTLS" in verdict.evidence


# --- network policies applied --------------------------------------------------------------------


async def test_the_desired_policies_applied_as_written_are_verified(
    cluster: Cluster, drill_server: DrillServerThread, tmp_path: Path
) -> None:
    desired = desired_file(tmp_path, drill_server)
    verdict = await policies_applied(cluster, NS, desired)
    assert verdict.state == "verified"
    assert verdict.evidence == f"1 of 1 policy of {desired} applied as written"
    drill_server.state.create(yaml.safe_load(RUNBOOK_ISOLATION_POLICY))
    isolated = await policies_applied(cluster, NS, desired)
    assert isolated.state == "verified"
    assert "emergency policies still applied: emergency-isolation-1764234000" in isolated.evidence


async def test_a_missing_or_changed_policy_is_not_verified(
    cluster: Cluster, drill_server: DrillServerThread, tmp_path: Path
) -> None:
    default_deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny-ingress", "namespace": NS},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    desired = desired_file(tmp_path, drill_server, default_deny)
    missing = await policies_applied(cluster, NS, desired)
    assert missing.state == "not-verified"
    assert missing.evidence == "1 of 2 desired policies missing: default-deny-ingress"
    policy = drill_server.state.get(
        "networking.k8s.io/v1", "NetworkPolicy", NS, "external-api-segmentation"
    )
    assert policy is not None
    policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].append("203.0.113.9/32")
    drill_server.state.replace(policy)
    changed = await policies_applied(cluster, NS, desired_file(tmp_path, drill_server))
    assert changed.state == "verified"  # the file now matches the cluster again
    desired.write_text(yaml.safe_dump(default_deny), encoding="utf-8")
    drill_server.state.create(default_deny)
    extra = await policies_applied(cluster, NS, desired)
    assert extra.state == "not-verified"
    assert "not in the desired state: external-api-segmentation" in extra.evidence


async def test_policies_are_unknown_without_a_usable_file_or_permission(
    cluster: Cluster, drill_server: DrillServerThread, tmp_path: Path
) -> None:
    absent = await policies_applied(cluster, NS, tmp_path / "nope.yaml")
    assert absent.state == "unknown"
    assert "no such desired-state file" in absent.evidence
    drill_server.state.set_rbac(allow_reading("pods"))
    forbidden = await policies_applied(cluster, NS, desired_file(tmp_path, drill_server))
    assert forbidden.state == "unknown"
    assert forbidden.evidence.startswith("forbidden: list networkpolicies in voicehive")


async def test_linkerd_mtls_needs_every_pod_meshed_and_an_authenticated_inbound_policy(
    cluster: Cluster, drill_server: DrillServerThread
) -> None:
    outside = await mtls_enforced(cluster, NS, mesh="linkerd")
    assert outside.state == "not-verified"
    assert "2 of 2 pods without the linkerd-proxy" in outside.evidence
    inject_sidecars(drill_server, "linkerd-proxy")
    unset = await mtls_enforced(cluster, NS, mesh="linkerd")
    assert unset.state == "unknown"
    assert "config.linkerd.io/default-inbound-policy is not set" in unset.evidence
    set_inbound_policy(drill_server, "all-unauthenticated")
    plaintext = await mtls_enforced(cluster, NS, mesh="linkerd")
    assert plaintext.state == "not-verified"
    assert "inbound policy accepts plaintext" in plaintext.evidence
    set_inbound_policy(drill_server, "all-authenticated")
    strict = await mtls_enforced(cluster, NS, mesh="linkerd")
    assert strict.state == "verified"
    assert "2 of 2 pods meshed; inbound policy all-authenticated" in strict.evidence
