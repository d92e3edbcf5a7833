"""`disable-sa NAME`: the runbook's annotation, made effective.

The annotation `security.voicehive.io/disabled=true` alone changes nothing in
Kubernetes, so the action also sets `automountServiceAccountToken: false` and
deletes the account's token secrets. What was there before is kept twice, in
the record and in the annotation `warroom.io/pre-disable` on the account
itself (so restore can undo it even after a crash between intent and outcome).
Secret values are never read into the record: names and types only.
"""

from __future__ import annotations

import json
from typing import Any

from actions.kube.cluster import MERGE_PATCH, SERVICE_ACCOUNT
from actions.runbook.checks import DISABLED_ANNOTATION, INCIDENT_LABEL, PRE_DISABLE_ANNOTATION
from actions.runbook.model import Change
from actions.runbook.pipeline import Plan, PlanContext
from actions.runbook.rotate_sa import CANNOT_UNDO
from actions.runbook.tokens import account_and_tokens, delete_changes, public


def previous_state(account: dict[str, Any]) -> dict[str, Any]:
    annotations = (account.get("metadata") or {}).get("annotations") or {}
    return {
        "annotation": annotations.get(DISABLED_ANNOTATION),
        "automountServiceAccountToken": account.get("automountServiceAccountToken"),
    }


def _disabled_check(found: dict[str, Any] | None) -> str | None:
    annotations = ((found or {}).get("metadata") or {}).get("annotations") or {}
    if annotations.get(DISABLED_ANNOTATION) != "true":
        return f"annotation {DISABLED_ANNOTATION} is not 'true'"
    if (found or {}).get("automountServiceAccountToken") is not False:
        return "automountServiceAccountToken is not false"
    return None


async def plan(ctx: PlanContext) -> Plan:
    name = str(ctx.request.target)
    result = Plan()
    found = await account_and_tokens(ctx, result)
    if found is None:
        return result
    account, secrets = found
    meta = account.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    previous = previous_state(account)
    if PRE_DISABLE_ANNOTATION in annotations:
        # Disabled before by warroom: keep the state from before the first disable.
        try:
            previous = json.loads(annotations[PRE_DISABLE_ANNOTATION])
        except ValueError:
            result.notes.append(f"{PRE_DISABLE_ANNOTATION} on {name} is not JSON: left as it is")
    result.intent_data = {
        "service_account": name,
        "namespace": ctx.namespace,
        "previous": previous,
        "deleted_secrets": public(secrets),
    }
    if _disabled_check(account) is None and not secrets:
        result.no_op = f"service account {name} is already disabled and has no token secrets"
        return result
    patch: dict[str, Any] = {
        "metadata": {
            "annotations": {DISABLED_ANNOTATION: "true"},
            "labels": {INCIDENT_LABEL: ctx.incident_id},
            # Optimistic concurrency: a change since the preview gives 409, not a blind write.
            "resourceVersion": meta.get("resourceVersion"),
        },
        "automountServiceAccountToken": False,
    }
    if PRE_DISABLE_ANNOTATION not in annotations:
        patch["metadata"]["annotations"][PRE_DISABLE_ANNOTATION] = json.dumps(
            previous, sort_keys=True
        )
    result.changes.append(
        Change(
            "patch",
            SERVICE_ACCOUNT.api_version,
            SERVICE_ACCOUNT.kind,
            ctx.namespace,
            name,
            f"annotated {name} {DISABLED_ANNOTATION}=true and set automountServiceAccountToken "
            "false",
            body=patch,
            patch_type=MERGE_PATCH,
            check=_disabled_check,
            records={"previous": previous},
        )
    )
    result.changes += delete_changes(ctx, secrets, f"disabling {name}")
    if secrets:
        result.notes.append(CANNOT_UNDO)
    result.notes.append(
        "pods already running keep the tokens they mounted until they restart: "
        "restart them to finish the job"
    )
    return result
