"""`reapply-policies`: the runbook's "Apply corrected network policies" from the desired state.

    kubectl apply -f infra/k8s/security/network-policies.yaml

For each NetworkPolicy of the desired-state file (`[policies]
desired_state_file`, or the request's file) in the namespace: create it when
it is missing, put its spec back when it differs (a JSON patch that first
tests the spec as previewed, so a policy changed since fails instead of being
overwritten blind). Like `kubectl apply`, a policy the file does not have is
left alone (emergency policies are restore's). Specs are compared after the
API server's defaults (actions/policy/drift.py), so only real drift is
re-applied. warroom's quarantine exclusion (an isolation in progress) is kept
in the spec put back, so re-applying never reopens an isolated pod.

What was there before is recorded with the intent, so `restore --undo-reapply`
can put it back exactly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from actions.kube.cluster import JSON_PATCH, NETWORK_POLICY
from actions.policy.drift import DesiredStateError, load_desired, normalized_spec
from actions.runbook.isolate import QUARANTINE_EXPRESSION, excludes_quarantine
from actions.runbook.model import Change, Problem, ReadBackCheck
from actions.runbook.pipeline import Plan, PlanContext


def _manifest(wanted: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The desired policy as it is sent: what the file says, in this namespace."""
    meta = wanted.get("metadata") or {}
    metadata: dict[str, Any] = {"name": meta["name"], "namespace": namespace}
    for key in ("labels", "annotations"):
        if meta.get(key):
            metadata[key] = copy.deepcopy(meta[key])
    return {
        "apiVersion": NETWORK_POLICY.api_version,
        "kind": NETWORK_POLICY.kind,
        "metadata": metadata,
        "spec": copy.deepcopy(wanted.get("spec") or {}),
    }


def with_quarantine(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with warroom's quarantine exclusion added to its podSelector."""
    kept = copy.deepcopy(spec)
    selector = kept.setdefault("podSelector", {})
    expressions = selector.setdefault("matchExpressions", [])
    if QUARANTINE_EXPRESSION not in expressions:
        expressions.append(dict(QUARANTINE_EXPRESSION))
    return kept


def _matches_check(spec: dict[str, Any]) -> ReadBackCheck:
    def check(found: dict[str, Any] | None) -> str | None:
        if normalized_spec(found or {}) != normalized_spec({"spec": spec}):
            return "its spec is not the one re-applied"
        return None

    return check


async def plan(ctx: PlanContext) -> Plan:
    result = Plan()
    source = ctx.request.desired_state_file
    if not source:
        result.problems.append(
            Problem(
                "invalid", "no desired-state file: set [policies] desired_state_file or pass --file"
            )
        )
        return result
    try:
        desired = load_desired(Path(source), ctx.namespace)
    except DesiredStateError as error:
        result.problems.append(Problem("invalid", str(error)))
        return result
    if not desired:
        result.problems.append(
            Problem(
                "invalid",
                f"{source} holds no NetworkPolicy for {ctx.namespace}: nothing "
                "to apply (kubectl apply would say: no objects passed to apply)",
            )
        )
        return result
    current = {
        p["metadata"]["name"]: p for p in await ctx.cluster.list(NETWORK_POLICY, ctx.namespace)
    }
    reapplied = []
    for name, wanted in sorted(desired.items()):
        manifest = _manifest(wanted, ctx.namespace)
        found = current.get(name)
        if found is None:
            reapplied.append(
                {"name": name, "previous_spec": None, "applied_spec": manifest["spec"]}
            )
            result.changes.append(
                Change(
                    "create",
                    NETWORK_POLICY.api_version,
                    NETWORK_POLICY.kind,
                    ctx.namespace,
                    name,
                    f"created NetworkPolicy {name} as {source} has it",
                    body=manifest,
                )
            )
            continue
        spec = manifest["spec"]
        if excludes_quarantine(found):
            spec = with_quarantine(spec)
            result.notes.append(
                f"{name} leaves quarantined pods out (an isolation in progress): kept"
            )
        before, after = normalized_spec(found), normalized_spec({"spec": spec})
        if before == after:
            continue
        fields = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        reapplied.append(
            {
                "name": name,
                "uid": found["metadata"].get("uid"),
                "previous_spec": found.get("spec"),
                "applied_spec": spec,
            }
        )
        result.changes.append(
            Change(
                "patch",
                NETWORK_POLICY.api_version,
                NETWORK_POLICY.kind,
                ctx.namespace,
                name,
                f"put NetworkPolicy {name}'s spec back as {source} has it "
                f"({', '.join(fields)} differed)",
                body=[
                    {"op": "test", "path": "/spec", "value": found.get("spec")},
                    {"op": "replace", "path": "/spec", "value": spec},
                ],
                patch_type=JSON_PATCH,
                check=_matches_check(spec),
            )
        )
    extra = sorted(set(current) - set(desired))
    if extra:
        result.notes.append(
            f"left alone (not in {source}, as kubectl apply would): {', '.join(extra)}"
        )
    if not result.changes:
        result.no_op = f"the NetworkPolicies of {ctx.namespace} already match {source}"
    result.intent_data = {"desired_state_file": source, "reapplied": reapplied}
    return result
