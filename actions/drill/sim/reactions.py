"""The drill's reactions to what the team changes: reported as they would show on a real cluster.

After a change the engine re-evaluates every flow (`traffic.py`, with the
semantics of `actions/policy`) and this part reports what the change did: a
pod cut off, or left open by another policy (NetworkPolicies add up); egress
to an address blocked; a flow stopped or back; an attack driver ended for
good; a credential revoked; drift undone. The cluster's policy auditor writes
an Event for each policy change someone makes. Everything reported is also an
`Observation` the score reads, whoever made the change (console, kubectl).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from actions.drill import drill_events as ev
from actions.drill.drill_events import DrillEvent, Observation
from actions.drill.scenario import PodSpec, Scenario
from actions.drill.sim import render
from actions.drill.sim.attack import AttackTracker
from actions.drill.sim.in_place import PodsInPlace
from actions.drill.sim.traffic import FlowChange, TrafficModel
from actions.policy import ClusterView, Endpoint
from actions.policy.networkpolicy import cut_off_by, isolation, network_verdict

# Policy kinds the cluster's auditor reports changes of, with the Event reason it uses.
AUDITED_KINDS = {
    "NetworkPolicy": "NetworkPolicyUpdated",
    "AuthorizationPolicy": "MeshPolicyUpdated",
    "PeerAuthentication": "MeshPolicyUpdated",
    "Server": "MeshPolicyUpdated",
    "ServerAuthorization": "MeshPolicyUpdated",
}
AUDITOR = "network-policy-auditor"
MANAGED_BY = "app.kubernetes.io/managed-by"


def split_remote(remote: str) -> tuple[str, int]:
    """`203.0.113.66:443` -> ("203.0.113.66", 443)."""
    host, _, port = remote.rpartition(":")
    return host, int(port)


class Reactions:
    """The engine's reaction reporting (a part of DrillEngine, which provides these)."""

    scenario: Scenario
    state: Any
    view: ClusterView
    traffic: TrafficModel
    attack: AttackTracker
    in_place: PodsInPlace
    observations: list[Observation]
    clock: Any
    _rng: random.Random
    _changes: list[tuple[str, dict[str, Any]]]
    _changes_lock: Any
    _cut_off: dict[str, str]
    _leaky: dict[str, tuple[str, ...]]
    _blocked: dict[tuple[str, str, int], str]
    _cluster_stopped: set[str]
    _drifted: dict[tuple[str, str, str, str], tuple[Any, Any]]
    _undone: set[tuple[str, str, str, str]]
    _event: Callable[..., DrillEvent]
    _pod: Callable[[str | None, str], dict[str, Any] | None]
    _endpoint: Callable[[PodSpec], Endpoint]
    _spec: Callable[[tuple[str, str, str, str]], Any]

    def react(self, *, scripted: bool = False) -> None:
        """Re-evaluate the cluster after a change and report what it did to the drill."""
        now = self.clock.now()
        with self._changes_lock:
            changed, self._changes = self._changes, []
        changes = self.traffic.reevaluate(now.timestamp())
        self._report_replaced()
        ended = self.attack.check(self.state)
        if ended:
            changes += self._report_ended(ended, now, report_flows=False)
        for event_type, obj in changed:
            self._audit(event_type, obj, now)
            self._observe_credentials(event_type, obj, now)
        self._report_isolation(now)
        self._report_blocks(now)
        self._report_drift_undone(now)
        for change in changes:
            self._report_flow(change, now)

    def _report_ended(
        self, ended: list[tuple[Any, Any]], now: datetime, *, report_flows: bool = True
    ) -> list[FlowChange]:
        """Attack drivers that have stopped for good: their flows stop, the facilitator hears."""
        changes = self.traffic.end_drivers({d.id for d, _ in ended}, now.timestamp())
        for driver, condition in ended:
            self._observe("attack-ended", driver.id, now, condition.describe())
            if condition.kind == "image_gone":
                # Rolled back or set to a clean image: the runbook's "Patch Vulnerabilities".
                self._observe("image-replaced", condition.app, now, condition.describe())
            self._event(
                ev.REACTION,
                f"attack driver {driver.id} has stopped for good: {condition.describe()}"
                + (f" ({driver.description})" if driver.description else ""),
                driver=driver.id,
                reaction="driver-ended",
            )
        if report_flows:
            for change in changes:
                self._report_flow(change, now)
        return changes

    def _report_replaced(self) -> None:
        """A controller started a pod in place of a deleted one: whatever its image carries
        runs on in it (a process of the old pod does not: that is reported as ended)."""
        for old, new in self.in_place.take_replaced():
            owner = ((new["metadata"].get("ownerReferences") or [{}])[0]) or {}
            carried = self.attack.carried_by(new)
            status = new.get("status") or {}
            summary = (
                f"{old['metadata']['name']} was deleted: {owner.get('kind', 'its controller')} "
                f"{owner.get('name', '')} started {new['metadata']['name']} "
                f"({status.get('podIP')} on {(new.get('spec') or {}).get('nodeName')}) "
                "in its place, from the same template"
            )
            if carried:
                summary += "; " + "; ".join(
                    f"attack driver {d.id} carries on in it"
                    + (f" ({d.description})" if d.description else "")
                    for d in carried
                )
            self._event(
                ev.REACTION,
                summary,
                pod=old["metadata"]["name"],
                replacement=new["metadata"]["name"],
                reaction="replaced",
            )

    def _audit(self, event_type: str, obj: dict[str, Any], now: datetime) -> None:
        """The cluster's policy auditor: an Event for each policy change made by someone."""
        kind = str(obj.get("kind"))
        reason = AUDITED_KINDS.get(kind)
        meta = obj.get("metadata") or {}
        if reason is None or not meta.get("namespace"):
            return
        verb = {"ADDED": "created", "MODIFIED": "changed", "DELETED": "deleted"}.get(event_type)
        if verb is None:
            return
        managed = (meta.get("labels") or {}).get(MANAGED_BY)
        outside = f" outside {managed} (OutOfSync)" if managed else ""
        spec = {
            "object": {
                "kind": kind,
                "name": str(meta.get("name")),
                "apiVersion": str(obj.get("apiVersion")),
            },
            "namespace": str(meta["namespace"]),
            "type": "Warning" if managed else "Normal",
            "reason": reason,
            "message": f"{kind} {meta.get('name')} {verb}{outside}",
            "component": AUDITOR,
        }
        try:
            self.state.create(render.event_object(spec, now, self._rng, meta.get("uid"), None))
        except Exception:  # noqa: BLE001, S110 - an Event that cannot be written is no reaction
            return

    def _observe_credentials(self, event_type: str, obj: dict[str, Any], now: datetime) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        if obj.get("kind") == "Secret" and event_type == "DELETED":
            account = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
            if account:
                # The score's "eradicated": the attacker's credentials are gone (not the attack).
                self._observe("eradicated", str(account), now)
                self._event(
                    ev.REACTION,
                    f"service account {account}'s token Secret {meta.get('name')} is deleted: "
                    "that token no longer authenticates",
                    reaction="credential-revoked",
                )
                self._check_disabled(namespace, str(account), now)
        if obj.get("kind") == "ServiceAccount" and event_type == "MODIFIED":
            self._check_disabled(namespace, str(meta.get("name")), now)

    def _check_disabled(self, namespace: str, name: str, now: datetime) -> None:
        """A service account is disabled for real once it mounts no token and has none left."""
        account = self.state.get("v1", "ServiceAccount", namespace, name)
        if account is None or account.get("automountServiceAccountToken") is not False:
            return
        tokens = [str(t.get("name")) for t in account.get("secrets") or [] if isinstance(t, dict)]
        if any(self.state.get("v1", "Secret", namespace, t) for t in tokens):
            return
        if not any(o.action == "disable-sa" and o.target == name for o in self.observations):
            self._observe("disable-sa", name, now, "no token mounted or left")

    def _report_drift_undone(self, now: datetime) -> None:
        """A change an inject made has been put right: back to the original, or changed again."""
        for key, (original, injected) in self._drifted.items():
            if key in self._undone:
                continue
            current = self._spec(key)
            if current == injected:
                continue
            self._undone.add(key)
            target = f"{key[1].lower()}/{key[3]}"
            how = (
                "restored as it was"
                if current == original
                else ("removed" if current is None else "changed again")
            )
            self._observe("fix-config", target, now, how)
            self._event(
                ev.REACTION,
                f"{key[1]} {key[2]}/{key[3]} {how}: the injected change is undone",
                object=target,
                reaction="fixed",
            )

    def _workload_pods(self) -> list[tuple[PodSpec, dict[str, Any]]]:
        found = []
        for spec in self.scenario.pods:
            pod = self._pod(spec.namespace, spec.name)
            if pod is not None:
                found.append((spec, pod))
        return found

    def _isolation_now(self) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
        """(pods cut off, with the policies that do it; pods an isolation policy selects that
        are NOT cut off, with the policies still letting traffic through: they add up)."""
        cut, leaky = {}, {}
        for _, pod in self._workload_pods():
            name = pod["metadata"]["name"]
            state = isolation(self.view, pod)
            if policies := cut_off_by(state):
                cut[name] = policies
                continue
            ingress, egress = state["Ingress"], state["Egress"]
            isolating = set(ingress[0]) & set(egress[0]) - set(ingress[1]) - set(egress[1])
            allowing = tuple(dict.fromkeys(ingress[1] + egress[1]))
            if isolating and allowing:
                leaky[name] = allowing
        return cut, leaky

    def _report_isolation(self, now: datetime) -> None:
        current, leaky = self._isolation_now()
        for name, policy in current.items():
            if name not in self._cut_off:
                pod = self.view.pod(None, name)
                app = ((pod or {}).get("metadata", {}).get("labels") or {}).get("app", name)
                self._observe("isolate", app, now, policy)
                self._event(
                    ev.REACTION,
                    f"{name} is cut off by NetworkPolicy {policy}: no traffic in or out",
                    pod=name,
                    policy=policy,
                    reaction="isolated",
                )
        for name, policy in self._cut_off.items():
            if name not in current and self.view.pod(None, name) is None:
                # Deleted, not released: its controller's new pod is a pod of its own.
                self._event(
                    ev.REACTION,
                    f"{name}, cut off by {policy}, was deleted: a pod its controller starts "
                    "in its place is not cut off unless the policies cut it off too "
                    "(a quarantine label does not carry over)",
                    pod=name,
                    policy=policy,
                    reaction="isolated-pod-deleted",
                )
            elif name not in current:
                spec = self.scenario.pod(name)
                app = spec.labels.get("app", name) if spec else name
                self._observe("restore", app, now, policy)
                self._event(
                    ev.REACTION,
                    f"{name} is no longer cut off ({policy} removed, changed, or another "
                    "policy allows it again)",
                    pod=name,
                    policy=policy,
                    reaction="released",
                )
        self._cut_off = current
        for name, allowing in leaky.items():
            if self._leaky.get(name) != allowing:
                self._event(
                    ev.REACTION,
                    f"{name} is selected by an isolation policy, but NetworkPolicies add up: "
                    f"{', '.join(allowing)} still allow its traffic",
                    pod=name,
                    reaction="isolation-leaks",
                )
        self._leaky = leaky

    def _watched_remotes(self) -> set[tuple[str, str, int]]:
        remotes = set()
        for inject in self.scenario.injects:
            if inject.kind == "falco" and inject.spec.get("remote"):
                ip, port = split_remote(str(inject.spec["remote"]))
                remotes.add((str(inject.spec["pod"]), ip, port))
        for flow in self.scenario.flows:
            if flow.dest_ip:
                remotes.add((flow.source_pod, flow.dest_ip, flow.port))
        return remotes

    def _blocked_now(self) -> dict[tuple[str, str, int], str]:
        blocked = {}
        for pod_name, ip, port in self._watched_remotes():
            spec = self.scenario.pod(pod_name)
            if spec is None:
                continue
            endpoint = self._endpoint(spec)
            if endpoint.pod is None:
                continue
            if endpoint.name in self._cut_off:
                by = self._blocked_for_workload(spec, endpoint, ip, port)
            else:
                verdict = network_verdict(self.view, endpoint, Endpoint(ip=ip), port)
                by = None if verdict.allowed else verdict.blocked_by or verdict.why
            if by:
                blocked[(pod_name, ip, port)] = by
        return blocked

    def _blocked_for_workload(
        self, spec: PodSpec, endpoint: Endpoint, ip: str, port: int
    ) -> str | None:
        """For a pod cut off: the policies that block the address for its workload, or None.

        Isolation is reported on its own and is no block: it takes the pod out of the
        allowing policies (a quarantine label they exclude) and leaves it to rule-less ones.
        The address is judged as for a pod of the workload (the labels its template gives,
        no quarantine label) by the policies with rules: blocked while they leave it out (an
        except entry), lifted once one allows it again, as `act block-ip` reads the except
        list, whether the pod is isolated or not.
        """
        assert endpoint.pod is not None
        as_started = {
            **endpoint.pod,
            "metadata": {**endpoint.pod["metadata"], "labels": dict(spec.labels)},
        }
        workload = Endpoint(ip=endpoint.ip, pod=as_started)
        if network_verdict(self.view, workload, Endpoint(ip=ip), port).allowed:
            return None
        _, with_rules = isolation(self.view, as_started)["Egress"]
        return ", ".join(with_rules) or None  # only rule-less policies: isolation, not a block

    def _report_blocks(self, now: datetime) -> None:
        current = self._blocked_now()
        for (pod, ip, port), by in current.items():
            if (pod, ip, port) not in self._blocked:
                self._observe("block-ip", ip, now, by)
                self._event(
                    ev.REACTION,
                    f"egress from {pod} to {ip}:{port} is now blocked by {by}",
                    pod=pod,
                    ip=ip,
                    reaction="blocked",
                )
        for pod, ip, port in self._blocked:
            if (pod, ip, port) not in current:
                # The block is gone (re-applied, patched, --unblock): the score credits it no
                # more unless recovery lifted it.
                self._observe("block-ip-lifted", ip, now)
                self._event(
                    ev.REACTION,
                    f"egress from {pod} to {ip}:{port} is allowed again",
                    pod=pod,
                    ip=ip,
                    reaction="unblocked",
                )
        self._blocked = current

    def _report_flow(self, change: FlowChange, now: datetime) -> None:
        verdict = self.traffic.verdict(change.flow_id)
        if (
            change.was_flowing
            and not change.flowing
            and verdict.layer in ("network", "mesh-authz", "mtls")
        ):
            self._cluster_stopped.add(change.flow_id)
        if change.flowing and change.flow_id in self._cluster_stopped:
            self._cluster_stopped.discard(change.flow_id)
            self._observe("flow-restored", change.flow_id, now)
        if verdict.layer == "mesh-authz" and not change.flowing:
            flow = next(f for f in self.scenario.flows if f.id == change.flow_id)
            dest = self.scenario.pod(flow.dest_pod or "")
            self._observe(
                "mesh-deny",
                dest.labels.get("app", dest.name) if dest else str(flow.dest_pod),
                now,
                verdict.blocked_by or "",
            )
        if change.flowing and not change.was_flowing:
            summary = f"traffic flow {change.flow_id} flows again"
        elif change.was_flowing and not change.flowing:
            summary = f"traffic flow {change.flow_id} stopped: {change.why}"
        else:
            summary = f"traffic flow {change.flow_id} now ends differently: {change.why}"
        self._event(
            ev.REACTION,
            summary,
            flow=change.flow_id,
            flowing=change.flowing,
            malicious_flow=change.malicious,
            reaction="flow",
        )

    def _observe(self, action: str, target: str, now: datetime, by: str = "") -> None:
        self.observations.append(Observation(action, target, now, by))
