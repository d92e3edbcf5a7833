"""`rotate-sa NAME`: the runbook's credential rotation, deleting the account's token secrets."""

from __future__ import annotations

from actions.runbook.pipeline import Plan, PlanContext
from actions.runbook.tokens import account_and_tokens, delete_changes, public

CANNOT_UNDO = (
    "deleted token values cannot be restored; Kubernetes issues new tokens "
    "(bound tokens for pods as they restart, or a token Secret you create)"
)


async def plan(ctx: PlanContext) -> Plan:
    name = str(ctx.request.target)
    result = Plan()
    found = await account_and_tokens(ctx, result)
    if found is None:
        return result
    account, secrets = found
    result.intent_data = {"service_account": name, "deleted_secrets": public(secrets)}
    if not secrets:
        result.no_op = (
            f"service account {name} has no token secrets (Kubernetes 1.24+ "
            "mounts bound tokens instead): restart its pods to get new tokens"
        )
        return result
    result.notes.append(CANNOT_UNDO)
    result.notes.append("pods already running keep the tokens they mounted until they restart")
    result.changes += delete_changes(ctx, secrets, f"rotating {name}")
    return result
