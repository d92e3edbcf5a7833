"""A service account's token secrets: found by reference and by annotation, never read out.

Only names and types leave this module: secret values never reach the record.
"""

from __future__ import annotations

from typing import Any

from actions.kube.cluster import SECRET, SERVICE_ACCOUNT, ClusterError
from actions.runbook.model import Change, Problem
from actions.runbook.pipeline import Plan, PlanContext

TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"


async def token_secrets(
    ctx: PlanContext, account: dict[str, Any]
) -> tuple[list[dict[str, str]], list[str]]:
    """[{name, type, uid}] of the account's token secrets, and notes."""
    name = account["metadata"]["name"]
    referenced = [
        str(ref.get("name"))
        for ref in account.get("secrets") or []
        if isinstance(ref, dict) and ref.get("name")
    ]
    notes: list[str] = []
    found: dict[str, dict[str, str]] = {}
    try:
        secrets = await ctx.cluster.list(SECRET, ctx.namespace)
    except ClusterError as error:
        if error.cause != "forbidden":
            raise
        notes.append(
            "may not list secrets: only the ones the service account references are considered"
        )
        secrets = []
        for secret_name in referenced:
            secret = await ctx.cluster.get_or_none(SECRET, secret_name, ctx.namespace)
            if secret is not None:
                secrets.append(secret)
    for secret in secrets:
        meta = secret.get("metadata") or {}
        owner = (meta.get("annotations") or {}).get(SA_NAME_ANNOTATION)
        is_token = secret.get("type") == TOKEN_TYPE and owner == name
        if is_token or (meta.get("name") in referenced and secret.get("type") == TOKEN_TYPE):
            found[meta["name"]] = {
                "name": meta["name"],
                "type": str(secret.get("type")),
                "uid": str(meta.get("uid") or ""),
            }
    missing = [ref for ref in referenced if ref not in found]
    if missing:
        notes.append(f"referenced but absent or not token secrets: {', '.join(missing)}")
    return sorted(found.values(), key=lambda s: s["name"]), notes


def delete_changes(ctx: PlanContext, secrets: list[dict[str, str]], why: str) -> list[Change]:
    return [
        Change(
            "delete",
            SECRET.api_version,
            SECRET.kind,
            ctx.namespace,
            s["name"],
            f"deleted token secret {s['name']} ({why})",
            uid=s["uid"] or None,
            records={"type": s["type"]},
        )
        for s in secrets
    ]


def public(secrets: list[dict[str, str]]) -> list[dict[str, str]]:
    """What may be recorded about the secrets: names and types only."""
    return [{"name": s["name"], "type": s["type"]} for s in secrets]


async def account_and_tokens(
    ctx: PlanContext, result: Plan
) -> tuple[dict[str, Any], list[dict[str, str]]] | None:
    """The target service account and its token secrets; None (with the problem in
    `result`) when the account is missing or its secrets cannot be read."""
    name = str(ctx.request.target)
    account = await ctx.cluster.get_or_none(SERVICE_ACCOUNT, name, ctx.namespace)
    if account is None:
        result.problems.append(
            Problem("not-found", f"service account {name} does not exist in {ctx.namespace}")
        )
        return None
    try:
        secrets, notes = await token_secrets(ctx, account)
    except ClusterError as error:
        result.problems.append(Problem(error.cause, error.message))
        return None
    result.notes += notes
    return account, secrets
