"""`restore`: the runbook's recovery, undoing exactly what this incident did.

What to undo comes from two places, so a crash between intent and outcome
still leaves everything findable: the record (every intent's planned objects)
and the cluster (objects labelled emergency=true and warroom.io/incident=ID;
pods labelled warroom.io/quarantine=ID; service accounts carrying
warroom.io/pre-disable). An object is deleted only if it still carries this
incident's label, with its uid as a precondition.

An isolation is undone in the reverse order it was made, so no pod is ever
left selected by no policy at all (which would open it completely): first the
quarantine exclusion leaves the policies isolate patched (only that one list
item, and only while no pod of another incident is still quarantined), then
the pods lose their quarantine label, then the deny-all goes.

Emergency egress policies and ipBlock.except entries are IP blocks: they are
removed only with `unblock` (`--unblock`). A re-applied desired state is the
normal state, not an emergency: it is put back as it was before only with
`undo_reapply` (`--undo-reapply`).
"""

from __future__ import annotations

import json
from typing import Any

from actions.kube.cluster import (
    ISTIO_AUTHORIZATION_POLICY,
    JSON_PATCH,
    LINKERD_AUTHORIZATION_POLICY,
    LINKERD_MESH_TLS_AUTHENTICATION,
    LINKERD_SERVER_AUTHORIZATION,
    MERGE_PATCH,
    NETWORK_POLICY,
    POD,
    SERVICE_ACCOUNT,
    ClusterError,
    Kind,
    kind_of,
)
from actions.runbook.block_ip import EXCEPT_PATH, POLICY, _except_list
from actions.runbook.checks import (
    BLOCKS_ANNOTATION,
    DISABLED_ANNOTATION,
    INCIDENT_LABEL,
    PRE_DISABLE_ANNOTATION,
    incident_selector,
)
from actions.runbook.isolate import (
    EXPRESSIONS_PATH,
    QUARANTINE_EXPRESSION,
    QUARANTINE_LABEL,
    excludes_quarantine,
)
from actions.runbook.model import Change, ReadBackCheck
from actions.runbook.pipeline import Plan, PlanContext

EMERGENCY_KINDS = (
    NETWORK_POLICY,
    ISTIO_AUTHORIZATION_POLICY,
    LINKERD_SERVER_AUTHORIZATION,
    LINKERD_AUTHORIZATION_POLICY,
    LINKERD_MESH_TLS_AUTHENTICATION,
)


def _from_record(
    ctx: PlanContext,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[tuple[str, str]], list[dict[str, Any]]]:
    """(objects this incident's actions planned to create, IP blocks, service accounts,
    quarantines)."""
    creates: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    accounts: set[tuple[str, str]] = set()
    quarantines: list[dict[str, Any]] = []
    for entry in ctx.record.actions.for_incident(ctx.incident_id):
        if entry.entry != "intent" or entry.action == "restore":
            continue
        if entry.action == "reapply-policies":
            reapplied = [r for r in entry.data.get("reapplied") or [] if isinstance(r, dict)]
            quarantines.append({"reapplied": reapplied})
            continue
        creates += [c for c in entry.data.get("creates") or [] if isinstance(c, dict)]
        blocks += [b for b in entry.data.get("blocks") or [] if isinstance(b, dict)]
        if entry.action == "disable-sa" and entry.data.get("service_account"):
            namespace = str(entry.data.get("namespace") or ctx.namespace)
            accounts.add((namespace, str(entry.data["service_account"])))
        if isinstance(entry.data.get("quarantine"), dict):
            quarantines.append(entry.data["quarantine"])
    return creates, blocks, accounts, quarantines


def _key(kind: Kind, found: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = found.get("metadata") or {}
    return (kind.kind, kind.group, str(meta.get("namespace") or ""), str(meta.get("name")))


async def _labelled(
    ctx: PlanContext, kind: Kind, selector: str, result: Plan
) -> list[dict[str, Any]]:
    """Objects with the selector in every namespace, else (not allowed) in this one."""
    try:
        return await ctx.cluster.list(kind, label_selector=selector, all_namespaces=True)
    except ClusterError as error:
        if error.cause != "forbidden":
            raise
        note = f"may not list {kind.plural} in all namespaces: looked in {ctx.namespace} only"
        if note not in result.notes:
            result.notes.append(note)
        return await ctx.cluster.list(kind, ctx.namespace, label_selector=selector)


async def plan(ctx: PlanContext) -> Plan:
    result = Plan()
    unblock = ctx.request.unblock
    creates, blocks, accounts, recorded = await ctx.in_record(_from_record, ctx)
    quarantines = [q for q in recorded if "reapplied" not in q]
    reapplied = [r for q in recorded for r in q.get("reapplied") or []]
    await _undo_quarantine(ctx, result, quarantines)
    candidates: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for ref in creates:
        try:
            kind = kind_of(str(ref.get("apiVersion")), str(ref.get("kind")))
        except ValueError:
            continue
        found = await ctx.cluster.get_or_none(
            kind, str(ref.get("name")), ref.get("namespace") or ctx.namespace
        )
        if found is not None:
            candidates[_key(kind, found)] = found
    for kind in EMERGENCY_KINDS:
        try:
            labelled = await _labelled(ctx, kind, incident_selector(ctx.incident_id), result)
        except ClusterError as error:
            if error.cause == "not-found":
                continue  # that mesh's API is not served here
            raise
        for found in labelled:
            candidates[_key(kind, found)] = found
    kept_blocks = []
    for (_, _, _, name), found in sorted(candidates.items()):
        meta = found.get("metadata") or {}
        if (meta.get("labels") or {}).get(INCIDENT_LABEL) != ctx.incident_id:
            result.notes.append(
                f"{found['kind']} {name} no longer carries this incident's label: left alone"
            )
            continue
        if BLOCKS_ANNOTATION in (meta.get("annotations") or {}) and not unblock:
            kept_blocks.append(name)
            continue
        kind = kind_of(found["apiVersion"], found["kind"])
        result.changes.append(
            Change(
                "delete",
                kind.api_version,
                kind.kind,
                meta.get("namespace") or ctx.namespace,
                name,
                f"deleted {kind.describe(name)}",
                uid=meta.get("uid"),
            )
        )
    if kept_blocks:
        result.notes.append(
            f"kept the emergency egress policies {', '.join(kept_blocks)} "
            "(IP blocks): restore with unblock removes them too (the console's form: "
            "\"Also remove the IPs this incident blocked\"; the CLI: --unblock)"
        )
    await _undo_disable(ctx, result, accounts)
    await _unblock(ctx, result, blocks, unblock)
    await _undo_reapply(ctx, result, reapplied)
    if not result.changes:
        result.no_op = (
            f"nothing to restore for {ctx.incident_id}: no emergency object, "
            "disabled service account or blocked IP of this incident remains"
        )
    result.intent_data = {"restores": [c.ref() for c in result.changes]}
    return result


async def _undo_quarantine(
    ctx: PlanContext, result: Plan, quarantines: list[dict[str, Any]]
) -> None:
    """Un-exclude the policies isolate patched, then unlabel this incident's quarantined pods."""
    mine = await ctx.cluster.list(
        POD, ctx.namespace, label_selector=f"{QUARANTINE_LABEL}={ctx.incident_id}"
    )
    others = [
        p
        for p in await ctx.cluster.list(POD, ctx.namespace, label_selector=QUARANTINE_LABEL)
        if (p["metadata"].get("labels") or {}).get(QUARANTINE_LABEL) != ctx.incident_id
    ]
    patched: dict[str, dict[str, Any]] = {}
    for quarantine in quarantines:
        for entry in quarantine.get("policies") or []:
            if isinstance(entry, dict) and entry.get("name"):
                patched.setdefault(str(entry["name"]), entry)
    for name, entry in sorted(patched.items()):
        policy = await ctx.cluster.get_or_none(NETWORK_POLICY, name, ctx.namespace)
        if policy is None:
            result.notes.append(f"NetworkPolicy {name} was deleted since isolate: nothing to undo")
            continue
        if entry.get("uid") and policy["metadata"].get("uid") != entry["uid"]:
            result.notes.append(f"NetworkPolicy {name} was recreated since isolate: left alone")
            continue
        if not excludes_quarantine(policy):
            continue
        if others:
            held = ", ".join(sorted(p["metadata"]["name"] for p in others))
            result.notes.append(
                f"NetworkPolicy {name} keeps leaving quarantined pods out: {held} are still "
                "quarantined by another incident"
            )
            continue
        expressions = list((policy["spec"].get("podSelector") or {}).get("matchExpressions") or [])
        index = expressions.index(QUARANTINE_EXPRESSION)
        if not entry.get("had_expressions") and expressions == [QUARANTINE_EXPRESSION]:
            patch: list[dict[str, Any]] = [
                {"op": "test", "path": EXPRESSIONS_PATH, "value": expressions},
                {"op": "remove", "path": EXPRESSIONS_PATH},
            ]
        else:
            patch = [
                {
                    "op": "test",
                    "path": f"{EXPRESSIONS_PATH}/{index}",
                    "value": QUARANTINE_EXPRESSION,
                },
                {"op": "remove", "path": f"{EXPRESSIONS_PATH}/{index}"},
            ]
        result.changes.append(
            Change(
                "patch",
                NETWORK_POLICY.api_version,
                NETWORK_POLICY.kind,
                ctx.namespace,
                name,
                f"NetworkPolicy {name} selects quarantined pods again (as before isolate)",
                body=patch,
                patch_type=JSON_PATCH,
                check=_included_check,
            )
        )
    recorded = {str(n) for q in quarantines for n in q.get("pods") or []}
    for pod in sorted(mine, key=lambda p: p["metadata"]["name"]):
        name = pod["metadata"]["name"]
        recorded.discard(name)
        result.changes.append(
            Change(
                "patch",
                POD.api_version,
                POD.kind,
                ctx.namespace,
                name,
                f"removed label {QUARANTINE_LABEL} from pod {name}",
                body={"metadata": {"labels": {QUARANTINE_LABEL: None}}},
                patch_type=MERGE_PATCH,
                check=_unlabelled_check,
            )
        )
    for name in sorted(recorded):
        result.notes.append(f"pod {name} (quarantined) is gone or no longer labelled")


def _included_check(found: dict[str, Any] | None) -> str | None:
    return "the quarantine exclusion is still there" if excludes_quarantine(found or {}) else None


def _unlabelled_check(found: dict[str, Any] | None) -> str | None:
    labels = ((found or {}).get("metadata") or {}).get("labels") or {}
    return f"label {QUARANTINE_LABEL} is still set" if QUARANTINE_LABEL in labels else None


async def _undo_disable(ctx: PlanContext, result: Plan, accounts: set[tuple[str, str]]) -> None:
    selector = f"{INCIDENT_LABEL}={ctx.incident_id}"
    labelled = await _labelled(ctx, SERVICE_ACCOUNT, selector, result)
    by_name = {
        (str(a["metadata"].get("namespace") or ctx.namespace), a["metadata"]["name"]): a
        for a in labelled
    }
    for namespace, name in sorted(accounts - set(by_name)):
        found = await ctx.cluster.get_or_none(SERVICE_ACCOUNT, name, namespace)
        if found is not None:
            by_name[(namespace, name)] = found
    for (namespace, name), account in sorted(by_name.items()):
        meta = account.get("metadata") or {}
        marker = (meta.get("annotations") or {}).get(PRE_DISABLE_ANNOTATION)
        if marker is None:
            continue  # restored already, or disabled by someone else
        try:
            previous = json.loads(marker)
        except ValueError:
            result.notes.append(f"{PRE_DISABLE_ANNOTATION} on {name} is not JSON: left alone")
            continue
        patch = {
            "metadata": {
                "annotations": {
                    DISABLED_ANNOTATION: previous.get("annotation"),
                    PRE_DISABLE_ANNOTATION: None,
                },
                "labels": {INCIDENT_LABEL: None},
                "resourceVersion": meta.get("resourceVersion"),
            },
            "automountServiceAccountToken": previous.get("automountServiceAccountToken"),
        }
        result.changes.append(
            Change(
                "patch",
                SERVICE_ACCOUNT.api_version,
                SERVICE_ACCOUNT.kind,
                namespace,
                name,
                f"re-enabled service account {name} in {namespace}",
                body=patch,
                patch_type=MERGE_PATCH,
                check=_enabled_check(previous),
            )
        )
        result.notes.append(
            f"{name}: deleted token secrets cannot come back; Kubernetes issues new tokens"
        )


def _enabled_check(previous: dict[str, Any]) -> ReadBackCheck:
    def check(found: dict[str, Any] | None) -> str | None:
        annotations = ((found or {}).get("metadata") or {}).get("annotations") or {}
        if PRE_DISABLE_ANNOTATION in annotations:
            return f"{PRE_DISABLE_ANNOTATION} is still set"
        if annotations.get(DISABLED_ANNOTATION) != previous.get("annotation"):
            return f"{DISABLED_ANNOTATION} was not put back"
        if (found or {}).get("automountServiceAccountToken") != previous.get(
            "automountServiceAccountToken"
        ):
            return "automountServiceAccountToken was not put back"
        return None

    return check


async def _unblock(
    ctx: PlanContext, result: Plan, blocks: list[dict[str, Any]], unblock: bool
) -> None:
    ips = sorted({str(b.get("ip")) for b in blocks if b.get("policy") == POLICY})
    if not ips:
        return
    policy = await ctx.cluster.get_or_none(NETWORK_POLICY, POLICY, ctx.namespace)
    block, _ = _except_list(policy or {})
    current = list((block or {}).get("except") or [])
    present = [ip for ip in ips if ip in current]
    if not present:
        return
    if not unblock:
        result.notes.append(
            f"still blocked in {POLICY}: {', '.join(present)} (restore with unblock removes "
            "them: the console's form \"Also remove the IPs this incident blocked\", the "
            "CLI's --unblock)"
        )
        return
    # Remove from the highest index down so earlier removals do not shift later ones.
    indexes = sorted((current.index(ip) for ip in present), reverse=True)
    patch: list[dict[str, Any]] = [{"op": "test", "path": EXCEPT_PATH, "value": current}]
    patch += [{"op": "remove", "path": f"{EXCEPT_PATH}/{i}"} for i in indexes]

    def check(found: dict[str, Any] | None) -> str | None:
        left = (_except_list(found or {})[0] or {}).get("except") or []
        still = [ip for ip in present if ip in left]
        return f"still in {POLICY}'s except list: {', '.join(still)}" if still else None

    result.changes.append(
        Change(
            "patch",
            NETWORK_POLICY.api_version,
            NETWORK_POLICY.kind,
            ctx.namespace,
            POLICY,
            f"removed {', '.join(present)} from {POLICY}'s except list",
            body=patch,
            patch_type=JSON_PATCH,
            check=check,
            records={"unblocked": present},
        )
    )


async def _undo_reapply(ctx: PlanContext, result: Plan, reapplied: list[dict[str, Any]]) -> None:
    """Put back each policy as it was before its first re-apply (only when asked)."""
    from actions.policy.drift import normalized_spec

    first: dict[str, dict[str, Any]] = {}
    for entry in reapplied:
        name = str(entry.get("name"))
        if name not in first:
            first[name] = dict(entry)
        first[name]["applied_spec"] = entry.get("applied_spec")  # the last one applied
    if not first:
        return
    if not ctx.request.undo_reapply:
        result.notes.append(
            f"kept the re-applied desired state of {', '.join(sorted(first))}: pass "
            "--undo-reapply to put back what was there before"
        )
        return
    for name, entry in sorted(first.items()):
        found = await ctx.cluster.get_or_none(NETWORK_POLICY, name, ctx.namespace)
        if found is None:
            result.notes.append(f"NetworkPolicy {name} is gone since the re-apply: nothing to undo")
            continue
        if normalized_spec(found) != normalized_spec({"spec": entry.get("applied_spec")}):
            result.notes.append(f"NetworkPolicy {name} changed since the re-apply: left alone")
            continue
        previous = entry.get("previous_spec")
        if previous is None:
            result.changes.append(
                Change(
                    "delete",
                    NETWORK_POLICY.api_version,
                    NETWORK_POLICY.kind,
                    ctx.namespace,
                    name,
                    f"deleted NetworkPolicy {name} (it did not exist before the re-apply)",
                    uid=found["metadata"].get("uid"),
                )
            )
            continue
        result.changes.append(
            Change(
                "patch",
                NETWORK_POLICY.api_version,
                NETWORK_POLICY.kind,
                ctx.namespace,
                name,
                f"put NetworkPolicy {name}'s spec back as it was before the re-apply",
                body=[
                    {"op": "test", "path": "/spec", "value": found.get("spec")},
                    {"op": "replace", "path": "/spec", "value": previous},
                ],
                patch_type=JSON_PATCH,
            )
        )
