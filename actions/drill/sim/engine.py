"""The scenario engine: builds the starting cluster, plays injects, reacts to what the team does.

Who may talk to whom follows real Kubernetes, Istio and Linkerd semantics
(`actions/policy`, shared with the runbook's previews). This module seeds the
cluster and plays the injects as a real cluster would show them:

- a process keeps trying: Falco still logs its connection attempts to a
  blocked address (the syscall happens; Hubble shows them DROPPED); what needs
  an established connection (dup2 on a connected socket) does not happen, and
  DNS queries that cannot reach kube-dns never reach its log;
- the drill follows the controllers (`in_place.py`): a replacement pod, or a
  rollout's new pod, is the workload's pod from then on (its traffic, logs,
  Falco fields, Hubble flows, exec answers); an attack driver plays on in it
  only if it runs there (`attack.py`: an image carries over, a process does
  not), and stops only when its driver does;
- Falco and CoreDNS are their pods of the moment, found by label (Falco on the
  node of the pod that raised the alert), so a restarted Falco keeps alerting
  into its new pod's log.

Its parts: `reactions.py` (what a change did, reported and observed for the
score; the policy auditor's Events) and `shown.py` (each tick's connections:
Hubble flows and the workloads' own logs).

All re-evaluation runs on the engine's event-loop thread: a change made by
the API server's own thread is handed over with `call_soon_threadsafe`, so the
cluster's lock and the traffic model's lock are never taken in opposite orders.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import random
import re
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from actions.drill import drill_events as ev
from actions.drill.clock import DrillClock
from actions.drill.drill_events import DrillEvent, Observation
from actions.drill.scenario import Inject, PodSpec, Scenario, ScenarioError
from actions.drill.sim import exec_scripts, falco_rules, hubble, promql, render
from actions.drill.sim.attack import AttackTracker
from actions.drill.sim.in_place import FALCO, KUBE_DNS, PodsInPlace
from actions.drill.sim.mesh import SynczModel
from actions.drill.sim.reactions import Reactions, split_remote
from actions.drill.sim.shown import NetworkShown
from actions.drill.sim.traffic import TrafficModel
from actions.policy import ClusterView, Endpoint, Verdict
from actions.policy.networkpolicy import network_verdict

# Kinds whose changes can change who may talk to whom, or end an attack driver.
REACTIVE_KINDS = frozenset(
    {
        "NetworkPolicy",
        "AuthorizationPolicy",
        "PeerAuthentication",
        "Server",
        "ServerAuthorization",
        "MeshTLSAuthentication",
        "NetworkAuthentication",
        "Pod",
        "Namespace",
        "Secret",
        "ServiceAccount",
    }
)
MESH_GROUPS = {"istio": "security.istio.io", "linkerd": "policy.linkerd.io"}
# What a workload owns, seeded before the workloads so their controllers adopt it.
OWNED_FIRST = frozenset({"ReplicaSet", "ControllerRevision"})
MANAGED_BY = "app.kubernetes.io/managed-by"
TICK_SECONDS = promql.SCRAPE_INTERVAL
# Falco events that need an established connection: nothing happens when the path is cut.
NEEDS_CONNECTION = frozenset({"dup", "dup2", "dup3", "sendto", "sendmsg", "write", "read"})

# The question of a CoreDNS log line: "TXT IN name. udp 112 false 512".
_LOGGED_QUESTION = re.compile(r'"(\S+) IN (\S+) ')


class DrillEngine(Reactions, NetworkShown):
    """One scenario in one ClusterState."""

    def __init__(
        self,
        scenario: Scenario,
        state: Any,
        clock: DrillClock,
        emit: Callable[[DrillEvent], None],
        position: Callable[[], float],
        *,
        hubble_file: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.state = state
        self.clock = clock
        self._emit = emit
        self._position = position
        self._rng = random.Random(scenario.seed)
        # The stored objects, uncopied: the evaluation only reads them (see ClusterState.peek).
        self.view = ClusterView(lambda api_version, kind, ns: state.peek(api_version, kind, ns))
        self.in_place = PodsInPlace(scenario, self.view)
        self.traffic = TrafficModel(scenario, self.view, self._pod)
        self.attack = AttackTracker(scenario)
        self.hubble = hubble.HubbleFeed(hubble_file)
        self.syncz = SynczModel(
            seed=scenario.seed, istio_version=scenario.istio_version, clock=clock.now
        )
        self.observations: list[Observation] = []
        self._cut_off: dict[str, str] = {}
        self._leaky: dict[str, tuple[str, ...]] = {}
        self._blocked: dict[tuple[str, str, int], str] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending_reaction = False
        self._changes: list[tuple[str, dict[str, Any]]] = []
        self._changes_lock = threading.Lock()
        self._scripted = False  # an inject is changing the cluster: no auditor Event for it
        self._cluster_stopped: set[str] = set()
        self._metrics_cache: dict[float, list[tuple[str, dict[str, str], float]]] = {}
        self._seeded_uids: dict[tuple[str, str], str | None] = {}
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
        # The cluster has the CRDs of the mesh the scenario tells of, and no other.
        state.absent_groups = frozenset(
            group for mesh, group in MESH_GROUPS.items() if mesh != scenario.mesh
        )
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
        # A workload's history (old ReplicaSets, ControllerRevisions) is written before the
        # workload, as its pods are: its controller then adopts them, revisions and all.
        objects += sorted(
            (
                (f"cluster.objects[{i}]", copy.deepcopy(o))
                for i, o in enumerate(scenario.objects)
            ),
            key=lambda item: item[1].get("kind") not in OWNED_FIRST,
        )
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
        for pod in self.view.pods(None):
            self._started(pod)
        state.exec_provider = exec_scripts.provider(scenario.exec_scripts, self.attack.runs_in)
        if scenario.mesh == "istio":
            state.syncz_provider = self.syncz.body
        # The base's Prometheus runs in every scenario: without Istio it has no istio_* series
        # and answers an empty result, as a real one does (never "no endpoints").
        state.metrics_provider = self.metrics
        self.in_place.start()
        self.attack.start(state)
        self._seeded_uids = {
            (p.namespace, p.name): (self.view.pod(p.namespace, p.name) or {})
            .get("metadata", {})
            .get("uid")
            for p in scenario.pods
        }
        self.traffic.start(now.timestamp())
        self._cut_off, self._leaky = self._isolation_now()
        self._blocked = self._blocked_now()
        self._unsubscribe.append(state.subscribe(self._on_change))
        if state.controllers is not None:
            self._unsubscribe.append(state.controllers.on_pod_replaced(self.in_place.replaced))

    def _started(self, pod: dict[str, Any]) -> None:
        """A pod has started: Falco and CoreDNS print their start-up lines, istiod sees a new
        sidecar connect (the scenario's pods at the start, and every pod started later)."""
        meta = pod["metadata"]
        namespace, name = str(meta.get("namespace")), str(meta["name"])
        labels = meta.get("labels") or {}
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        now = self.clock.now()
        starting: tuple[tuple[tuple[str, dict[str, str]], Callable[[], list[str]]], ...] = (
            (FALCO, lambda: falco_rules.startup_lines(now, node)),
            (KUBE_DNS, render.coredns_startup_lines),
        )
        for (where, wanted), lines in starting:
            if namespace == where and all(labels.get(k) == v for k, v in wanted.items()):
                container = self.state.default_container(namespace, name)
                for line in lines():
                    self.state.append_log(namespace, name, line, container=container, at=now)
        if self.scenario.mesh != "istio":
            return
        if labels.get("app") == "istio-ingressgateway":
            self.syncz.add_proxy(f"{name}.{namespace}", "router")
        elif "istio-proxy" in containers:
            self.syncz.add_proxy(f"{name}.{namespace}")

    def _missing_footholds(self) -> list[str]:
        """A Secret whose deletion ends a driver must exist at the start, or the attack
        would be over before it starts (pods and images are checked by the loader)."""
        problems = []
        for i, driver in enumerate(self.scenario.drivers):
            for j, condition in enumerate(driver.ends_when):
                if (
                    condition.kind == "secret_deleted"
                    and self.state.get("v1", "Secret", condition.namespace, condition.name) is None
                ):
                    problems.append(
                        f"attack.drivers[{i}].ends_when[{j}]: no Secret "
                        f"{condition.namespace}/{condition.name} in the starting cluster"
                    )
        return problems

    def close(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    def metrics(self, query: str, at: float) -> dict[str, Any]:
        """The drill's Prometheus: `data` of /api/v1/query for query at unix time `at`."""
        now = self.clock.now().timestamp()
        return promql.evaluate(query, at, self._series_at(now), now=now)

    def _series_at(self, now: float) -> Callable[[float], list[tuple[str, dict[str, str], float]]]:
        cache = self._metrics_cache

        def series(at: float) -> list[tuple[str, dict[str, str], float]]:
            # A scrape in the past never changes: changes happen now, not before.
            if at > now:
                return self.traffic.series(at)
            if at not in cache:
                if len(cache) > 4096:
                    cache.clear()
                cache[at] = self.traffic.series(at)
            return cache[at]

        return series

    # ----- reading the cluster --------------------------------------------------------------

    def _pod(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The pod running in place of a scenario pod (itself, or its workload's new pod)."""
        return self.in_place.pod(namespace, name)

    def _live(self, spec: PodSpec) -> PodSpec | None:
        """The scenario pod as it runs now (name, IP, node, image of its replacement)."""
        pod = self._pod(spec.namespace, spec.name)
        if pod is None:
            return None
        if pod["metadata"]["name"] == spec.name and pod["metadata"].get("uid") == self._uid(spec):
            return spec
        containers = (pod.get("spec") or {}).get("containers") or []
        image = next(
            (c.get("image") for c in containers if c.get("name") == spec.container), spec.image
        )
        return dataclasses.replace(
            spec,
            name=pod["metadata"]["name"],
            ip=str((pod.get("status") or {}).get("podIP") or spec.ip),
            node=str((pod.get("spec") or {}).get("nodeName") or spec.node),
            image=str(image),
        )

    def _uid(self, spec: PodSpec) -> str | None:
        return self._seeded_uids.get((spec.namespace, spec.name))

    def _endpoint(self, spec: PodSpec) -> Endpoint:
        pod = self._pod(spec.namespace, spec.name)
        return Endpoint.of_pod(pod) if pod is not None else Endpoint(ip=spec.ip)

    def _dns_verdict(self, client: Endpoint) -> tuple[Verdict, Endpoint | None]:
        """Whether the client's DNS reaches a kube-dns pod (UDP 53), and which one."""
        last: Verdict | None = None
        for pod in self.in_place.dns_servers():
            server = Endpoint.of_pod(pod)
            last = network_verdict(self.view, client, server, 53, "UDP")
            if last.allowed:
                return last, server
        return last or Verdict.denied("no kube-dns pod runs", None, "gone"), None

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
        self._scripted = True
        try:
            summary = getattr(self, f"_play_{inject.kind}")(inject.spec)
        except Exception as error:  # a cluster refusal is part of the drill, not a crash
            return self._event(
                ev.ERROR,
                f"{_describe(inject)} failed: {_api_message(error)}",
                inject,
                repetition=repetition,
            )
        finally:
            self._scripted = False
        if inject.kind in ("apply", "delete", "traffic"):
            self.react(scripted=True)
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
        """Why an inject does not happen now: its driver stopped, its pod is gone, or it
        needs a path the network no longer gives. None: it happens."""
        spec = inject.spec
        if inject.malicious and not self.attack.alive(inject.driver):
            ended = self.attack.ended[str(inject.driver)]
            return f"attack driver {inject.driver} has stopped ({ended.describe()})"
        pod_name = {
            "falco": spec.get("pod"),
            "dns": spec.get("client_pod"),
            "log": spec.get("pod"),
        }.get(inject.kind)
        if inject.kind == "event" and (spec.get("object") or {}).get("kind") == "Pod":
            pod_name = spec["object"]["name"]
        # An Event may name a pod that is gone; a log line needs a pod to write it.
        if pod_name is None or (inject.kind == "event" and not inject.malicious):
            return None
        spec_pod = self.scenario.pod(str(pod_name))
        if spec_pod is None:
            return None
        endpoint = self._endpoint(spec_pod)
        if endpoint.pod is None:
            return f"no pod runs in place of {spec_pod.namespace}/{spec_pod.name}"
        if inject.malicious and not self.attack.runs_in(inject.driver, endpoint.pod):
            driver = self.scenario.driver(inject.driver)
            what = f" ({driver.description})" if driver and driver.description else ""
            return (
                f"attack driver {inject.driver} does not run in {endpoint.name}, the pod now "
                f"in place of {spec_pod.name}{what}"
            )
        if inject.kind == "falco" and spec.get("remote"):
            ip, port = split_remote(str(spec["remote"]))
            verdict = network_verdict(self.view, endpoint, Endpoint(ip=ip), port)
            evt_type = str((spec.get("fields") or {}).get("evt.type") or "connect")
            if not verdict.allowed and evt_type in NEEDS_CONNECTION:
                self._record_attempt(endpoint, ip, port, verdict)
                return (
                    f"{endpoint.name} cannot connect to {ip}:{port}, so nothing is "
                    f"{evt_type}'d onto the connection ({verdict.why})"
                )
        if inject.kind == "dns":
            verdict, _ = self._dns_verdict(endpoint)
            if not verdict.allowed:
                self._record_dns_drop(endpoint)
                return f"its queries never reach kube-dns ({verdict.why})"
        return None

    def _play_falco(self, spec: dict[str, Any]) -> str:
        scenario_pod = self.scenario.pod(str(spec["pod"]))
        assert scenario_pod is not None  # checked when the scenario was loaded
        pod = self._live(scenario_pod) or scenario_pod
        falco = self.in_place.falco_on(pod.node)
        if falco is None:
            # Falco sees the syscalls of its own node only: nothing logs this one.
            return (
                f"{spec['rule']} happened in {pod.name}, but no Falco pod (app=falco in "
                f"falco-system) runs on its node {pod.node} to log it"
            )
        falco_name = str(falco["metadata"]["name"])
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
            "container.id": self._container_id(pod)[:12],
            "container.name": pod.container,
            "container.image.repository": repository,
            "container.image.tag": tag,
            "k8s.pod.name": pod.name,
            "k8s.ns.name": pod.namespace,
        }
        dropped = ""
        if spec.get("remote"):
            ip, port = split_remote(str(spec["remote"]))
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
            client = self._endpoint(scenario_pod)
            verdict = network_verdict(self.view, client, Endpoint(ip=ip), port)
            if not verdict.allowed:
                # The connect() happens (Falco sees it); the network drops its packets.
                self._record_attempt(client, ip, port, verdict, local_port)
                dropped = f"; the connection is dropped ({verdict.why})"
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
        self.state.append_log(
            "falco-system",
            falco_name,
            line,
            container=self.state.default_container("falco-system", falco_name),
            at=self.clock.now(),
        )
        priority = falco_rules.priority_spelling(
            str(spec.get("priority") or falco_rules.RULES[spec["rule"]].priority)
        )
        return f"Falco {priority}: {spec['rule']} ({pod.name}, logged by {falco_name}){dropped}"

    def _container_id(self, pod: PodSpec) -> str:
        """The app container's ID as the pod's status reports it (what Falco shows)."""
        found = self.view.pod(pod.namespace, pod.name) or {}
        for status in (found.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == pod.container and status.get("containerID"):
                return str(status["containerID"]).rpartition("://")[2]
        return render.container_id(pod)

    def _play_event(self, spec: dict[str, Any]) -> str:
        involved = spec["object"]
        namespace = str(spec.get("namespace", "voicehive"))
        uid = node = None
        api_version = involved.get("apiVersion") or _API_VERSIONS.get(involved["kind"])
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
        scenario_pod = self.scenario.pod(str(spec["client_pod"]))
        assert scenario_pod is not None
        client = self._live(scenario_pod) or scenario_pod
        _, server_end = self._dns_verdict(self._endpoint(scenario_pod))
        servers = self.in_place.dns_servers()
        if not servers:
            raise RuntimeError("no kube-dns pod (k8s-app=kube-dns in kube-system) to log the query")
        server = str(
            next(
                (s for s in servers if server_end and s["metadata"]["name"] == server_end.name),
                servers[self._rng.randrange(len(servers))],
            )["metadata"]["name"]
        )
        line = render.coredns_line(spec, client.ip, self._rng)
        self.state.append_log(
            "kube-system",
            server,
            line,
            container=self.state.default_container("kube-system", server),
            at=self.clock.now(),
        )
        # The facilitator sees the name as logged, not the scenario's {hex56} template.
        asked = _LOGGED_QUESTION.search(line)
        qtype, query = (
            (asked.group(1), asked.group(2))
            if asked
            else (str(spec.get("type", "A")), str(spec["query"]))
        )
        if server_end is not None:
            self._record_dns(
                self._endpoint(scenario_pod),
                server_end,
                query,
                qtype,
                str(spec.get("rcode", "NOERROR")),
            )
        return f"DNS {qtype} IN {query} from {client.name} (logged by {server})"

    def _play_log(self, spec: dict[str, Any]) -> str:
        scenario_pod = self.scenario.pod(str(spec["pod"]))
        assert scenario_pod is not None
        pod = self._live(scenario_pod) or scenario_pod
        self._write_log(pod, str(spec["line"]), spec.get("container"))
        return f"log line in {pod.name}"

    def _write_log(self, pod: PodSpec, template: str, container: str | None = None) -> None:
        now = self.clock.now()
        stamp = (
            now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        )
        klog = now.astimezone(UTC).strftime("I%m%d %H:%M:%S.%f")
        line = (
            render.expand_query(template, self._rng).replace("{now}", stamp).replace("{klog}", klog)
        )
        self.state.append_log(
            pod.namespace, pod.name, line, container=container or pod.container, at=now
        )

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
        proxy = self._proxy_now(str(spec["proxy"]))
        self.syncz.set_status(proxy, str(spec["status"]))
        return f"istiod: proxy {proxy} is {spec['status']}"

    def _proxy_now(self, proxy: str) -> str:
        """`<pod>.<namespace>` of the pod running in place of the scenario pod named."""
        name, _, namespace = proxy.rpartition(".")
        pod = self._pod(namespace, name) if self.scenario.pod(name) else None
        return f"{pod['metadata']['name']}.{namespace}" if pod is not None else proxy

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
        if obj.get("kind") == "Pod":
            self._follow_pod(event_type, obj)
        if obj.get("kind") not in REACTIVE_KINDS:
            return
        scripted = self._scripted and threading.get_ident() == self._loop_thread
        if not scripted:
            with self._changes_lock:
                self._changes.append((event_type, obj))
        if self._loop is None or threading.get_ident() == self._loop_thread:
            self._react_safely()
        elif not self._pending_reaction:
            self._pending_reaction = True
            self._loop.call_soon_threadsafe(self._react_later)

    def _follow_pod(self, event_type: str, pod: dict[str, Any]) -> None:
        """A pod started (Running) or went: what runs in the cluster follows it."""
        meta = pod["metadata"]
        if event_type == "DELETED":
            self.syncz.remove_proxy(f"{meta['name']}.{meta.get('namespace')}")
            return
        running = (pod.get("status") or {}).get("phase") == "Running"
        if event_type == "ADDED" and running:
            self._started(pod)

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


_API_VERSIONS = {
    "Secret": "v1",
    "ServiceAccount": "v1",
    "Pod": "v1",
    "Service": "v1",
    "Namespace": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "AuthorizationPolicy": "security.istio.io/v1",
    "PeerAuthentication": "security.istio.io/v1",
}


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
