"""The drill's score: the runbook's targets, the answer key, and what the team actually did.

Times (all from the incident record, wall clock):
- MTTD: from the first play of the scenario's clock inject (the answer key's
  `clock_starts`, else the first malicious inject, else the first inject) to
  the incident's acknowledgement; if it was never acknowledged, to its
  detection time (`detected_at`), and `basis` says so.
- MTTC: detection to `contained_at`; if the team never marked the incident
  contained, to the first containment the cluster showed that the answer key
  expects (basis says so).
- MTTR: detection to `recovered_at`.
Targets default to the runbook's (MTTD < 5 min, MTTC < 15 min, MTTR < 2 h).

The decision is the last one recorded; containment counts as done when a
succeeded action in the record, or the cluster itself (an isolation policy, a
blocked IP, a mesh deny, whoever applied it), shows it. A runbook step counts
as done from its evidence: a checklist tick whose item is the step's id or
title, an action, a decision, evidence, or an acknowledgement.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from actions.drill.events import Observation

# Step id -> (title, how it shows: action names, observation kinds, other evidence).
RUNBOOK_STEPS: dict[str, dict[str, Any]] = {
    "acknowledge": {"title": "Acknowledge the alert", "acknowledged": True},
    "review-events": {"title": "Check events in voicehive"},
    "review-falco": {"title": "Review Falco alerts"},
    "check-mesh": {"title": "Check service mesh status"},
    "initial-assessment": {"title": "Determine affected services and scope"},
    "gather-evidence": {"title": "Gather evidence", "actions": ("capture",), "evidence": True},
    "review-network-policies": {"title": "Check network policies"},
    "review-mesh-policies": {"title": "Review service mesh policies"},
    "check-dns": {"title": "Check DNS queries"},
    "analyze-traffic": {"title": "Analyze network flows"},
    "decide": {
        "title": "Take a decision (false positive / attack / misconfiguration / escalate)",
        "decision": True,
    },
    "isolate": {
        "title": "Isolate affected services",
        "actions": ("isolate",),
        "observed": ("isolate",),
    },
    "block-ip": {
        "title": "Block suspicious external IPs",
        "actions": ("block-ip",),
        "observed": ("block-ip",),
    },
    "disable-sa": {"title": "Disable compromised service accounts", "actions": ("disable-sa",)},
    "mesh-deny": {
        "title": "Apply a strict mesh authorization policy",
        "actions": ("mesh-deny",),
        "observed": ("mesh-deny",),
    },
    "rotate-credentials": {
        "title": "Rotate compromised credentials",
        "actions": ("rotate-sa",),
        "observed": ("eradicated",),
    },
    "fix-config": {"title": "Apply corrected configuration", "observed": ("flow-restored",)},
    "restore": {
        "title": "Remove emergency policies",
        "actions": ("restore",),
        "observed": ("restore",),
    },
    "verify-recovery": {"title": "Verify service health"},
    "tune-rules": {"title": "Document and tune alerting rules", "decision_with_rule": True},
    "escalate": {"title": "Notify the security team lead", "decisions": ("escalate",)},
}


# Containments the cluster can only show by their effect: the attacker's credentials are gone.
OBSERVED_AS = {"rotate-sa": ("eradicated",), "disable-sa": ("eradicated",)}


@dataclass(frozen=True)
class TimeScore:
    name: str
    seconds: float | None
    target: float
    met: bool | None
    basis: str


@dataclass(frozen=True)
class ContainmentResult:
    action: str
    target: str
    done: bool
    at: datetime | None
    how: str


@dataclass(frozen=True)
class Score:
    scenario: str
    incident_id: str
    mttd: TimeScore
    mttc: TimeScore
    mttr: TimeScore
    severity_expected: str
    severity_given: str | None
    decision_expected: str
    decision_given: str | None
    containment: tuple[ContainmentResult, ...]
    extra_actions: tuple[str, ...]
    steps_done: tuple[str, ...]
    steps_missed: tuple[str, ...]
    explanation: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def severity_correct(self) -> bool:
        return self.severity_given == self.severity_expected

    @property
    def decision_correct(self) -> bool:
        return self.decision_given == self.decision_expected

    @property
    def points(self) -> tuple[int, int]:
        """(earned, possible): 1 per target met, severity, containment, step; 2 for the decision."""
        earned = possible = 0
        for timing in (self.mttd, self.mttc, self.mttr):
            if timing.met is not None:
                possible += 1
                earned += int(timing.met)
        possible += 3
        earned += int(self.severity_correct) + 2 * int(self.decision_correct)
        possible += len(self.containment) + len(self.steps_done) + len(self.steps_missed)
        earned += sum(c.done for c in self.containment) + len(self.steps_done)
        return earned, possible

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        for key in ("mttd", "mttc", "mttr"):
            document[key] = asdict(getattr(self, key))
        document["containment"] = [
            {**asdict(c), "at": c.at.isoformat() if c.at else None} for c in self.containment
        ]
        document["severity_correct"] = self.severity_correct
        document["decision_correct"] = self.decision_correct
        earned, possible = self.points
        document["points"] = {"earned": earned, "possible": possible}
        for key in ("extra_actions", "steps_done", "steps_missed", "notes"):
            document[key] = list(document[key])
        return document

    def lines(self) -> list[str]:
        """A plain-text summary for the terminal."""

        def timing(t: TimeScore) -> str:
            if t.seconds is None:
                return f"{t.name.upper()}: not reached ({t.basis}); target < {_duration(t.target)}"
            mark = "met" if t.met else "MISSED"
            return (
                f"{t.name.upper()}: {_duration(t.seconds)} "
                f"(target < {_duration(t.target)}, {mark}; {t.basis})"
            )

        earned, possible = self.points
        out = [f"Score for {self.scenario} ({self.incident_id}): {earned}/{possible}"]
        out += [timing(t) for t in (self.mttd, self.mttc, self.mttr)]
        out.append(
            f"Severity: {self.severity_given or 'not set'} (expected {self.severity_expected})"
        )
        out.append(
            f"Decision: {self.decision_given or 'none recorded'} "
            f"(expected {self.decision_expected})"
        )
        for c in self.containment:
            out.append(
                f"Containment {c.action} {c.target}: {'done, ' + c.how if c.done else 'NOT DONE'}"
            )
        if self.extra_actions:
            out.append("Not in the answer key: " + ", ".join(self.extra_actions))
        if self.steps_missed:
            out.append(
                "Missed runbook steps: "
                + ", ".join(f"{s} ({RUNBOOK_STEPS[s]['title']})" for s in self.steps_missed)
            )
        out += list(self.notes)
        if self.explanation:
            out.append(self.explanation.strip())
        return out


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _timing(
    name: str, start: datetime | None, end: datetime | None, target: float, basis: str
) -> TimeScore:
    if start is None or end is None:
        return TimeScore(name, None, target, False if start is not None else None, basis)
    seconds = max(0.0, (end - start).total_seconds())
    return TimeScore(name, seconds, target, seconds < target, basis)


def targets_match(expected: str, given: str | None) -> bool:
    """An action's target against the answer key's: a service name, or an IP with or without /32."""
    if given is None:
        return False
    expected, given = expected.strip(), given.strip()
    try:
        return ipaddress.ip_network(expected, strict=False) == ipaddress.ip_network(
            given, strict=False
        )
    except ValueError:
        expected, given = expected.casefold(), given.casefold()
        return (
            expected == given or given.startswith(f"{expected}-") or given.endswith(f"/{expected}")
        )


def score_drill(
    scenario: Any,
    record: Any,
    incident_id: str,
    *,
    clock_started_at: datetime | None,
    observations: Sequence[Observation] = (),
) -> Score:
    """Score one drill incident against the scenario's answer key."""
    key = scenario.answer_key
    incident = record.incidents.get(incident_id)
    if incident is None:
        raise KeyError(f"no incident {incident_id} in the record")
    actions = record.actions.for_incident(incident_id)
    succeeded = [a for a in actions if a.entry == "outcome" and a.status == "succeeded"]
    decisions = record.decisions.for_incident(incident_id)
    ticks = [t for t in record.checklist.state(incident_id).values() if t.checked]
    evidence = record.evidence.for_incident(incident_id)
    notes: list[str] = []

    if incident.acknowledged_at is not None:
        mttd = _timing(
            "mttd",
            clock_started_at,
            incident.acknowledged_at,
            key.targets["mttd"],
            "first malicious inject to acknowledgement",
        )
    else:
        mttd = _timing(
            "mttd",
            clock_started_at,
            incident.detected_at,
            key.targets["mttd"],
            "first malicious inject to detection (never acknowledged)",
        )
    if clock_started_at is None:
        notes.append(
            "The scenario's first malicious inject had not played: MTTD cannot be measured."
        )

    containment = tuple(
        _containment(c.action, c.target, succeeded, observations) for c in key.containment
    )
    contained_at, basis = incident.contained_at, "detection to the incident marked contained"
    if contained_at is None:
        observed = [c.at for c in containment if c.done and c.at is not None]
        if observed:
            contained_at, basis = (
                min(observed),
                "detection to the first expected containment the cluster showed",
            )
        else:
            basis = "not contained"
    if key.decision == "false-positive" and not key.containment:
        mttc = TimeScore(
            "mttc", None, key.targets["mttc"], None, "no containment expected for a false positive"
        )
        mttr = TimeScore(
            "mttr", None, key.targets["mttr"], None, "no recovery expected for a false positive"
        )
    else:
        mttc = _timing("mttc", incident.detected_at, contained_at, key.targets["mttc"], basis)
        mttr = _timing(
            "mttr",
            incident.detected_at,
            incident.recovered_at,
            key.targets["mttr"],
            "detection to the incident marked recovered"
            if incident.recovered_at
            else "not recovered",
        )

    expected_actions = {(c.action, c.target) for c in key.containment}
    extra = tuple(
        dict.fromkeys(
            f"{a.action} {a.target or ''}".strip()
            for a in succeeded
            if a.action not in ("capture", "restore")
            and not any(
                a.action == action and targets_match(target, a.target)
                for action, target in expected_actions
            )
        )
    )

    done, missed = [], []
    for step in key.steps:
        if _step_done(
            step, incident, succeeded, decisions, ticks, evidence, observations, key.containment
        ):
            done.append(step)
        else:
            missed.append(step)

    return Score(
        scenario=scenario.name,
        incident_id=incident_id,
        mttd=mttd,
        mttc=mttc,
        mttr=mttr,
        severity_expected=key.severity,
        severity_given=incident.severity,
        decision_expected=key.decision,
        decision_given=decisions[-1].decision if decisions else None,
        containment=containment,
        extra_actions=extra,
        steps_done=tuple(done),
        steps_missed=tuple(missed),
        explanation=key.explanation,
        notes=tuple(notes),
    )


def _containment(
    action: str, target: str, succeeded: Sequence[Any], observations: Sequence[Observation]
) -> ContainmentResult:
    from_record = [a for a in succeeded if a.action == action and targets_match(target, a.target)]
    if from_record:
        return ContainmentResult(
            action, target, True, from_record[0].at, "recorded action succeeded"
        )
    kinds = (action, *OBSERVED_AS.get(action, ()))
    seen = [o for o in observations if o.action in kinds and targets_match(target, o.target)]
    if seen:
        by = f" ({seen[0].by})" if seen[0].by else ""
        return ContainmentResult(action, target, True, seen[0].wall, f"seen in the cluster{by}")
    return ContainmentResult(action, target, False, None, "")


def _step_done(
    step: str,
    incident: Any,
    succeeded: Sequence[Any],
    decisions: Sequence[Any],
    ticks: Sequence[Any],
    evidence: Sequence[Any],
    observations: Sequence[Observation],
    containment: Sequence[Any] = (),
) -> bool:
    rule = RUNBOOK_STEPS[step]

    def right_target(action: str, target: str | None) -> bool:
        """An action the answer key expects counts only on the target it names."""
        expected = [c.target for c in containment if c.action == action]
        return not expected or any(targets_match(t, target) for t in expected)

    title = str(rule["title"]).casefold()
    if any(t.item == step or t.item.casefold() == title for t in ticks):
        return True
    if rule.get("acknowledged") and incident.acknowledged_at is not None:
        return True
    if any(
        a.action in rule.get("actions", ()) and right_target(a.action, a.target) for a in succeeded
    ):
        return True
    if any(
        o.action in rule.get("observed", ()) and right_target(o.action, o.target)
        for o in observations
    ):
        return True
    if rule.get("decision") and decisions:
        return True
    if any(d.decision in rule.get("decisions", ()) for d in decisions):
        return True
    if rule.get("decision_with_rule") and any(d.rule_to_tune for d in decisions):
        return True
    return bool(rule.get("evidence") and evidence)
