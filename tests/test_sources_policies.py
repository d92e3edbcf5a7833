"""NetworkPolicies watched on the drill cluster, and drift against a desired-state file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.drill.server import DrillServerThread
from actions.kube.cluster import ClusterOptions, connect
from actions.kube.streams import Backoff
from actions.policy.drift import DesiredStateError, load_desired, normalized_spec
from actions.sources.policies import DriftReport, PolicySnapshot, PolicyWatcher
from tests.sources_helpers import RunningSource, eventually

# The seeded policy as an operator writes it: no policyTypes default, no port protocol.
SEGMENTATION = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "external-api-segmentation", "namespace": "voicehive"},
    "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}},
             "policyTypes": ["Egress"],
             "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                             "except": ["10.0.0.0/8", "169.254.169.254/32"]}}],
                         "ports": [{"port": 443}]}]}}
DEFAULT_DENY = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny-ingress"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
OTHER_NAMESPACE = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "monitoring-only", "namespace": "monitoring"},
    "spec": {"podSelector": {}}}


@pytest.fixture
async def api(drill_server: DrillServerThread, tmp_path: Path) -> AsyncIterator[Any]:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_server.kubeconfig_path(tmp_path))))
    yield cluster.client
    await cluster.close()


@pytest.fixture
def desired_file(tmp_path: Path) -> Path:
    path = tmp_path / "network-policies.yaml"
    path.write_text(yaml.safe_dump_all([SEGMENTATION, DEFAULT_DENY, OTHER_NAMESPACE]))
    return path


def emergency_policy() -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "isolate-orchestrator", "namespace": "voicehive",
                         "labels": {"emergency": "true", "created-by": "incident-response",
                                    "warroom.io/incident": "NSI-2026-11-01-001"}},
            "spec": {"podSelector": {"matchLabels": {"app": "orchestrator"}},
                     "policyTypes": ["Ingress", "Egress"]}}


async def test_drift_missing_extra_and_changed_as_the_cluster_changes(
        drill_server: DrillServerThread, api: Any, desired_file: Path) -> None:
    watcher = PolicyWatcher(api, "voicehive", desired_file, backoff=Backoff(0.05, 0.2))
    running = RunningSource(watcher.run)
    await eventually(lambda: len(running.of(DriftReport)) == 1)
    first = running.of(DriftReport)[0]
    # The seeded policy equals the file once defaults are applied: only the missing one.
    assert [(f.kind, f.name) for f in first.findings] == [("missing", "default-deny-ingress")]

    state = drill_server.state
    state.create(emergency_policy())
    await eventually(lambda: len(running.of(DriftReport)) == 2)
    extra = running.of(DriftReport)[1]
    assert [(f.kind, f.name, f.detail) for f in extra.new] == [
        ("extra", "isolate-orchestrator",
         "in the cluster, not in the desired state (an emergency policy)")]

    changed = state.get("networking.k8s.io/v1", "NetworkPolicy", "voicehive",
                        "external-api-segmentation")
    assert changed is not None
    changed["spec"]["egress"][0]["ports"][0]["port"] = 8443
    state.replace(changed)
    await eventually(lambda: len(running.of(DriftReport)) == 3)
    third = running.of(DriftReport)[2]
    assert [(f.kind, f.name, f.detail) for f in third.new] == [
        ("changed", "external-api-segmentation", "spec differs in egress")]

    state.delete("networking.k8s.io/v1", "NetworkPolicy", "voicehive", "isolate-orchestrator")
    await eventually(lambda: len(running.of(DriftReport)) == 4)
    assert [f.name for f in running.of(DriftReport)[3].resolved] == ["isolate-orchestrator"]
    await running.stop()

    snapshots = running.of(PolicySnapshot)
    with_emergency = next(s for s in snapshots if len(s.policies) == 2)
    isolate = next(p for p in with_emergency.policies if p.name == "isolate-orchestrator")
    assert (isolate.emergency, isolate.incident) == (True, "NSI-2026-11-01-001")
    assert (isolate.ingress_rules, isolate.egress_rules) == (0, 0)
    segmentation = next(p for p in with_emergency.policies
                        if p.name == "external-api-segmentation")
    assert (segmentation.policy_types, segmentation.egress_rules) == (("Egress",), 1)
    assert running.health("drift")[0].state == "connected"


async def test_a_missing_desired_file_is_reported_not_silent(api: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    running = RunningSource(PolicyWatcher(api, "voicehive", missing).run)
    await eventually(lambda: bool(running.health("drift")))
    await running.stop()
    assert running.health("drift")[0].state == "absent"
    assert running.health("drift")[0].detail == f"{missing}: no such desired-state file"
    assert running.of(DriftReport) == []
    assert running.of(PolicySnapshot)  # the policies themselves are still shown


async def test_forbidden_policies_say_forbidden(drill_server: DrillServerThread, api: Any,
                                                desired_file: Path) -> None:
    drill_server.state.set_rbac([])
    running = RunningSource(PolicyWatcher(api, "voicehive", desired_file,
                                          backoff=Backoff(0.05, 0.2)).run)
    await eventually(lambda: bool(running.health("policies")))
    await running.stop()
    assert running.health("policies")[0].state == "forbidden"


def test_allow_all_and_deny_all_are_not_confused() -> None:
    allow_all: dict[str, Any] = {"spec": {"podSelector": {}, "ingress": [{}]}}
    deny_all: dict[str, Any] = {"spec": {"podSelector": {}, "ingress": []}}
    assert normalized_spec(allow_all) != normalized_spec(deny_all)
    assert normalized_spec(deny_all) == normalized_spec({"spec": {"podSelector": {}}})


def test_bad_desired_files_say_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: NetworkPolicy\nmetadata: {name: [unclosed\n")
    with pytest.raises(DesiredStateError, match="not valid YAML"):
        load_desired(broken, "voicehive")
    twice = tmp_path / "twice.yaml"
    twice.write_text(yaml.safe_dump_all([DEFAULT_DENY, DEFAULT_DENY]))
    with pytest.raises(DesiredStateError, match="default-deny-ingress is defined twice"):
        load_desired(twice, "voicehive")
