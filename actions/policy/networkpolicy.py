"""Kubernetes NetworkPolicy (networking.k8s.io/v1) as the API reference defines it.

- A pod is isolated for a direction once any NetworkPolicy of its namespace
  selects it with that policy type; policyTypes defaults to Ingress, plus
  Egress when the policy has egress rules.
- Policies add up: a connection passes a direction when it matches at least
  one rule of any selecting policy. There is no deny rule and no order; a
  policy with no rules for a type only isolates.
- Both ends must allow it: the client's egress and the server's ingress.
- A pod can always reach itself, and traffic between a pod and its own node
  is always allowed.
- A rule matches when one of its peers (`to`/`from`; none or empty: any)
  and one of its ports (none or empty: any) match. A peer's podSelector alone
  means pods of the policy's namespace; namespaceSelector alone, every pod of
  the selected namespaces; both together, both conditions (AND).
- ipBlock: cidr minus every except range. Whether it matches pod IPs is left
  to the network plugin; the drill cluster runs Cilium, whose CIDR rules only
  match peers that are not cluster endpoints, so here ipBlock never matches a
  pod: pods are selected by labels.
- Ports: protocol defaults to TCP; a numeric port with endPort is a range; a
  named port is the container port of that name on the destination pod.
- DNS to kube-dns is traffic like any other: an egress-isolated pod resolves
  nothing unless a rule allows UDP/TCP 53 to the DNS pods.

Sources: docs/policy-semantics.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actions.policy.endpoints import Endpoint, Obj, Verdict, ip_in_block
from actions.policy.selectors import labels_of, policy_types, selector_matches
from actions.policy.view import ClusterView

DIRECTIONS = ("Ingress", "Egress")
RULES_KEY = {"Ingress": ("ingress", "from"), "Egress": ("egress", "to")}


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def selects(policy: Obj, pod: Obj) -> bool:
    return selector_matches((policy.get("spec") or {}).get("podSelector"), labels_of(pod))


def selecting(policies: Iterable[Obj], pod: Obj, direction: str) -> list[Obj]:
    """The policies that isolate the pod for this direction."""
    return [p for p in policies if direction in policy_types(p) and selects(p, pod)]


def allows_anything(policy: Obj, direction: str) -> bool:
    """Whether the policy has at least one rule for this direction (so it allows something)."""
    rules_key, _ = RULES_KEY[direction]
    return direction in policy_types(policy) and bool((policy.get("spec") or {}).get(rules_key))


def port_matches(rule: Obj, port: int, protocol: str, destination: Endpoint) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        if not isinstance(entry, dict):
            continue
        if str(entry.get("protocol") or "TCP").upper() != protocol.upper():
            continue
        wanted: Any = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, int) and not isinstance(wanted, bool):
            end = entry.get("endPort")
            end = end if isinstance(end, int) and end >= wanted else wanted
            if wanted <= port <= end:
                return True
        elif isinstance(wanted, str):
            if wanted.isdigit():
                if int(wanted) == port:
                    return True
            elif destination.named_port(wanted, protocol.upper()) == port:
                return True
    return False


def peer_matches(view: ClusterView, peer: Obj, policy_namespace: str, other: Endpoint) -> bool:
    if not isinstance(peer, dict):
        return False
    if "ipBlock" in peer:
        # Cilium's CIDR rules match only peers outside the cluster's endpoints.
        return other.pod is None and ip_in_block(other.ip, peer.get("ipBlock") or {})
    if other.pod is None:
        return False  # pod and namespace selectors never match an address outside the cluster
    pod_selector = peer.get("podSelector")
    namespace_selector = peer.get("namespaceSelector")
    if pod_selector is None and namespace_selector is None:
        return False  # an empty peer is invalid; the API server refuses it
    if namespace_selector is None:
        if other.namespace != policy_namespace:
            return False
    elif not selector_matches(namespace_selector, view.namespace_labels(str(other.namespace))):
        return False
    return pod_selector is None or selector_matches(pod_selector, other.labels)


def rule_matches(
    view: ClusterView,
    rule: Obj,
    direction: str,
    namespace: str,
    own: Endpoint,
    other: Endpoint,
    port: int,
    protocol: str,
) -> bool:
    if not isinstance(rule, dict):
        return False
    destination = other if direction == "Egress" else own
    if not port_matches(rule, port, protocol, destination):
        return False
    _, peers_key = RULES_KEY[direction]
    peers = rule.get(peers_key)
    return not peers or any(peer_matches(view, peer, namespace, other) for peer in peers)


def direction_verdict(
    view: ClusterView, own: Endpoint, other: Endpoint, direction: str, port: int, protocol: str
) -> Verdict:
    """Whether `own` (a pod) lets this connection through in one direction.

    Egress: own connects to other:port. Ingress: other connects to own:port.
    `allowed_by` names every policy with a matching rule.
    """
    assert own.pod is not None
    namespace = str(own.namespace)
    policies = selecting(view.network_policies(namespace), own.pod, direction)
    if not policies:
        return Verdict.ok(f"no NetworkPolicy selects {own.describe()} for {direction}")
    rules_key, _ = RULES_KEY[direction]
    allowing = tuple(
        name_of(policy)
        for policy in policies
        if any(
            rule_matches(view, rule, direction, namespace, own, other, port, protocol)
            for rule in (policy.get("spec") or {}).get(rules_key) or []
        )
    )
    if allowing:
        return Verdict.ok(f"{direction} allowed by NetworkPolicy {', '.join(allowing)}", allowing)
    names = ", ".join(name_of(p) for p in policies)
    toward = "to" if direction == "Egress" else "from"
    return Verdict.denied(
        f"{direction} of {own.describe()} {toward} {other.describe()}:{port}/{protocol.upper()} "
        f"is allowed by no rule of {names}",
        names,
        "network",
    )


def _same_node(pod: Obj, other: Endpoint) -> bool:
    host_ip = (pod.get("status") or {}).get("hostIP")
    return other.pod is None and bool(host_ip) and other.ip == host_ip


def network_verdict(
    view: ClusterView, source: Endpoint, dest: Endpoint, port: int, protocol: str = "TCP"
) -> Verdict:
    """Whether NetworkPolicies let source reach dest:port (either end may be an outside IP)."""
    if source.pod is not None and dest.pod is not None and source.describe() == dest.describe():
        return Verdict.ok("a pod can always reach itself")
    allowed_by: tuple[str, ...] = ()
    if source.pod is not None and not _same_node(source.pod, dest):
        verdict = direction_verdict(view, source, dest, "Egress", port, protocol)
        if not verdict.allowed:
            return verdict
        allowed_by += verdict.allowed_by
    if dest.pod is not None and not _same_node(dest.pod, source):
        verdict = direction_verdict(view, dest, source, "Ingress", port, protocol)
        if not verdict.allowed:
            return verdict
        allowed_by += verdict.allowed_by
    return Verdict.ok(
        "allowed by NetworkPolicies" if allowed_by else "no NetworkPolicy applies", allowed_by
    )


def isolation(view: ClusterView, pod: Obj) -> dict[str, tuple[list[str], list[str]]]:
    """Per direction: (policies isolating the pod, those of them that allow something)."""
    policies = view.network_policies(str((pod.get("metadata") or {}).get("namespace")))
    result = {}
    for direction in DIRECTIONS:
        chosen = selecting(policies, pod, direction)
        result[direction] = (
            [name_of(p) for p in chosen],
            [name_of(p) for p in chosen if allows_anything(p, direction)],
        )
    return result


def cut_off(view: ClusterView, pod: Obj) -> str | None:
    """The isolating policies when nothing can reach the pod and it can reach nothing; else None.

    Isolated in both directions by policies none of which has a rule: only the pod
    itself and its node remain (which NetworkPolicy cannot stop).
    """
    return cut_off_by(isolation(view, pod))


def cut_off_by(state: dict[str, tuple[list[str], list[str]]]) -> str | None:
    """`cut_off` from an `isolation()` result already computed."""
    if all(chosen and not allowing for chosen, allowing in state.values()):
        names = dict.fromkeys(state["Ingress"][0] + state["Egress"][0])
        return ", ".join(names)
    return None
