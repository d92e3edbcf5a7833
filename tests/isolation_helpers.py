"""Isolating an app in a drill cluster's state directly, the two ways a team can.

- `runbook_deny_all(app)`: the runbook's emergency policy alone (what
  emergency-isolate.sh applies); NetworkPolicies add up, so on the base
  cluster it leaves the orchestrator's DNS, HTTPS and callers open.
- `cut_off(state, app)`: what `warroom act isolate` ends with (the deny-all,
  the quarantine exclusion in every policy that allows the pods something,
  the quarantine label on the pods), written straight into the state for
  engine-level tests; the action itself is tested through the official client.
"""

from __future__ import annotations

import copy
from typing import Any

from actions.runbook.isolate import (
    QUARANTINE_EXPRESSION,
    QUARANTINE_LABEL,
    allowing_policies,
    excludes_quarantine,
)

NS = "voicehive"


def runbook_deny_all(app: str, name: str = "emergency-isolation-1741943520") -> dict[str, Any]:
    """The runbook's emergency isolation policy, as its script writes it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"emergency": "true", "created-by": "incident-response"},
        },
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def cut_off(state: Any, app: str, incident: str = "NSI-2026-03-14-001") -> None:
    """The end state of `warroom act isolate APP`, in the same order the action uses."""
    deny_all = runbook_deny_all(app)
    if state.get("networking.k8s.io/v1", "NetworkPolicy", NS, deny_all["metadata"]["name"]) is None:
        state.create(deny_all)
    pods = state.list("v1", "Pod", NS, label_selector=f"app={app}")
    for policy in allowing_policies(state.list("networking.k8s.io/v1", "NetworkPolicy", NS), pods):
        if excludes_quarantine(policy):
            continue
        changed = copy.deepcopy(policy)
        selector = changed["spec"].setdefault("podSelector", {})
        selector.setdefault("matchExpressions", []).append(dict(QUARANTINE_EXPRESSION))
        state.replace(changed)
    for pod in pods:
        labelled = copy.deepcopy(pod)
        labelled["metadata"]["labels"][QUARANTINE_LABEL] = incident
        state.replace(labelled)
