"""`reapply-policies`: the runbook's "Apply corrected network policies" from the desired state.

    kubectl apply -f infra/k8s/security/network-policies.yaml

For each NetworkPolicy of the desired-state file (`[policies]
desired_state_file`, or the request's file) in the namespace: create it when
it is missing, put its spec back when it differs (a JSON patch that first
tests the spec as previewed, so a policy changed since fails instead of being
overwritten blind). Like `kubectl apply`, a policy the file does not have is
left alone (emergency policies are restore's). Specs are compared after the
API server's defaults (actions/policy/drift.py), so only real drift is
re-applied. An open incident's emergency changes are kept in the spec put
back, so re-applying never undoes a containment: warroom's quarantine exclusion
(an isolation in progress), and every address an open (not closed) incident's
block-ip added to an except list that is still there. The change's summary
names what it keeps; an IP block the desired spec has no place for (no ipBlock
whose cidr holds it) would be lifted, and the summary and the notes say so
first, before anyone confirms.

What was there before is recorded with the intent, so `restore --undo-reapply`
can put it back exactly.
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

from actions.kube.cluster import JSON_PATCH, NETWORK_POLICY, POD
from actions.policy.drift import DesiredStateError, load_desired, normalized_spec
from actions.runbook.block_ip import _except_list
from actions.runbook.isolate import QUARANTINE_EXPRESSION, QUARANTINE_LABEL, excludes_quarantine
from actions.runbook.model import Change, Problem, ReadBackCheck
from actions.runbook.own_changes import open_incident_blocks
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


def _with_blocks(
    spec: dict[str, Any], found: dict[str, Any], held: dict[str, list[str]]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """(the spec keeping the held blocks `found` still has, what it keeps, what it lifts).

    A block stays in the desired spec's own except list when its cidr holds the
    address (an except entry must lie inside the cidr); otherwise it is lifted."""
    block, _ = _except_list(found)
    present = [ip for ip in (block or {}).get("except") or [] if ip in held]
    if not present:
        return spec, [], []
    kept_spec = copy.deepcopy(spec)
    target, _ = _except_list({"spec": kept_spec})
    kept, lifted = [], []
    for ip in present:
        owners = ", ".join(held[ip])
        try:
            fits = target is not None and ipaddress.ip_network(ip, strict=False).subnet_of(
                ipaddress.ip_network(str(target.get("cidr")), strict=False)  # type: ignore[arg-type]
            )
        except (TypeError, ValueError):
            fits = False
        if target is None or not fits:
            lifted.append(f"{owners}'s block of {ip}")
            continue
        excepted = target.setdefault("except", [])
        if ip not in excepted:
            excepted.append(ip)
        kept.append(f"{owners}'s block of {ip}")
    return kept_spec, kept, lifted


def _quarantined_by(pods: list[dict[str, Any]]) -> str:
    owners = sorted({(p["metadata"].get("labels") or {}).get(QUARANTINE_LABEL, "") for p in pods})
    return ", ".join(o for o in owners if o) or "an incident"


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
    held = await ctx.in_record(open_incident_blocks, ctx.record, ctx.namespace)
    quarantined = await ctx.cluster.list(POD, ctx.namespace, label_selector=QUARANTINE_LABEL)
    reapplied = []
    lifts: list[str] = []
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
        keeps: list[str] = []
        if excludes_quarantine(found):
            spec = with_quarantine(spec)
            keeps.append(f"the quarantine exclusion ({_quarantined_by(quarantined)}'s isolation)")
        spec, kept_blocks, lifted = _with_blocks(spec, found, held)
        keeps += kept_blocks
        before, after = normalized_spec(found), normalized_spec({"spec": spec})
        if before == after:
            continue
        fields = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        said = f"; keeps {', '.join(keeps)}" if keeps else ""
        if lifted:
            said += f"; LIFTS {', '.join(lifted)}"
            lifts += [f"{name}: {what}" for what in lifted]
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
                f"({', '.join(fields)} differed){said}",
                body=[
                    {"op": "test", "path": "/spec", "value": found.get("spec")},
                    {"op": "replace", "path": "/spec", "value": spec},
                ],
                patch_type=JSON_PATCH,
                check=_matches_check(spec),
            )
        )
    if lifts:
        result.notes.insert(
            0,
            "this LIFTS an open incident's containment (the desired spec has no ipBlock "
            f"holding it): {'; '.join(lifts)}. Block the address again after, or cancel",
        )
    extra = sorted(set(current) - set(desired))
    if extra:
        result.notes.append(
            f"left alone (not in {source}, as kubectl apply would): {', '.join(extra)}"
        )
    if not result.changes:
        result.no_op = f"the NetworkPolicies of {ctx.namespace} already match {source}"
    result.intent_data = {"desired_state_file": source, "reapplied": reapplied}
    if lifts:
        result.intent_data["lifts"] = lifts
    return result
