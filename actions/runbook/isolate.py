"""`isolate SERVICE`: the runbook's emergency deny-all NetworkPolicy for one app."""

from __future__ import annotations

from actions.cluster import NETWORK_POLICY, POD
from actions.runbook.checks import emergency_metadata
from actions.runbook.model import Change
from actions.runbook.pipeline import Plan, PlanContext


def manifest(name: str, namespace: str, service: str, incident_id: str) -> dict:
    """Ingress and Egress with no rules: nothing in, nothing out, for pods with app=SERVICE."""
    return {
        "apiVersion": NETWORK_POLICY.api_version,
        "kind": NETWORK_POLICY.kind,
        "metadata": emergency_metadata(name, namespace, incident_id, "isolate"),
        "spec": {
            "podSelector": {"matchLabels": {"app": service}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


async def plan(ctx: PlanContext) -> Plan:
    service = str(ctx.request.target)
    name = f"emergency-isolation-{ctx.unix_time}"
    result = Plan()
    pods = await ctx.cluster.list(POD, ctx.namespace, label_selector=f"app={service}")
    if not pods:
        result.notes.append(
            f"no pod in {ctx.namespace} has app={service} now: the policy applies to any "
            "that appear"
        )
    else:
        result.notes.append(
            f"selects {len(pods)} pod(s): " + ", ".join(p["metadata"]["name"] for p in pods[:10])
        )
    body = manifest(name, ctx.namespace, service, ctx.incident_id)
    result.changes.append(
        Change(
            "create",
            NETWORK_POLICY.api_version,
            NETWORK_POLICY.kind,
            ctx.namespace,
            name,
            f"created NetworkPolicy {name} denying all ingress and egress of app={service}",
            body=body,
        )
    )
    result.intent_data = {
        "creates": [
            {
                "apiVersion": NETWORK_POLICY.api_version,
                "kind": NETWORK_POLICY.kind,
                "namespace": ctx.namespace,
                "name": name,
            }
        ]
    }
    return result
