"""Every built-in scenario's answer key agrees with the console and speaks the checklist's words.

- Severity: the drill plays the scenario, and the console's own parsers,
  classifier and detectors turn what the drill cluster logs into alerts: Falco
  lines (the shipped classification), the CoreDNS tunnel detector, the
  mTLS-failure and refused-calls (403) checks on the drill's Prometheus.
  Within the answer key's MTTD target from the scenario's first sign (the time
  the team has to detect), the first alert warroom proposes an incident for
  (P0/P1) must carry the key's severity. When no alert in that window is
  proposal-worthy, the team opens the incident by hand from the first alert of
  the window (`o` prefills its severity), which must then carry the key's
  severity; with no alert at all in the window, nothing proposes an incident,
  so the key must not be P0/P1.
- Steps: each is a checklist item's id or one of the few runbook steps the
  checklist does not hold, and none repeats what the key's containment scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from actions.checklists import load_checklists
from actions.drill.clock import ManualClock
from actions.drill.scenario import builtin_names, load_builtin
from actions.drill.score import CONTAINMENT_ITEMS, RUNBOOK_ONLY_STEPS, RUNBOOK_STEPS
from actions.falco.alert import FalcoAlert
from actions.falco.classify import Classifier
from actions.falco.parse import parse_line
from actions.sources.coredns_log import parse_query
from actions.sources.detection import PROPOSING_SEVERITIES
from actions.sources.dns_detector import DnsTunnelDetector
from actions.sources.dns_follower import detection_alert
from actions.sources.traffic import DENIAL_CLASSIFICATION, MTLS_CLASSIFICATION, TrafficMonitor
from tests.plugins.drill_scenarios import DRILL_START

MTLS_POLL = timedelta(seconds=15)  # TrafficMonitor's interval
SCENARIOS = builtin_names()


@dataclass(frozen=True)
class Raised:
    """An alert the console would record: when, which rule, the severity it assigns."""

    at: datetime
    rule: str
    severity: str


class DrillPrometheus:
    """The drill's Prometheus as the console's TrafficMonitor asks it, at a chosen moment."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.at = 0.0
        self.where = "the drill's Prometheus"

    async def query(self, promql: str) -> Any:
        return self.engine.metrics(promql, self.at)


def falco_alerts(drill: Any, classifier: Classifier) -> list[Raised]:
    raised = []
    for pod in drill.scenario.pods:
        if pod.labels.get("app") != "falco":
            continue
        for line in drill.state.log_lines(pod.namespace, pod.name):
            alert = parse_line(line.text.encode())
            if isinstance(alert, FalcoAlert):
                raised.append(Raised(line.at, alert.rule, classifier.classify(alert).severity))
    return raised


def dns_alerts(drill: Any, classifier: Classifier) -> list[Raised]:
    lines = sorted(
        (
            (line, pod.name)
            for pod in drill.scenario.pods
            if pod.labels.get("k8s-app") == "kube-dns"
            for line in drill.state.log_lines(pod.namespace, pod.name)
        ),
        key=lambda pair: pair[0].at,
    )
    detector = DnsTunnelDetector()
    raised = []
    for line, pod in lines:
        query = parse_query(line.text.encode())
        if query is None:
            continue
        for detection in detector.observe(query, now_ns=int(line.at.timestamp() * 1e9)):
            alert = detection_alert(detection, pod)
            raised.append(Raised(line.at, alert.rule, classifier.classify(alert).severity))
    return raised


async def mesh_alerts(drill: Any, start: datetime, end: datetime) -> list[Raised]:
    """The first mTLS-failure P0 and the first refused-calls P1 the traffic checks raise."""
    prometheus = DrillPrometheus(drill.engine)
    monitor = TrafficMonitor(prometheus)  # type: ignore[arg-type]
    raised: dict[str, Raised] = {}
    moment = start
    while moment <= end and len(raised) < 2:
        prometheus.at = moment.timestamp()
        sample = await monitor.sample()
        failing = [s for s, rate in sample.mtls_failures.items() if rate >= monitor.mtls_min_rate]
        if len(failing) >= monitor.mtls_services:
            raised.setdefault("mtls", Raised(moment, "mTLS failures",
                                             MTLS_CLASSIFICATION.severity))
        if monitor.denied_routes(sample):
            raised.setdefault("denials", Raised(moment, "refused calls",
                                                DENIAL_CLASSIFICATION.severity))
        moment += MTLS_POLL
    return list(raised.values())


@pytest.mark.parametrize("name", SCENARIOS)
async def test_the_console_rates_the_first_alert_as_the_answer_key_does(
    name: str, drill_factory: Any
) -> None:
    drill = await drill_factory(name, clock=ManualClock(DRILL_START), speed=1)
    await drill.play()
    key = drill.scenario.answer_key
    clock_inject = drill.scenario.first_clock_inject()
    start = drill.player.played[clock_inject.id]
    end = start + timedelta(seconds=key.targets["mttd"])
    classifier = Classifier.load()
    raised = sorted(
        [
            *falco_alerts(drill, classifier),
            *dns_alerts(drill, classifier),
            *await mesh_alerts(
                drill, start, DRILL_START + timedelta(seconds=drill.scenario.length)
            ),
        ],
        key=lambda alert: alert.at,
    )
    window = [alert for alert in raised if start <= alert.at <= end]
    proposal_worthy = [alert for alert in window if alert.severity in PROPOSING_SEVERITIES]
    if proposal_worthy:
        first = proposal_worthy[0]
        assert first.severity == key.severity, (
            f"{name}: warroom proposes a {first.severity} incident for {first.rule} at "
            f"{first.at:%H:%M:%S}, the answer key wants {key.severity}"
        )
    elif window:
        first = window[0]
        assert first.severity == key.severity, (
            f"{name}: the first alert, {first.rule}, is rated {first.severity}; "
            f"the answer key wants {key.severity}"
        )
    else:
        later = [f"{a.rule} {a.severity} at {a.at:%H:%M:%S}" for a in raised if a.at > end]
        assert key.severity not in PROPOSING_SEVERITIES, (
            f"{name}: no alert within {key.targets['mttd']:g} s of the first sign proposes an "
            f"incident, yet the answer key wants {key.severity} (later: {later[:3]})"
        )


@pytest.mark.parametrize("name", builtin_names())
def test_answer_key_steps_are_checklist_items_or_runbook_steps(name: str) -> None:
    key = load_builtin(name).answer_key
    items = {item.id for c in load_checklists().values() for item in c.items}
    assert set(key.steps) <= items | set(RUNBOOK_ONLY_STEPS)
    assert set(RUNBOOK_STEPS) == items | set(RUNBOOK_ONLY_STEPS)
    scored_as_containment = {CONTAINMENT_ITEMS.get(c.action) for c in key.containment}
    assert not scored_as_containment & set(key.steps), "a step the containment already scores"
