"""The scenario engine: builds the starting cluster, plays injects, reacts to what the team does.

Reactions come from the cluster's change feed: after every change to a
NetworkPolicy, an Istio or Linkerd policy, a pod, a Secret or a
ServiceAccount, the engine re-evaluates who may talk to whom
(`network.py`) and reports what changed: a pod isolated, egress to an IP
blocked, a flow stopped or back, the attack eradicated. Those changes also
decide whether later injects fire: an isolated pod raises no more alerts, a
blocked IP gets no more connections.

All re-evaluation runs on the engine's event-loop thread: a change made by
the API server's own thread is handed over with `call_soon_threadsafe`, so the
cluster's lock and the traffic model's lock are never taken in opposite orders.
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from actions.drill import events as ev
from actions.drill import exec_scripts, falco_rules, promql, render
from actions.drill.clock import DrillClock
from actions.drill.events import DrillEvent, Observation
from actions.drill.mesh import SynczModel
from actions.drill.network import ClusterView, Endpoint, isolating_policy, network_verdict
from actions.drill.scenario import Inject, PodSpec, Scenario, ScenarioError
from actions.drill.traffic import FlowChange, TrafficModel

# Kinds whose changes can change who may talk to whom, or eradicate the attack.
REACTIVE_KINDS = frozenset(
    {
        "NetworkPolicy",
        "AuthorizationPolicy",
        "PeerAuthentication",
        "Server",
        "ServerAuthorization",
        "Pod",
        "Namespace",
        "Secret",
        "ServiceAccount",
    }
)
DEFAULT_API_VERSIONS = {
    "Secret": "v1",
    "ServiceAccount": "v1",
    "Pod": "v1",
    "Service": "v1",
    "Namespace": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "AuthorizationPolicy": "security.istio.io/v1",
    "PeerAuthentication": "security.istio.io/v1",
}

# The question of a CoreDNS log line: "TXT IN name. udp 112 false 512".
_LOGGED_QUESTION = re.compile(r'"(\S+ IN \S+) ')


class DrillEngine:
    """One scenario in one ClusterState."""

    def __init__(
        self,
        scenario: Scenario,
        state: Any,
        clock: DrillClock,
        emit: Callable[[DrillEvent], None],
        position: Callable[[], float],
    ) -> None:
        self.scenario = scenario
        self.state = state
        self.clock = clock
        self._emit = emit
        self._position = position
        self._rng = random.Random(scenario.seed)
        self.view = ClusterView(lambda api_version, kind, ns: state.list(api_version, kind, ns))
        self.traffic = TrafficModel(scenario, self.view, self._pod)
        self.syncz = SynczModel(
            seed=scenario.seed, istio_version=scenario.istio_version, clock=clock.now
        )
        self.observations: list[Observation] = []
        self._isolated: dict[str, str] = {}
        self._blocked: dict[tuple[str, str, int], str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending_reaction = False
        self._cluster_stopped: set[str] = set()
        # Objects an apply/delete inject changed: key -> (spec before, spec after the inject).
        self._drifted: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        self._undone: set[tuple[str, str, str, str]] = set()

    # ----- the starting cluster ------------------------------------------------------------

    def seed(self) -> None:
        """Create the scenario's starting objects and logs; start listening for changes."""
        scenario, state, now = self.scenario, self.state, self.clock.now()
        try:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
        except RuntimeError:
            self._loop = None
        objects: list[tuple[str, dict[str, Any]]] = []
        objects += [
            (f"cluster.namespaces[{i}]", render.namespace_object(n))
            for i, n in enumerate(scenario.namespaces)
        ]
        for i, account in enumerate(scenario.service_accounts):
            objects += [
                (f"cluster.serviceAccounts[{i}]", o)
                for o in render.service_account_objects(account, self._rng)
            ]
        objects += [
            (f"cluster.pods[{i}]", render.pod_object(p, scenario, now))
            for i, p in enumerate(scenario.pods)
        ]
        objects += [
            (f"cluster.services[{i}]", render.service_object(s))
            for i, s in enumerate(scenario.services)
        ]
        objects += [
            (f"cluster.objects[{i}]", copy.deepcopy(o)) for i, o in enumerate(scenario.objects)
        ]
        problems = []
        for where, obj in objects:
            try:
                state.create(obj)
            except Exception as error:  # ApiError: the API server's own Status message says why
                problems.append(
                    f"{where}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}: "
                    f"{_api_message(error)}"
                )
        problems += self._missing_footholds()
        if problems:
            raise ScenarioError(scenario.source or scenario.name, problems)
        if scenario.rbac is not None:
            state.set_rbac([dict(rule) for rule in scenario.rbac])
        for pod in scenario.pods:
            if pod.namespace == "falco-system" and pod.labels.get("app") == "falco":
                for line in falco_rules.startup_lines(now, pod.node):
                    state.append_log(pod.namespace, pod.name, line, at=now)
            if pod.labels.get("k8s-app") == "kube-dns":
                for line in render.coredns_startup_lines():
                    state.append_log(pod.namespace, pod.name, line, at=now)
            if scenario.mesh == "istio" and pod.sidecar:
                self.syncz.add_proxy(f"{pod.name}.{pod.namespace}")
            if scenario.mesh == "istio" and pod.labels.get("app") == "istio-ingressgateway":
                self.syncz.add_proxy(f"{pod.name}.{pod.namespace}", "router")
        state.exec_provider = exec_scripts.provider(scenario.exec_scripts)
        if scenario.mesh == "istio":
            state.syncz_provider = self.syncz.body
            state.metrics_provider = self.metrics
        self.traffic.start(now.timestamp())
        self._isolated = self._isolation_now()
        self._blocked = self._blocked_now()
        self._unsubscribe = state.subscribe(self._on_change)

    def _missing_footholds(self) -> list[str]:
        """Eradication conditions must name objects of the starting cluster, or the attack
        would be over before it starts."""
        problems = []
        for i, condition in enumerate(self.scenario.eradication):
            kind = "deleted" if "deleted" in condition else "annotated"
            target = condition[kind]
            api_version = target.get("apiVersion") or DEFAULT_API_VERSIONS.get(target["kind"], "v1")
            namespace = target.get("namespace", "voicehive")
            if self.state.get(api_version, target["kind"], namespace, target["name"]) is None:
                problems.append(
                    f"attack.eradicated_when[{i}]: no {target['kind']} "
                    f"{namespace}/{target['name']} in the starting cluster"
                )
        return problems

    def close(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    def metrics(self, query: str, at: float) -> dict[str, Any]:
        """The drill's Prometheus: `data` of /api/v1/query for query at unix time `at`."""
        return promql.evaluate(query, at, self.traffic.series)

    # ----- reading the cluster --------------------------------------------------------------

    def _pod(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        pods = [p for p in self.view.pods(namespace) if p["metadata"]["name"] == name]
        return pods[0] if pods else None

    def _endpoint(self, pod: PodSpec) -> Endpoint:
        return Endpoint(ip=pod.ip, pod=self._pod(pod.namespace, pod.name))

    def _pods_labelled(self, namespace: str, key: str, value: str) -> list[PodSpec]:
        return [
            p for p in self.scenario.pods if p.namespace == namespace and p.labels.get(key) == value
        ]

    def _falco_pod_for(self, node: str) -> PodSpec | None:
        falco = self._pods_labelled("falco-system", "app", "falco")
        return next((p for p in falco if p.node == node), falco[0] if falco else None)

    # ----- injects ----------------------------------------------------------------------------

    def play(self, inject: Inject, repetition: int = 0) -> DrillEvent:
        """Play one inject now; returns what happened (an inject, suppressed or error event)."""
        reason = self._suppression(inject)
        if reason:
            return self._event(
                ev.SUPPRESSED,
                f"{_describe(inject)} does not happen: {reason}",
                inject,
                repetition=repetition,
            )
        try:
            summary = getattr(self, f"_play_{inject.kind}")(inject.spec)
        except Exception as error:  # a cluster refusal is part of the drill, not a crash
            return self._event(
                ev.ERROR,
                f"{_describe(inject)} failed: {_api_message(error)}",
                inject,
                repetition=repetition,
            )
        if inject.kind in ("apply", "delete", "traffic"):
            self.react()
        return self._event(ev.INJECT, summary, inject, repetition=repetition)

    def _event(
        self, kind: str, summary: str, inject: Inject | None = None, **data: Any
    ) -> DrillEvent:
        event = DrillEvent(
            at=self._position(),
            wall=self.clock.now(),
            kind=kind,
            summary=summary,
            inject_id=inject.id if inject else None,
            malicious=bool(inject and inject.malicious),
            data={k: v for k, v in data.items() if v is not None},
        )
        self._emit(event)
        return event

    def _suppression(self, inject: Inject) -> str | None:
        spec = inject.spec
        if inject.malicious and self.traffic.eradicated:
            return "the attack has been eradicated"
        pod_name = {
            "falco": spec.get("pod"),
            "dns": spec.get("client_pod"),
            "log": spec.get("pod"),
        }.get(inject.kind)
        if inject.kind == "event" and (spec.get("object") or {}).get("kind") == "Pod":
            pod_name = spec["object"]["name"]
        if pod_name is None or (inject.kind in ("log", "event") and not inject.malicious):
            return None
        pod = self.scenario.pod(str(pod_name)) if pod_name else None
        if pod is None:
            return None
        endpoint = self._endpoint(pod)
        if endpoint.pod is None:
            return f"pod {pod.namespace}/{pod.name} no longer exists"
        if policy := isolating_policy(self.view, endpoint.pod):
            return f"{pod.name} is isolated by NetworkPolicy {policy}"
        if inject.kind == "falco" and spec.get("remote"):
            ip, port = _split_remote(str(spec["remote"]))
            verdict = network_verdict(self.view, endpoint, Endpoint(ip=ip), port)
            if not verdict.allowed:
                return f"connections from {pod.name} to {ip} are blocked ({verdict.why})"
        if inject.kind == "dns":
            for dns in self._pods_labelled("kube-system", "k8s-app", "kube-dns"):
                verdict = network_verdict(self.view, endpoint, self._endpoint(dns), 53, "UDP")
                if verdict.allowed:
                    return None
            return f"{pod.name} cannot reach kube-dns (egress to port 53 is not allowed)"
        return None

    def _play_falco(self, spec: dict[str, Any]) -> str:
        pod = self.scenario.pod(str(spec["pod"]))
        assert pod is not None  # checked when the scenario was loaded
        falco = self._falco_pod_for(pod.node)
        if falco is None:
            raise RuntimeError("no Falco pod (app=falco in falco-system) to log the alert")
        repository, tag = render.image_parts(pod.image)
        fields: dict[str, Any] = {
            "evt.type": "connect" if spec.get("remote") else "execve",
            "user.name": "root",
            "user.uid": 0,
            "user.loginuid": -1,
            "proc.tty": 0,
            "proc.name": None,
            "proc.exepath": None,
            "proc.pname": None,
            "proc.cmdline": None,
            "container.id": render.container_id(pod)[:12],
            "container.name": pod.container,
            "container.image.repository": repository,
            "container.image.tag": tag,
            "k8s.pod.name": pod.name,
            "k8s.ns.name": pod.namespace,
        }
        if spec.get("remote"):
            ip, port = _split_remote(str(spec["remote"]))
            local_port = self._rng.randint(32768, 60999)
            fields.update(
                {
                    "fd.name": f"{pod.ip}:{local_port}->{ip}:{port}",
                    "fd.lport": local_port,
                    "fd.rport": port,
                    "fd.type": "ipv4",
                    "fd.l4proto": "tcp",
                    "fd.sip": ip,
                    "fd.rip": ip,
                    "fd.sip.name": None,
                    "fd.rip.name": None,
                    "fd.lip.name": None,
                    "fd.cip.name": None,
                }
            )
        for name, value in (spec.get("fields") or {}).items():
            fields[name] = (
                render.expand_query(value, self._rng) if isinstance(value, str) else value
            )
        line = falco_rules.render_alert(
            rule=str(spec["rule"]),
            moment=self.clock.now(),
            hostname=pod.node,
            fields=fields,
            priority=spec.get("priority"),
            tags=spec.get("tags"),
            output=spec.get("output"),
            source=str(spec.get("source", "syscall")),
            nanos=self._rng.randint(0, 999),
        )
        self.state.append_log(falco.namespace, falco.name, line, at=self.clock.now())
        priority = falco_rules.priority_spelling(
            str(spec.get("priority") or falco_rules.RULES[spec["rule"]].priority)
        )
        return f"Falco {priority}: {spec['rule']} ({pod.name}, logged by {falco.name})"

    def _play_event(self, spec: dict[str, Any]) -> str:
        involved = spec["object"]
        namespace = str(spec.get("namespace", "voicehive"))
        uid = node = None
        api_version = involved.get("apiVersion") or DEFAULT_API_VERSIONS.get(involved["kind"])
        if api_version:
            found = self.state.get(api_version, involved["kind"], namespace, involved["name"])
            if found:
                uid = found["metadata"].get("uid")
                node = (found.get("spec") or {}).get("nodeName")
        event = render.event_object(spec, self.clock.now(), self._rng, uid, node)
        self.state.create(event)
        on = f"{involved['kind'].lower()}/{involved['name']}"
        return f"{event['type']} event {event['reason']} on {on}"

    def _play_dns(self, spec: dict[str, Any]) -> str:
        client = self.scenario.pod(str(spec["client_pod"]))
        assert client is not None
        servers = self._pods_labelled("kube-system", "k8s-app", "kube-dns")
        if not servers:
            raise RuntimeError("no kube-dns pod (k8s-app=kube-dns in kube-system) to log the query")
        server = servers[self._rng.randrange(len(servers))]
        line = render.coredns_line(spec, client.ip, self._rng)
        self.state.append_log(server.namespace, server.name, line, at=self.clock.now())
        # The facilitator sees the name as logged, not the scenario's {hex56} template.
        asked = _LOGGED_QUESTION.search(line)
        query = asked.group(1) if asked else f"{spec.get('type', 'A')} {spec['query']}"
        return f"DNS {query} from {client.name} (logged by {server.name})"

    def _play_log(self, spec: dict[str, Any]) -> str:
        pod = self.scenario.pod(str(spec["pod"]))
        assert pod is not None
        now = self.clock.now()
        stamp = (
            now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        )
        klog = now.astimezone(UTC).strftime("I%m%d %H:%M:%S.%f")
        line = (
            render.expand_query(str(spec["line"]), self._rng)
            .replace("{now}", stamp)
            .replace("{klog}", klog)
        )
        self.state.append_log(
            pod.namespace, pod.name, line, container=spec.get("container") or pod.container, at=now
        )
        return f"log line in {pod.name}"

    def _play_apply(self, spec: dict[str, Any]) -> str:
        obj = copy.deepcopy(spec["object"])
        meta = obj.get("metadata") or {}
        key = (
            str(obj["apiVersion"]),
            str(obj["kind"]),
            str(meta.get("namespace", "")),
            str(meta["name"]),
        )
        before = self._spec(key)
        stored = self.state.apply(obj)
        self._track_drift(key, before)
        meta = stored["metadata"]
        return f"{stored['kind']} {meta.get('namespace', '')}/{meta['name']} applied"

    def _play_delete(self, spec: dict[str, Any]) -> str:
        key = (
            str(spec["apiVersion"]),
            str(spec["kind"]),
            str(spec.get("namespace", "")),
            str(spec["name"]),
        )
        before = self._spec(key)
        self.state.delete(spec["apiVersion"], spec["kind"], spec.get("namespace"), spec["name"])
        self._track_drift(key, before)
        return f"{spec['kind']} {spec.get('namespace', '')}/{spec['name']} deleted"

    def _spec(self, key: tuple[str, str, str, str]) -> Any:
        """The object's spec as stored (None when absent); a Secret or SA compares whole."""
        found = self.state.get(key[0], key[1], key[2] or None, key[3])
        if found is None:
            return None
        return found.get(
            "spec", {k: v for k, v in found.items() if k not in ("metadata", "status")}
        )

    def _track_drift(self, key: tuple[str, str, str, str], before: Any) -> None:
        original = self._drifted[key][0] if key in self._drifted else before
        self._drifted[key] = (original, self._spec(key))
        self._undone.discard(key)

    def _play_syncz(self, spec: dict[str, Any]) -> str:
        self.syncz.set_status(str(spec["proxy"]), str(spec["status"]))
        return f"istiod: proxy {spec['proxy']} is {spec['status']}"

    def _play_traffic(self, spec: dict[str, Any]) -> str:
        rates: dict[str, float] = {
            k: float(spec[k])
            for k in ("requests_per_second", "sent_bytes_per_second", "received_bytes_per_second")
            if k in spec
        }
        self.traffic.set_wanted(
            str(spec["flow"]),
            self.clock.now().timestamp(),
            active=spec.get("active"),
            rates=rates,
            response_code=str(spec["response_code"]) if "response_code" in spec else None,
            response_flags=spec.get("response_flags"),
        )
        verb = {True: "starts", False: "stops", None: "changes"}[spec.get("active")]
        return f"traffic flow {spec['flow']} {verb}"

    # ----- reactions ----------------------------------------------------------------------------

    def _on_change(self, event_type: str, obj: dict[str, Any]) -> None:
        self.view.invalidate()
        if obj.get("kind") not in REACTIVE_KINDS:
            return
        if self._loop is None or threading.get_ident() == self._loop_thread:
            self._react_safely()
        elif not self._pending_reaction:
            self._pending_reaction = True
            self._loop.call_soon_threadsafe(self._react_later)

    def _react_later(self) -> None:
        self._pending_reaction = False
        self._react_safely()

    def _react_safely(self) -> None:
        # This runs inside the cluster's write path: a fault here must cost the
        # drill a reaction, never the team's kubectl apply.
        try:
            self.react()
        except Exception as error:  # noqa: BLE001 - reported to the facilitator instead
            self._event(ev.ERROR, f"the drill could not evaluate a change: {error!r}")

    def react(self) -> None:
        """Re-evaluate the cluster after a change and report what it did to the drill."""
        now = self.clock.now()
        changes = self.traffic.reevaluate(now.timestamp())
        if not self.traffic.eradicated and (foothold := self._eradicated()):
            changes += self.traffic.mark_eradicated(now.timestamp())
            self._observe("eradicated", foothold, now)
            self._event(
                ev.REACTION,
                "the attacker's foothold is gone: its credentials no longer work "
                "(malicious injects stop)",
            )
        self._report_isolation(now)
        self._report_blocks(now)
        self._report_drift_undone(now)
        for change in changes:
            self._report_flow(change, now)

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

    def _isolation_now(self) -> dict[str, str]:
        found = {}
        for pod in self.scenario.pods:
            endpoint = self._endpoint(pod)
            if endpoint.pod is not None and (policy := isolating_policy(self.view, endpoint.pod)):
                found[pod.name] = policy
        return found

    def _report_isolation(self, now: datetime) -> None:
        current = self._isolation_now()
        for name, policy in current.items():
            if name not in self._isolated:
                pod = self.scenario.pod(name)
                app = pod.labels.get("app", name) if pod else name
                self._observe("isolate", app, now, policy)
                self._event(
                    ev.REACTION,
                    f"{name} is isolated by NetworkPolicy {policy}: no traffic in or out",
                    pod=name,
                    policy=policy,
                    reaction="isolated",
                )
        for name, policy in self._isolated.items():
            if name not in current:
                pod = self.scenario.pod(name)
                self._observe("restore", pod.labels.get("app", name) if pod else name, now, policy)
                self._event(
                    ev.REACTION,
                    f"{name} is no longer isolated ({policy} removed or changed)",
                    pod=name,
                    policy=policy,
                    reaction="released",
                )
        self._isolated = current

    def _watched_remotes(self) -> set[tuple[str, str, int]]:
        remotes = set()
        for inject in self.scenario.injects:
            if inject.kind == "falco" and inject.spec.get("remote"):
                ip, port = _split_remote(str(inject.spec["remote"]))
                remotes.add((str(inject.spec["pod"]), ip, port))
        for flow in self.scenario.flows:
            if flow.dest_ip:
                remotes.add((flow.source_pod, flow.dest_ip, flow.port))
        return remotes

    def _blocked_now(self) -> dict[tuple[str, str, int], str]:
        blocked = {}
        for pod_name, ip, port in self._watched_remotes():
            pod = self.scenario.pod(pod_name)
            if pod is None:
                continue
            endpoint = self._endpoint(pod)
            if endpoint.pod is None or isolating_policy(self.view, endpoint.pod):
                continue  # isolation is reported on its own
            verdict = network_verdict(self.view, endpoint, Endpoint(ip=ip), port)
            if not verdict.allowed:
                blocked[(pod_name, ip, port)] = verdict.blocked_by or verdict.why
        return blocked

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

    def _eradicated(self) -> str | None:
        """The name of the object whose removal or annotation ended the attack, if it happened."""
        for condition in self.scenario.eradication:
            kind = "deleted" if "deleted" in condition else "annotated"
            target = condition[kind]
            api_version = target.get("apiVersion") or DEFAULT_API_VERSIONS.get(target["kind"], "v1")
            namespace = target.get("namespace", "voicehive")
            found = self.state.get(api_version, target["kind"], namespace, target["name"])
            if kind == "deleted" and found is None:
                return str(target["name"])
            if kind == "annotated" and found is not None:
                annotations = found["metadata"].get("annotations") or {}
                if target["key"] in annotations and (
                    "value" not in target or str(annotations[target["key"]]) == str(target["value"])
                ):
                    return str(target["name"])
        return None

    def _observe(self, action: str, target: str, now: datetime, by: str = "") -> None:
        self.observations.append(Observation(action, target, now, by))


def _split_remote(remote: str) -> tuple[str, int]:
    host, _, port = remote.rpartition(":")
    return host, int(port)


def _describe(inject: Inject) -> str:
    spec = inject.spec
    if inject.kind == "falco":
        return f"Falco alert {spec.get('rule')!r} on {spec.get('pod')}"
    if inject.kind == "dns":
        return f"DNS query {spec.get('query')} from {spec.get('client_pod')}"
    return f"{inject.kind} inject {inject.id}"


def _api_message(error: Exception) -> str:
    status = getattr(error, "status", None)
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    return str(error)
