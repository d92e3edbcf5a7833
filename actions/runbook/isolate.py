"""`isolate SERVICE`: the runbook's emergency deny-all NetworkPolicy for one app."""

from __future__ import annotations

from actions.cluster import NETWORK_POLICY, POD
from actions.runbook.checks import emergency_metadata
from actions.runbook.model import Change
from actions.runbook.pipeline import Plan, PlanContext
from actions.selectors import labels_of, policy_types, selector_matches

RULES_OF = {"Ingress": "ingress", "Egress": "egress"}


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
        policies = await ctx.cluster.list(NETWORK_POLICY, ctx.namespace)
        result.notes.extend(still_allowed(policies, pods))
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


def still_allowed(policies: list[dict], pods: list[dict]) -> list[str]:
    """Warn about policies that keep allowing traffic to or from the pods being isolated.

    NetworkPolicies add up: a deny-all policy does not override another policy
    that selects the same pods and allows traffic, so on a real cluster that
    traffic keeps flowing until the other policy is narrowed or removed.
    """
    notes = []
    for policy in policies:
        selector = (policy.get("spec") or {}).get("podSelector")
        if not any(selector_matches(selector, labels_of(pod)) for pod in pods):
            continue
        allowing = [
            direction.lower()
            for direction in sorted(policy_types(policy))
            if (policy.get("spec") or {}).get(RULES_OF[direction])
        ]
        if allowing:
            name = policy["metadata"]["name"]
            notes.append(
                f"NetworkPolicy {name} also selects these pods and allows "
                f"{' and '.join(allowing)}: policies add up, so that traffic still flows "
                f"until {name} is narrowed or removed"
            )
    return notes
