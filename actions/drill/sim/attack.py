"""What drives the drill's attack, and whether it has really stopped.

A scenario names its attack's drivers (a poisoned image, a shell in one pod,
a stolen credential) and, for each, what ends it on a real cluster: the pod
deleted (the process dies with it; a replacement starts clean), no pod of the
app running the image any more (rolled back or scaled to zero), a Secret
deleted (the credential revoked). An annotation ends nothing: nothing reads
it. Malicious injects and flows stop when their driver ends, for good.

A deleted pod of a poisoned image comes back poisoned: its controller starts
the replacement from the same template before the engine hears of the
deletion, so the driver carries on in the new pod; it ends when the
Deployment is rolled back or set to a clean image (`kubectl rollout undo`,
`kubectl set image`) or scaled to zero. A `pod_deleted` driver ends with its
pod and does not carry over: the replacement runs a new process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # scenario.py builds drivers with the parsers below: no import cycle
    from actions.drill.scenario import Flow, PodSpec, Scenario
    from actions.drill.scenario import _Checker as Checker

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class EndCondition:
    """What really stops an attack driver (see docs/scenarios.md, `attack`).

    kind: pod_deleted (the process dies with its pod), image_gone (no pod of
    the app runs the image any more), secret_deleted (a credential revoked).
    """

    kind: str
    namespace: str
    name: str = ""  # pod_deleted: the pod; secret_deleted: the Secret
    app: str = ""  # image_gone
    image: str = ""  # image_gone

    def describe(self) -> str:
        if self.kind == "pod_deleted":
            return f"pod {self.namespace}/{self.name} deleted"
        if self.kind == "secret_deleted":
            return f"Secret {self.namespace}/{self.name} deleted"
        return f"no pod of app={self.app} in {self.namespace} runs {self.image}"


@dataclass(frozen=True)
class Driver:
    """One thing that keeps (part of) the attack going, and what stops it for good."""

    id: str
    description: str
    ends_when: tuple[EndCondition, ...]


# --- the scenario format: attack.drivers -------------------------------------------------

END_CONDITIONS = {
    "pod_deleted": {"pod", "namespace"},
    "image_gone": {"app", "image", "namespace"},
    "secret_deleted": {"name", "namespace"},
}


def parse_attack(value: Any, c: Checker, pods: tuple[PodSpec, ...]) -> tuple[Driver, ...]:
    """attack.drivers: what keeps each part of the attack going, and what really stops it."""
    attack = c.mapping(value, ("attack",), required=False)
    if "eradicated_when" in attack:
        c.problem(
            ("attack", "eradicated_when"),
            "replaced by attack.drivers (docs/scenarios.md): on a real cluster an annotation "
            "ends nothing; say what drives the attack and what really stops it "
            "(pod_deleted, image_gone, secret_deleted)",
        )
        return ()
    c.unknown_keys(attack, {"drivers"}, ("attack",))
    drivers: list[Driver] = []
    for i, raw in enumerate(c.sequence(attack.get("drivers"), ("attack", "drivers"))):
        path: Path_ = ("attack", "drivers", i)
        item = c.mapping(raw, path)
        if not item:
            continue
        c.unknown_keys(item, {"id", "description", "ends_when"}, path)
        driver_id = c.text(item, "id", path)
        if any(d.id == driver_id for d in drivers):
            c.problem((*path, "id"), f"driver id {driver_id!r} is used twice")
        conditions = []
        for j, cond in enumerate(
            c.sequence(item.get("ends_when"), (*path, "ends_when"), required=True)
        ):
            conditions.append(_end_condition(cond, c, (*path, "ends_when", j), pods))
        if not conditions:
            c.problem((*path, "ends_when"), "name at least one thing that stops this driver")
        description = item.get("description", "")
        drivers.append(
            Driver(
                id=driver_id,
                description=str(description) if description else "",
                ends_when=tuple(x for x in conditions if x is not None),
            )
        )
    return tuple(drivers)


def _end_condition(
    raw: Any, c: Checker, path: Path_, pods: tuple[PodSpec, ...]
) -> EndCondition | None:
    item = c.mapping(raw, path)
    kinds = [k for k in END_CONDITIONS if k in item]
    if len(kinds) != 1:
        if "annotated" in item:
            c.problem(path, "an annotation ends nothing on a real cluster: nothing reads it")
        else:
            c.problem(path, f"give exactly one of {', '.join(END_CONDITIONS)}")
        return None
    kind = kinds[0]
    target = c.mapping(item[kind], (*path, kind))
    c.unknown_keys(target, END_CONDITIONS[kind], (*path, kind))
    namespace = c.text(target, "namespace", (*path, kind), default="voicehive")
    if kind == "pod_deleted":
        name = c.text(target, "pod", (*path, kind))
        if name and not any(p.name == name and p.namespace == namespace for p in pods):
            c.problem((*path, kind, "pod"), f"no pod {namespace}/{name} in cluster.pods")
        return EndCondition(kind, namespace, name=name)
    if kind == "image_gone":
        app = c.text(target, "app", (*path, kind))
        image = c.text(target, "image", (*path, kind))
        if (
            app
            and image
            and not any(
                p.namespace == namespace and p.labels.get("app") == app and p.image == image
                for p in pods
            )
        ):
            c.problem(
                (*path, kind),
                f"no pod of app={app} in {namespace} runs {image} in the starting cluster",
            )
        return EndCondition(kind, namespace, app=app, image=image)
    return EndCondition(kind, namespace, name=c.text(target, "name", (*path, kind)))


def with_drivers(
    flows: tuple[Flow, ...], drivers: tuple[Driver, ...], c: Checker
) -> tuple[Flow, ...]:
    """Malicious flows name their driver; without one they belong to the first."""
    result = []
    for flow in flows:
        if flow.malicious and flow.driver is None and drivers:
            flow = replace(flow, driver=drivers[0].id)
        if flow.driver is not None and not any(d.id == flow.driver for d in drivers):
            c.problem(("traffic",), f"flow {flow.id}: no attack driver {flow.driver!r}")
        result.append(flow)
    return tuple(result)


# --- the cluster: which drivers have ended, and where they run ----------------------------


def _alive(pod: dict[str, Any]) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp")


def _runs_image(pod: dict[str, Any], condition: EndCondition) -> bool:
    meta = pod.get("metadata") or {}
    if meta.get("namespace") != condition.namespace or not _alive(pod):
        return False
    if (meta.get("labels") or {}).get("app") != condition.app:
        return False
    images = [c.get("image") for c in (pod.get("spec") or {}).get("containers") or []]
    return condition.image in images


class AttackTracker:
    """Which drivers have ended (and by what), and which pods a live driver runs in.

    A `pod_deleted` driver is the process of one pod: the pod the scenario names,
    as it was at the start (a StatefulSet's replacement under the same name is a
    new pod, a new process). An `image_gone` driver runs in every pod of the app
    that runs the image, replacements and rollouts' new pods included.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.ended: dict[str, EndCondition] = {}
        self._uids: dict[tuple[str, str], str] = {}

    def start(self, state: Any) -> None:
        """Remember the pods the process drivers live in (their uids), once seeded."""
        for driver in self.scenario.drivers:
            for condition in driver.ends_when:
                if condition.kind == "pod_deleted":
                    pod = state.get("v1", "Pod", condition.namespace, condition.name)
                    if pod is not None:
                        self._uids[(condition.namespace, condition.name)] = str(
                            pod["metadata"].get("uid")
                        )

    def _is_the_pod(self, pod: dict[str, Any] | None, condition: EndCondition) -> bool:
        if pod is None or not _alive(pod):
            return False
        meta = pod.get("metadata") or {}
        if (meta.get("namespace"), meta.get("name")) != (condition.namespace, condition.name):
            return False
        uid = self._uids.get((condition.namespace, condition.name))
        return uid is None or meta.get("uid") == uid

    def met(self, state: Any, condition: EndCondition) -> bool:
        """Whether the cluster shows this end condition now."""
        if condition.kind == "pod_deleted":
            pod = state.get("v1", "Pod", condition.namespace, condition.name)
            return not self._is_the_pod(pod, condition)
        if condition.kind == "secret_deleted":
            return state.get("v1", "Secret", condition.namespace, condition.name) is None
        pods = state.peek("v1", "Pod", condition.namespace)
        return not any(_runs_image(pod, condition) for pod in pods)

    def check(self, state: Any) -> list[tuple[Driver, EndCondition]]:
        """Drivers ended since the last check.

        The engine checks when it hears of a change; the cluster's controllers hear of
        it first (they subscribed first), so a deleted pod's replacement already runs
        and a poisoned image never looks gone in between.
        """
        newly = []
        for driver in self.scenario.drivers:
            if driver.id in self.ended:
                continue
            met = next((c for c in driver.ends_when if self.met(state, c)), None)
            if met is not None:
                self.ended[driver.id] = met
                newly.append((driver, met))
        return newly

    def alive(self, driver_id: str | None) -> bool:
        return driver_id is None or driver_id not in self.ended

    def runs_in(self, driver_id: str | None, pod: dict[str, Any]) -> bool:
        """Whether a live driver runs in this pod: the pod it was started in (a process),
        a pod running its image; a driver bound to no pod (a credential) runs anywhere."""
        if not self.alive(driver_id):
            return False
        driver = self.scenario.driver(driver_id)
        if driver is None:
            return True
        for condition in driver.ends_when:
            if condition.kind == "pod_deleted" and not self._is_the_pod(pod, condition):
                return False
            if condition.kind == "image_gone" and not _runs_image(pod, condition):
                return False
        return True

    def carried_by(self, pod: dict[str, Any]) -> list[Driver]:
        """The live drivers that run in this pod because it runs their image."""
        return [
            d
            for d in self.scenario.drivers
            if self.alive(d.id)
            and any(c.kind == "image_gone" for c in d.ends_when)
            and self.runs_in(d.id, pod)
        ]

    @property
    def over(self) -> bool:
        """Every driver has ended (a scenario without drivers has no attack to end)."""
        return bool(self.scenario.drivers) and len(self.ended) == len(self.scenario.drivers)
