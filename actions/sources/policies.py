"""The namespace's NetworkPolicies, watched, and their drift from the desired-state file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actions.kube.streams import Backoff
from actions.policy.drift import (
    DesiredStateError,
    DriftFinding,
    OwnContainment,
    compare,
    load_desired,
)
from actions.sources.health import ABSENT, CONNECTED, HealthReporter
from actions.sources.listwatch import ListWatch, Objects

EMERGENCY_LABELS = {"emergency": "true", "created-by": "incident-response"}
INCIDENT_LABEL = "warroom.io/incident"


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """What the policies pane shows of one NetworkPolicy."""

    name: str
    pod_selector: dict[str, Any]
    policy_types: tuple[str, ...]
    ingress_rules: int
    egress_rules: int
    emergency: bool
    incident: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pod_selector": self.pod_selector,
                "policy_types": list(self.policy_types), "ingress_rules": self.ingress_rules,
                "egress_rules": self.egress_rules, "emergency": self.emergency,
                "incident": self.incident}


def policy_info(obj: dict[str, Any]) -> PolicyInfo:
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    labels = metadata.get("labels") or {}
    types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    return PolicyInfo(
        name=str(metadata.get("name")),
        pod_selector=spec.get("podSelector") or {},
        policy_types=tuple(types),
        ingress_rules=len(spec.get("ingress") or []),
        egress_rules=len(spec.get("egress") or []),
        emergency=all(labels.get(key) == value for key, value in EMERGENCY_LABELS.items()),
        incident=labels.get(INCIDENT_LABEL),
    )


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """All NetworkPolicies of the namespace after a change."""

    namespace: str
    policies: tuple[PolicyInfo, ...]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The drift now, and what changed since the last report."""

    namespace: str
    desired_file: str
    findings: tuple[DriftFinding, ...]
    new: tuple[DriftFinding, ...]
    resolved: tuple[DriftFinding, ...]


class PolicyWatcher:
    """`await PolicyWatcher(api, ns, desired_file).run(sink)`: snapshots, drift, health."""

    SOURCE = "policies"
    DRIFT_SOURCE = "drift"

    def __init__(self, api: Any, namespace: str, desired_file: Path | None, *,
                 relist_seconds: int = 300, backoff: Backoff | None = None,
                 own: Callable[[], OwnContainment] | None = None) -> None:
        self.namespace = namespace
        # What open incidents changed on purpose (not drift), read at each change.
        self.own = own
        self.desired_file = desired_file
        self.findings: tuple[DriftFinding, ...] = ()
        self.listwatch = ListWatch(
            api, f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies",
            what=f"NetworkPolicies in {namespace}", relist_seconds=relist_seconds,
            backoff=backoff)

    async def run(self, sink: Callable[[object], None]) -> None:
        health = HealthReporter(self.SOURCE, sink)
        drift_health = HealthReporter(self.DRIFT_SOURCE, sink)

        def on_change(kind: str, obj: dict[str, Any] | None, objects: Objects) -> None:
            infos = tuple(policy_info(item) for _, item in sorted(objects.items()))
            sink(PolicySnapshot(self.namespace, infos))
            self._check_drift(objects, sink, drift_health)

        await self.listwatch.run(on_change, health.report)

    def _check_drift(self, objects: Objects, sink: Callable[[object], None],
                     health: HealthReporter) -> None:
        if self.desired_file is None:
            health.report(ABSENT, "no desired-state file configured")
            return
        try:
            desired = load_desired(self.desired_file, self.namespace)
        except DesiredStateError as error:
            # Read again at every change: fixing the file needs no restart.
            health.report(ABSENT, str(error))
            return
        health.report(CONNECTED, f"comparing with {self.desired_file}")
        own = self.own() if self.own is not None else None
        findings = tuple(compare(desired, objects, self.namespace, own))
        if findings == self.findings:
            return
        new = tuple(f for f in findings if f not in self.findings)
        resolved = tuple(f for f in self.findings if f not in findings)
        self.findings = findings
        sink(DriftReport(self.namespace, str(self.desired_file), findings, new, resolved))
