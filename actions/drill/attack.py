"""What drives the drill's attack, and whether it has really stopped.

A scenario names its attack's drivers (a poisoned image, a shell in one pod,
a stolen credential) and, for each, what ends it on a real cluster: the pod
deleted (the process dies with it; a replacement starts clean), no pod of the
app running the image any more (rolled back or scaled to zero), a Secret
deleted (the credential revoked). An annotation ends nothing: nothing reads
it. Malicious injects and flows stop when their driver ends, for good.

`image_gone` is judged only when the cluster has settled (the engine's tick),
never in the instant between a pod's deletion and its controller's
replacement: a deleted pod of a poisoned image comes back poisoned.
"""

from __future__ import annotations

from typing import Any

from actions.drill.scenario import Driver, EndCondition, Scenario


def _alive(pod: dict[str, Any]) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp")


def condition_met(state: Any, condition: EndCondition) -> bool:
    """Whether the cluster shows this end condition now."""
    if condition.kind == "pod_deleted":
        pod = state.get("v1", "Pod", condition.namespace, condition.name)
        return pod is None or not _alive(pod)
    if condition.kind == "secret_deleted":
        return state.get("v1", "Secret", condition.namespace, condition.name) is None
    for pod in state.peek("v1", "Pod", condition.namespace):
        if ((pod.get("metadata") or {}).get("labels") or {}).get("app") != condition.app:
            continue
        images = [c.get("image") for c in (pod.get("spec") or {}).get("containers") or []]
        if _alive(pod) and condition.image in images:
            return False
    return True


class AttackTracker:
    """Which drivers have ended (and by what); `check()` returns the newly ended ones."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.ended: dict[str, EndCondition] = {}

    def check(self, state: Any, *, settled: bool = False) -> list[tuple[Driver, EndCondition]]:
        """Drivers ended since the last check; `settled`: controllers have had their turn."""
        newly = []
        for driver in self.scenario.drivers:
            if driver.id in self.ended:
                continue
            met = next(
                (
                    c
                    for c in driver.ends_when
                    if (settled or c.kind != "image_gone") and condition_met(state, c)
                ),
                None,
            )
            if met is not None:
                self.ended[driver.id] = met
                newly.append((driver, met))
        return newly

    def alive(self, driver_id: str | None) -> bool:
        return driver_id is None or driver_id not in self.ended

    @property
    def over(self) -> bool:
        """Every driver has ended (a scenario without drivers has no attack to end)."""
        return bool(self.scenario.drivers) and len(self.ended) == len(self.scenario.drivers)
