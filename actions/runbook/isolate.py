"""`isolate SERVICE`: cut the app's pods off the network, for real, and keep them for forensics.

The runbook's emergency policy (Ingress and Egress, no rules, for app=SERVICE)
alone does not isolate anything on a real cluster when another policy selects
the same pods and allows their traffic: NetworkPolicies add up (here,
`external-api-segmentation` keeps the orchestrator's DNS and HTTPS open,
`orchestrator-ingress` its callers). So the action does three things, in
this order, each one previewed, dry-run and read back:

1. create the runbook's deny-all `emergency-isolation-<unix time>`;
2. add `{key: warroom.io/quarantine, operator: DoesNotExist}` to the
   podSelector of every other policy that selects the pods and allows them
   something (no pod carries the label yet, so nothing changes);
3. label the pods `warroom.io/quarantine=<incident>`: each pod drops out of
   the allowing policies at once, while the deny-all keeps it isolated.

The pods keep running (logs, exec and a capture still work: the kubelet and
the API server do not go through the pod network). Other pods those policies
select keep every rule. `restore` undoes exactly this: it removes the
expression where warroom added it, the label, and the deny-all. Why this
rather than editing or deleting the allowing policies: the other pods keep
their policies untouched, and the change is one list item that restore can
remove exactly even if someone edited the policy meanwhile. See
docs/containment.md.
"""

from __future__ import annotations

import copy
from typing import Any

from actions.kube.cluster import JSON_PATCH, MERGE_PATCH, NETWORK_POLICY, POD
from actions.policy import ClusterView
from actions.policy.networkpolicy import allows_anything, selects
from actions.policy.reachability import still_open
from actions.runbook.checks import emergency_metadata
from actions.runbook.model import FORCE_HINT, Change, Problem
from actions.runbook.pipeline import Plan, PlanContext
from store.wording import counted, noun_of

QUARANTINE_LABEL = "warroom.io/quarantine"
QUARANTINE_EXPRESSION = {"key": QUARANTINE_LABEL, "operator": "DoesNotExist"}
SELECTOR_PATH = "/spec/podSelector"
EXPRESSIONS_PATH = "/spec/podSelector/matchExpressions"
MANAGED_BY = "app.kubernetes.io/managed-by"


def manifest(name: str, namespace: str, service: str, incident_id: str) -> dict[str, Any]:
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


def excludes_quarantine(policy: dict[str, Any]) -> bool:
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    return QUARANTINE_EXPRESSION in (selector.get("matchExpressions") or [])


def allowing_policies(
    policies: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The policies that select any of the pods and allow them something in a direction."""
    return [
        p
        for p in policies
        if any(selects(p, pod) for pod in pods)
        and (allows_anything(p, "Ingress") or allows_anything(p, "Egress"))
    ]


def exclusion_patch(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """Add the quarantine exclusion to the policy's podSelector, testing it as previewed."""
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    patch: list[dict[str, Any]] = [{"op": "test", "path": SELECTOR_PATH, "value": selector}]
    if "matchExpressions" in selector:
        patch.append({"op": "add", "path": EXPRESSIONS_PATH + "/-", "value": QUARANTINE_EXPRESSION})
    else:
        patch.append({"op": "add", "path": EXPRESSIONS_PATH, "value": [QUARANTINE_EXPRESSION]})
    return patch


def _excluded_check(found: dict[str, Any] | None) -> str | None:
    if not excludes_quarantine(found or {}):
        return f"podSelector does not exclude {QUARANTINE_LABEL}"
    return None


def _labelled_check(found: dict[str, Any] | None) -> str | None:
    # The value is the incident's ID, known only at execute when the action opens one.
    labels = ((found or {}).get("metadata") or {}).get("labels") or {}
    return None if labels.get(QUARANTINE_LABEL) else f"label {QUARANTINE_LABEL} is missing"


def after(
    policies: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    deny_all: dict[str, Any],
    patched: set[str],
    incident_id: str,
) -> ClusterView:
    """The namespace as it will be once the action has run (for the preview's check)."""
    future_policies = [copy.deepcopy(p) for p in policies] + [copy.deepcopy(deny_all)]
    for policy in future_policies:
        if policy["metadata"]["name"] in patched:
            selector = policy.setdefault("spec", {}).setdefault("podSelector", {})
            selector.setdefault("matchExpressions", []).append(dict(QUARANTINE_EXPRESSION))
    future_pods = []
    for pod in pods:
        labelled = copy.deepcopy(pod)
        labelled["metadata"].setdefault("labels", {})[QUARANTINE_LABEL] = incident_id
        future_pods.append(labelled)
    return ClusterView.of([*future_policies, *future_pods])


async def plan(ctx: PlanContext) -> Plan:
    service = str(ctx.request.target)
    name = f"emergency-isolation-{ctx.unix_time}"
    result = Plan()
    pods = [
        p
        for p in await ctx.cluster.list(POD, ctx.namespace, label_selector=f"app={service}")
        if not (p.get("metadata") or {}).get("deletionTimestamp")
    ]
    policies = [
        p
        for p in await ctx.cluster.list(NETWORK_POLICY, ctx.namespace)
        if p["metadata"]["name"] != name
    ]
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
    quarantine: dict[str, Any] = {"label": QUARANTINE_LABEL, "pods": [], "policies": []}
    if not pods and not ctx.request.force:
        # Nothing would be cut off, yet the action would count as containment: a mistyped
        # name must not stop the MTTC clock.
        result.problems.append(
            Problem(
                "not-found",
                f"no pod in {ctx.namespace} has app={service}: nothing to isolate (check the "
                f"name: `kubectl get pods -n {ctx.namespace} -L app`). {FORCE_HINT} to create "
                "the deny-all for pods yet to come",
            )
        )
        return result
    if not pods:
        result.notes.append(
            f"forced: no pod in {ctx.namespace} has app={service} now: the deny-all applies to "
            "pods that appear, but other policies selecting them still allow their traffic "
            "(NetworkPolicies add up); run isolate again once they run"
        )
    allowing = allowing_policies(policies, pods)
    patched: set[str] = set()
    for policy in allowing:
        policy_name = policy["metadata"]["name"]
        if excludes_quarantine(policy):
            result.notes.append(f"NetworkPolicy {policy_name} already leaves quarantined pods out")
            continue
        patched.add(policy_name)
        had = "matchExpressions" in ((policy.get("spec") or {}).get("podSelector") or {})
        quarantine["policies"].append(
            {"name": policy_name, "uid": policy["metadata"].get("uid"), "had_expressions": had}
        )
        result.changes.append(
            Change(
                "patch",
                NETWORK_POLICY.api_version,
                NETWORK_POLICY.kind,
                ctx.namespace,
                policy_name,
                f"NetworkPolicy {policy_name} no longer selects pods labelled {QUARANTINE_LABEL}",
                body=exclusion_patch(policy),
                patch_type=JSON_PATCH,
                check=_excluded_check,
                records={"quarantine_exclusion": policy_name},
            )
        )
        managed = (policy["metadata"].get("labels") or {}).get(MANAGED_BY)
        if managed:
            result.notes.append(
                f"{policy_name} is managed by {managed}: a sync reverts the exclusion and lets "
                "the traffic through again; pause its automatic sync while isolated"
            )
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        quarantine["pods"].append(pod_name)
        result.changes.append(
            Change(
                "patch",
                POD.api_version,
                POD.kind,
                ctx.namespace,
                pod_name,
                f"labelled pod {pod_name} {QUARANTINE_LABEL}={ctx.incident_id} (cut off, kept "
                "running for forensics)",
                body={"metadata": {"labels": {QUARANTINE_LABEL: ctx.incident_id}}},
                patch_type=MERGE_PATCH,
                check=_labelled_check,
                records={"quarantined": pod_name},
            )
        )
    if pods:
        names = ", ".join(p["metadata"]["name"] for p in pods[:10])
        result.notes.append(
            f"cuts off {counted(len(pods), 'pod')}, which {noun_of(len(pods), 'keeps', 'keep')} "
            f"running for forensics: {names}"
        )
        if patched:
            result.notes.append(
                "without step 2, " + ", ".join(sorted(patched)) + " would still allow their "
                "traffic: NetworkPolicies add up, so the deny-all alone isolates nothing they allow"
            )
        view = after(policies, pods, body, patched, ctx.incident_id)
        left = still_open(view, [view.pod(ctx.namespace, p["metadata"]["name"]) or p for p in pods])
        result.notes += [f"still open after isolating: {note}" for note in left]
    result.notes.append(
        "cannot stop: traffic between a pod and its own node (kubelet probes, hostNetwork pods); "
        "connections already open, where the network plugin keeps them; new pods of "
        f"app={service} (not labelled: isolate again); the process itself, which keeps running, "
        "trying and holding its credentials (rotate them)"
    )
    result.intent_data = {
        "creates": [
            {
                "apiVersion": NETWORK_POLICY.api_version,
                "kind": NETWORK_POLICY.kind,
                "namespace": ctx.namespace,
                "name": name,
            }
        ],
        "quarantine": quarantine,
    }
    return result
