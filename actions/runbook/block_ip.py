"""`block-ip IP`: append the address to `external-api-segmentation`'s ipBlock.except.

The runbook's JSON patch (`add /spec/egress/0/to/0/ipBlock/except/-`), preceded
by a `test` of the list as previewed, so a policy changed in between fails
with a clear message instead of being patched blind. When the policy or that
path is missing, the preview says so and offers the alternative, a dedicated
emergency egress policy (`emergency_egress=True`, `--emergency-egress`).
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from actions.kube.cluster import JSON_PATCH, NETWORK_POLICY, POD, SERVICE, ClusterError
from actions.policy import ClusterView
from actions.policy.reachability import egress_paths
from actions.policy.selectors import selector_text
from actions.runbook.checks import BLOCKS_ANNOTATION, InvalidRequest, emergency_metadata, shown
from actions.runbook.model import FORCE_HINT, Change, Problem, ReadBackCheck
from actions.runbook.pipeline import Plan, PlanContext

POLICY = "external-api-segmentation"
EXCEPT_PATH = "/spec/egress/0/to/0/ipBlock/except"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_block(text: str | None, protected: tuple[str, ...] = ()) -> IPNetwork:
    """The network to block: a bare address becomes /32 or /128. Raises InvalidRequest."""
    if not text:
        raise InvalidRequest("block-ip needs an IP address or CIDR")
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as error:
        raise InvalidRequest(
            f"{shown(text)} is not an IPv4 or IPv6 address or CIDR: {error}"
        ) from error
    if network.prefixlen == 0:
        raise InvalidRequest(f"refusing to block {network}: that is every address")
    for cidr in protected:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as error:
            raise InvalidRequest(f"protected range {shown(cidr)} is not a CIDR",
                                 field="protected_cidrs") from error
    return network


def refusals(network: IPNetwork, cluster_ips: set[str], protected: tuple[str, ...]) -> list[str]:
    """Why blocking this network would hurt the cluster itself (overridable with force)."""
    reasons = []
    if network.is_loopback:
        reasons.append(f"{network} is loopback")
    if network.is_link_local:
        reasons.append(f"{network} is link-local")
    for cidr in protected:
        other = ipaddress.ip_network(cidr, strict=False)
        if other.version == network.version and network.overlaps(other):
            reasons.append(f"{network} overlaps the cluster's range {other}")
    inside = sorted(
        ip
        for ip in cluster_ips
        if ipaddress.ip_address(ip).version == network.version
        and ipaddress.ip_address(ip) in network
    )
    if inside:
        more = f" and {len(inside) - 3} more" if len(inside) > 3 else ""
        reasons.append(
            f"{network} holds the cluster's own pod/service addresses {', '.join(inside[:3])}{more}"
        )
    return reasons


async def cluster_addresses(ctx: PlanContext) -> tuple[set[str], list[str]]:
    """Pod and Service IPs the cluster shows us (all namespaces, else this one)."""
    addresses: set[str] = set()
    notes = []
    for kind in (POD, SERVICE):
        try:
            items = await ctx.cluster.list(kind, all_namespaces=True)
        except ClusterError as error:
            if error.cause not in ("forbidden", "not-found"):
                raise
            items = await ctx.cluster.list(kind, ctx.namespace)
            notes.append(
                f"could only check {kind.plural} in {ctx.namespace} against the "
                f"cluster's own addresses ({error.cause} across namespaces)"
            )
        for item in items:
            status, spec = item.get("status") or {}, item.get("spec") or {}
            candidates: list[Any] = [status.get("podIP"), spec.get("clusterIP")]
            candidates += [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict)]
            candidates += list(spec.get("clusterIPs") or [])
            for value in candidates:
                try:
                    addresses.add(str(ipaddress.ip_address(value)))
                except (TypeError, ValueError):
                    continue  # "None" for headless services, absent fields
    return addresses, notes


def _except_list(policy: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the ipBlock the runbook patches, or None with why)."""
    try:
        block = policy["spec"]["egress"][0]["to"][0]["ipBlock"]
    except (KeyError, IndexError, TypeError):
        return None, "has no spec.egress[0].to[0].ipBlock"
    if not isinstance(block, dict):
        return None, "has no spec.egress[0].to[0].ipBlock"
    return block, None


def emergency_egress_manifest(
    name: str, namespace: str, network: IPNetwork, service: str | None, incident_id: str
) -> dict[str, Any]:
    """Egress allowed everywhere except the network, for app=SERVICE pods (or all pods)."""
    everything = "0.0.0.0/0" if network.version == 4 else "::/0"
    return {
        "apiVersion": NETWORK_POLICY.api_version,
        "kind": NETWORK_POLICY.kind,
        "metadata": emergency_metadata(
            name, namespace, incident_id, "block-ip", {BLOCKS_ANNOTATION: str(network)}
        ),
        "spec": {
            "podSelector": {"matchLabels": {"app": service}} if service else {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": everything, "except": [str(network)]}}]}],
        },
    }


async def still_reachable(
    ctx: PlanContext,
    network: IPNetwork,
    replaced: dict[str, Any] | None = None,
    added: dict[str, Any] | None = None,
) -> list[str]:
    """What the preview says about the address once the change is made: who still reaches it.

    Computed with the same policy semantics the drill cluster plays (actions/policy), over
    the namespace's pods and NetworkPolicies as they will be after the change.
    """
    pods = await ctx.cluster.list(POD, ctx.namespace)
    policies = await ctx.cluster.list(NETWORK_POLICY, ctx.namespace)
    if replaced is not None:
        policies = [
            replaced if p["metadata"]["name"] == replaced["metadata"]["name"] else p
            for p in policies
        ]
    if added is not None:
        policies = [*policies, added]
    address = str(network.network_address)
    paths = egress_paths(ClusterView.of([*pods, *policies]), pods, address)
    notes = []
    if paths:
        shown = "; ".join(p.describe() for p in paths[:8])
        more = f" and {len(paths) - 8} more" if len(paths) > 8 else ""
        notes.append(f"after this, {network} is still reachable from {shown}{more}")
    else:
        notes.append(f"after this, no pod in {ctx.namespace} can open a connection to {network}")
    notes.append(
        "cannot stop: what reaches the address through another host (a DNS tunnel through "
        "kube-dns, a proxy) or from another namespace; the process keeps trying (Falco still "
        "reports the attempts, Hubble shows them dropped)"
    )
    return notes


def _blocked_check(network: str) -> ReadBackCheck:
    def check(found: dict[str, Any] | None) -> str | None:
        block, why = _except_list(found or {})
        if block is None:
            return f"{POLICY} {why}"
        if network not in (block.get("except") or []):
            return f"{network} is not in {POLICY}'s except list"
        return None

    return check


async def plan(ctx: PlanContext) -> Plan:
    request = ctx.request
    network = parse_block(request.target, request.protected_cidrs)
    result = Plan()
    addresses, notes = await cluster_addresses(ctx)
    result.notes += notes
    reasons = refusals(network, addresses, request.protected_cidrs)
    if reasons and not request.force:
        result.problems.append(
            Problem(
                "refused",
                f"refusing to block {network}: {'; '.join(reasons)}. {FORCE_HINT}",
            )
        )
        return result
    result.notes += [f"forced: {reason}" for reason in reasons]
    if request.emergency_egress:
        return await _emergency_egress(ctx, network, result)
    policy = await ctx.cluster.get_or_none(NETWORK_POLICY, POLICY, ctx.namespace)
    why = (
        None if policy is not None else f"NetworkPolicy {POLICY} does not exist in {ctx.namespace}"
    )
    block = None
    if policy is not None:
        block, path_problem = _except_list(policy)
        why = f"NetworkPolicy {POLICY} {path_problem}" if block is None else None
    if why:
        result.problems.append(
            Problem(
                "not-found",
                f"{why}: nothing to append {network} to. "
                "Alternative: a dedicated emergency egress policy "
                "(--emergency-egress, optionally --service APP)",
            )
        )
        return result
    assert block is not None
    assert policy is not None
    cidr = ipaddress.ip_network(str(block.get("cidr")), strict=False)
    if cidr.version != network.version or not network.subnet_of(cidr):  # type: ignore[arg-type]
        result.problems.append(
            Problem(
                "invalid",
                f"{network} is outside {POLICY}'s ipBlock cidr {cidr}: an except entry "
                "must lie inside it. Alternative: --emergency-egress",
            )
        )
        return result
    current = list(block.get("except") or [])
    target = str(network)
    result.intent_data = {"blocks": [{"policy": POLICY, "namespace": ctx.namespace, "ip": target}]}
    if target in current:
        result.no_op = f"{target} is already in {POLICY}'s except list: nothing to do"
        return result
    patch = (
        [
            {"op": "test", "path": EXCEPT_PATH, "value": current},
            {"op": "add", "path": EXCEPT_PATH + "/-", "value": target},
        ]
        if "except" in block
        else [{"op": "add", "path": EXCEPT_PATH, "value": [target]}]
    )
    selector = (policy.get("spec") or {}).get("podSelector")
    result.notes.append(
        f"{POLICY} selects pods by {selector_text(selector)}: only those pods lose {target}")
    after = copy.deepcopy(policy)
    after["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] = [*current, target]
    result.notes += await still_reachable(ctx, network, replaced=after)
    result.changes.append(
        Change(
            "patch",
            NETWORK_POLICY.api_version,
            NETWORK_POLICY.kind,
            ctx.namespace,
            POLICY,
            f"added {target} to {POLICY}'s egress except list",
            body=patch,
            patch_type=JSON_PATCH,
            check=_blocked_check(target),
            records={"ip": target},
        )
    )
    return result


async def _emergency_egress(ctx: PlanContext, network: IPNetwork, result: Plan) -> Plan:
    name = f"emergency-egress-block-{ctx.unix_time}"
    service = ctx.request.service
    body = emergency_egress_manifest(name, ctx.namespace, network, service, ctx.incident_id)
    who = f"app={service} pods" if service else f"every pod in {ctx.namespace}"
    result.notes.append(
        f"NetworkPolicies only allow, never deny: this policy lets {who} reach everything but "
        f"{network}. Pods that no other egress policy selects lose {network}; but any other "
        f"policy selecting the same pods that allows {network} still wins, and pods that had "
        "no egress at all gain it. Review the namespace's other policies."
    )
    result.notes += await still_reachable(ctx, network, added=body)
    result.changes.append(
        Change(
            "create",
            NETWORK_POLICY.api_version,
            NETWORK_POLICY.kind,
            ctx.namespace,
            name,
            f"created NetworkPolicy {name} allowing {who} egress except {network}",
            body=body,
            records={"ip": str(network)},
        )
    )
    result.intent_data = {
        "creates": [
            {
                "apiVersion": NETWORK_POLICY.api_version,
                "kind": NETWORK_POLICY.kind,
                "namespace": ctx.namespace,
                "name": name,
                "blocks": str(network),
            }
        ]
    }
    return result
