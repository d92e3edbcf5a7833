"""What a runbook action's form starts with, from the selected alert and the cluster.

- block-ip: the alert's remote address (`actions.falco.addresses`), never one of
  the cluster's own: each candidate goes through block-ip's own refusal
  (`block_ip.cluster_addresses` and `block_ip.refusals`: the cluster's pod and
  Service addresses, loopback, link-local), and the first one block-ip would
  accept is offered.
- isolate, mesh-deny, capture's service: the alert's workload, the `app` label
  of its pod, found in the cluster's pod list by Falco's `k8s.pod.name`, or by
  address (`status.podIP`) when the alert names no pod: a DNS detection only
  knows its client's IP.
- disable-sa, rotate-sa: that pod's `spec.serviceAccountName`.

Only reads, through the action layer's cluster handle, off the event loop. A
cluster that cannot be asked leaves the form with what the alert alone says
(`AlertTarget.note` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from actions.falco.addresses import client_address, ip, peers
from actions.kube.cluster import POD, ClusterError
from actions.runbook.block_ip import cluster_addresses, parse_block, refusals
from actions.runbook.checks import InvalidRequest
from actions.runbook.model import PENDING_INCIDENT, ActionRequest
from actions.runbook.pipeline import PlanContext

if TYPE_CHECKING:
    from actions.runbook.pipeline import RunbookActions

WORKLOAD_ACTIONS = ("isolate", "mesh-deny", "capture")
ACCOUNT_ACTIONS = ("disable-sa", "rotate-sa")
_POD_NAME_FIELDS = ("k8s.pod.name", "k8s_pod_name")
_NAMESPACE_FIELDS = ("k8s.ns.name", "k8s_ns_name", "k8s_ns")


@dataclass(frozen=True, slots=True)
class AlertTarget:
    """What the form's target (or capture's service) should be, and why, in words."""

    value: str | None
    """None: nothing better than what the alert alone says; "": the field must stay empty."""
    note: str


def _text(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = fields.get(key)
        if isinstance(value, str) and value.strip() and value != "<NA>":
            return value.strip()
    return None


async def _pods(actions: RunbookActions, namespace: str) -> list[dict[str, Any]]:
    """Every pod the cluster shows us (all namespaces, else this one)."""
    try:
        return await actions.cluster.list(POD, all_namespaces=True)
    except ClusterError as error:
        if error.cause not in ("forbidden", "not-found"):
            raise
        return await actions.cluster.list(POD, namespace)


def _pod_for(
    pods: list[dict[str, Any]], fields: Mapping[str, Any], namespace: str
) -> tuple[dict[str, Any] | None, str]:
    """The alert's pod and how it was found ("" when it was not)."""
    name = _text(fields, _POD_NAME_FIELDS)
    where = _text(fields, _NAMESPACE_FIELDS) or namespace
    if name is not None:
        for pod in pods:
            meta = pod.get("metadata") or {}
            if meta.get("name") == name and meta.get("namespace", where) == where:
                return pod, f"pod {where}/{name}"
    address = client_address(fields)
    if address is not None:
        for pod in pods:
            status, meta = pod.get("status") or {}, pod.get("metadata") or {}
            owned = [
                status.get("podIP"),
                *((p or {}).get("ip") for p in status.get("podIPs") or []),
            ]
            if address in {ip(value) for value in owned if isinstance(value, str)}:
                where = f"{meta.get('namespace')}/{meta.get('name')}"
                return pod, f"pod {where}, whose IP {address} the alert names"
    return None, ""


def _no_pod(fields: Mapping[str, Any], namespace: str) -> str:
    """Why no pod was found for the alert, by what it names (a DNS alert names no pod)."""
    name = _text(fields, _POD_NAME_FIELDS)
    if name is not None:
        where = _text(fields, _NAMESPACE_FIELDS) or namespace
        return f"the alert's pod {where}/{name} is not in the cluster's pod list"
    address = client_address(fields)
    if address is not None:
        return f"the alert names no pod, and no pod in the cluster has its address {address}"
    return "the alert names no pod and no pod address: type the target"


async def workload_target(
    actions: RunbookActions, request: ActionRequest, fields: Mapping[str, Any]
) -> AlertTarget:
    """The app (or service account) of the alert's pod, found in the cluster."""
    pod, found = _pod_for(await _pods(actions, request.namespace), fields, request.namespace)
    if pod is None:
        return AlertTarget(None, _no_pod(fields, request.namespace))
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if request.action in ACCOUNT_ACTIONS:
        account = spec.get("serviceAccountName") or spec.get("serviceAccount")
        if not isinstance(account, str) or not account:
            return AlertTarget(None, f"{found} names no service account")
        return AlertTarget(account, f"the service account of {found}")
    app = (meta.get("labels") or {}).get("app")
    if not isinstance(app, str) or not app:
        return AlertTarget(None, f"{found} has no app label")
    elsewhere = meta.get("namespace") not in (None, request.namespace)
    note = f"the app label of {found}"
    if elsewhere:
        note += f" (in {meta.get('namespace')}, not {request.namespace})"
    return AlertTarget(app, note)


async def remote_target(
    actions: RunbookActions, request: ActionRequest, fields: Mapping[str, Any], output: str
) -> AlertTarget:
    """The alert's first remote address that block-ip itself would not refuse."""
    found = peers(fields, output)
    if not found.remote:
        return AlertTarget(None, "the alert names no remote address")
    context = PlanContext(
        actions.cluster, actions.record, request, PENDING_INCIDENT, actions.clock(),
        run_in_record=actions.in_record,
    )  # fmt: skip
    addresses, _notes = await cluster_addresses(context)
    refused = []
    for candidate in found.remote:
        try:
            network = parse_block(candidate, request.protected_cidrs)
        except InvalidRequest:
            continue
        reasons = refusals(network, addresses, request.protected_cidrs)
        if not reasons:
            how = found.how if candidate == found.remote[0] else "the alert's other address"
            return AlertTarget(candidate, f"{how}; not one of the cluster's own addresses")
        refused.append(f"{candidate} ({reasons[0]})")
    return AlertTarget("", "every address in the alert is the cluster's: " + "; ".join(refused))


async def alert_target(
    actions: RunbookActions, request: ActionRequest, fields: Mapping[str, Any], output: str = ""
) -> AlertTarget:
    """The target (capture: the service) the form for `request.action` should start with."""
    if request.action == "block-ip":
        return await remote_target(actions, replace(request, target=None), fields, output)
    if request.action in WORKLOAD_ACTIONS or request.action in ACCOUNT_ACTIONS:
        return await workload_target(actions, request, fields)
    return AlertTarget(None, "")
