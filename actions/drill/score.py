"""The drill's score: the answer key against what the team did, in the checklist's own words.

Times are the record's, as `store.response_times` defines them for the header
clocks, the report and `warroom metrics`: from the incident's first sign to
its acknowledgement (MTTD), containment (MTTC) and recovery (MTTR); the answer
key may set other targets. When the scenario's first sign played before the
incident's clocks start (an incident opened late and by hand), a note says by
how much. For a false positive with nothing to contain, MTTC and MTTR are not
scored.

Steps: the answer key names checklist items by id (`actions/checklists/
checklists.toml`) and the few runbook steps the checklist does not hold
(`RUNBOOK_ONLY_STEPS`: the acknowledgement and the decision point, done with
the incident keys). A checklist item is done when the checklist shows it
ticked (by hand, or by warroom from a proof), when the record proves it
(`actions.checklists.proven`: for an action the answer key expects, only on
the target it names), or when the drill cluster showed it (an isolation
applied with kubectl counts too). A person's untick stands unless a proof came
after it. A tick by hand is a claim: for the items the drill cluster can show
(`CLUSTER_SHOWN`: containments, credentials rotated, policies put right, the
poisoned image gone where a scenario has one) it counts only with the record's
or the cluster's evidence, so ticking "Patch Vulnerabilities" while the attack
runs on earns nothing and the line says why.

Containment counts as done when a succeeded action in the record, or the
cluster itself, shows it; the decision is the last one recorded.

Eradication is scored as the runbook's "Patch Vulnerabilities" where the
answer key asks for it: in a drill, the cluster shows it done when no pod runs
the poisoned image any more (the Deployment rolled back or set to a clean
image). Deleting the pod is not: its controller starts the same image again,
and the score says so. An attack still running when the drill is scored is
named in a note, with what really ends it.

Points: 1 per time target met, 1 for the severity, 2 for the decision, 1 per
expected containment, 1 per step. Every line says how it was done or, when
missed, how it is done from the console.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from actions.checklists.howto import action_how, item_how

# From the modules, not the package's facade: its type-only names reach the verifiers,
# which read a live cluster, and the drill's emulator must never reach the live layer.
from actions.checklists.model import ChecklistItem, load_checklists
from actions.checklists.proven import WARROOM, Proof, proofs
from actions.checklists.verdict import VERIFIED
from actions.drill.drill_events import Observation
from store.response_times import END_WORDS, ResponseTime, incident_response_times

if TYPE_CHECKING:
    from actions.drill.scenario import Scenario
    from actions.drill.sim.attack import Driver
    from store import ActionEntry, ChecklistTick, Decision, Incident, Record

DECISION_POINTS = {
    "false-positive": "Is this a false positive? → Document and tune alerting rules",
    "active-attack": "Is this an active attack? → Proceed to containment",
    "misconfiguration": "Is this a policy misconfiguration? → Proceed to remediation",
    "escalate": "Requires escalation? → Notify security team lead",
}


@dataclass(frozen=True)
class RunbookStep:
    """A step of the runbook that is not a checklist item: done with the incident keys."""

    words: str
    how: str


RUNBOOK_ONLY_STEPS: dict[str, RunbookStep] = {
    "acknowledge": RunbookStep(
        "Acknowledge the Alert", "press a, or accept warroom's incident proposal with !"
    ),
    "decide": RunbookStep("Decision Points", "press d and record the decision"),
    "tune-rules": RunbookStep(
        "Document and tune alerting rules",
        "press d, choose false positive and name the rule to tune",
    ),
    "escalate": RunbookStep(
        "Notify security team lead", "press e (escalate), or d and choose escalate"
    ),
}


def _checklist_items() -> dict[str, ChecklistItem]:
    return {item.id: item for c in load_checklists().values() for item in c.items}


# Every step an answer key may name -> its words in the runbook.
RUNBOOK_STEPS = MappingProxyType(
    {
        **{step_id: step.words for step_id, step in RUNBOOK_ONLY_STEPS.items()},
        **{item_id: item.text for item_id, item in _checklist_items().items()},
    }
)

# What the drill cluster can show by itself (whoever did it) -> the checklist items it proves.
OBSERVED_PROVES = {
    "isolate": ("isolate",),
    "block-ip": ("block-ip",),
    "mesh-deny": ("istio-containment", "linkerd-containment"),
    "eradicated": ("rotate-credentials",),
    "image-replaced": ("patch-vulnerabilities",),
    "restore": ("restore",),
    "fix-config": ("fix-config",),
}
# Containments the cluster can only show by their effect: the attacker's credentials are gone.
OBSERVED_AS = {"rotate-sa": ("eradicated",), "disable-sa": ("eradicated",)}
# Checklist items a drill cluster shows done (or a console action proves): a hand tick of
# one of them is believed only with that evidence. patch-vulnerabilities only where a
# scenario's attack runs a poisoned image (`_cluster_shows`).
CLUSTER_SHOWN = frozenset(item for items in OBSERVED_PROVES.values() for item in items)
# A containment of the answer key -> the checklist item that names it in the runbook's words.
CONTAINMENT_ITEMS = {
    "isolate": "isolate",
    "block-ip": "block-ip",
    "disable-sa": "disable-sa",
    "rotate-sa": "rotate-credentials",
    "restore": "restore",
    "fix-config": "fix-config",
}
# Containments with no one checklist item of their own: the runbook heading they come under.
CONTAINMENT_HEADINGS = {
    "fix-config": "Remediation Actions",
    "mesh-deny": "Service Mesh Containment",
    "capture": "Gather Evidence",
}
FIX_CONFIG_HOW = "put it back as it was (kubectl apply -f the desired state), then press k, v"
POINTS = {"severity": 1, "decision": 2, "containment": 1, "step": 1, "time": 1}


@dataclass(frozen=True)
class TimeScore:
    name: str
    seconds: float | None
    target: float
    met: bool | None
    basis: str
    how: str = ""
    """How a missed time is made, when not the usual key (`_TIME_HOW`)."""
    recorded: float | None = None
    """The time the record (header, report, metrics) shows, when the drill does not credit it:
    recovery recorded while the attack still runs."""


@dataclass(frozen=True)
class ContainmentResult:
    action: str
    target: str
    done: bool
    at: datetime | None
    how: str


@dataclass(frozen=True)
class ScoreLine:
    """One line of the score: what was expected, what was done, the points, and how."""

    kind: str
    """time, severity, decision, containment, step or extra."""
    item: str
    """In the runbook's words: "Isolate Affected Services", "MTTD", "Severity"."""
    result: str
    expected: str
    verdict: str
    """met, MISSED, right, WRONG, extra or n/a."""
    earned: int
    possible: int
    how: str
    """How it was done, or when missed how it is done from the console."""
    ref: str = ""
    """The step's id or the containment's action, for scripts (never shown)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "result": self.result,
            "expected": self.expected,
            "verdict": self.verdict,
            "points": {"earned": self.earned, "possible": self.possible},
            "how": self.how,
            "ref": self.ref,
        }


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
    items: tuple[ScoreLine, ...] = field(default_factory=tuple)
    """Every line of the score, in order, with its points."""

    @property
    def severity_correct(self) -> bool:
        return self.severity_given == self.severity_expected

    @property
    def decision_correct(self) -> bool:
        return self.decision_given == self.decision_expected

    @property
    def points(self) -> tuple[int, int]:
        """(earned, possible), the sum of the lines' points."""
        return sum(i.earned for i in self.items), sum(i.possible for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        earned, possible = self.points
        return {
            "scenario": self.scenario,
            "incident_id": self.incident_id,
            # Each time's how is its line's (items), as for every other line.
            **{
                key: {k: v for k, v in asdict(getattr(self, key)).items() if k != "how"}
                for key in ("mttd", "mttc", "mttr")
            },
            "severity_expected": self.severity_expected,
            "severity_given": self.severity_given,
            "severity_correct": self.severity_correct,
            "decision_expected": self.decision_expected,
            "decision_given": self.decision_given,
            "decision_correct": self.decision_correct,
            "containment": [
                {**asdict(c), "at": c.at.isoformat() if c.at else None} for c in self.containment
            ],
            "extra_actions": list(self.extra_actions),
            "steps_done": list(self.steps_done),
            "steps_missed": list(self.steps_missed),
            "items": [line.to_dict() for line in self.items],
            "points": {"earned": earned, "possible": possible},
            "explanation": self.explanation,
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """A plain-text score for the terminal: one line per item, its points and how."""
        earned, possible = self.points
        out = [f"Score for {self.scenario} ({self.incident_id}): {earned}/{possible} points"]
        for line in self.items:
            points = f"{line.earned}/{line.possible}" if line.possible else "-"
            expected = f" (expected {line.expected})" if line.expected else ""
            how = f"; {line.how}" if line.how else ""
            out.append(f"{line.verdict:>6} {points:>3}  {line.item}: {line.result}{expected}{how}")
        out += list(self.notes)
        if self.explanation:
            out.append(self.explanation.strip())
        return out


def duration(seconds: float) -> str:
    """`4m10s`, `1h02m00s`, `45s`: whole seconds elapsed, as the header's clocks count."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


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


# --- the times ---------------------------------------------------------------------------------

# A misconfiguration's key asks for a fix, not isolation: the clock stops when the incident
# leaves Containment (as it does in the header), once the fix is in.
REMEDIATION_MTTC_HOW = (
    "a remediation, not a containment: once the fix is in (the Remediation line), press p to "
    "move the incident past Containment"
)
_TIME_HOW = {
    "mttd": "press a (acknowledge), or accept warroom's incident proposal with !",
    "mttc": "contain it (i, b, x or m on the alert marks it contained), or press p to leave "
    "Containment once it is",
    "mttr": "press R (restore marks it recovered), or p to leave Recovery once it is",
}


def _time_score(time: ResponseTime, target: float, scored: bool) -> TimeScore:
    name = time.key
    if not scored:
        return TimeScore(name, None, target, None, "no containment expected for a false positive")
    start = f"{time.start:%H:%M:%S}"
    if not time.applies:
        return TimeScore(name, None, target, False, "declared a false positive: never done")
    seconds = time.seconds()
    if seconds is None:
        return TimeScore(name, None, target, False, f"not {END_WORDS[name]} yet")
    met = bool(time.met(timedelta(seconds=target)))
    return TimeScore(name, seconds, target, met, f"first sign {start} to {END_WORDS[name]}")


def _time_line(timing: TimeScore) -> ScoreLine:
    expected = f"< {duration(timing.target)}"
    if timing.met is None:
        return ScoreLine("time", timing.name.upper(), "-", expected, "n/a", 0, 0, timing.basis,
                         timing.name)  # fmt: skip
    if timing.seconds is not None:
        result = duration(timing.seconds)
    elif timing.recorded is not None:  # the report says this figure too: say why it is not met
        result = f"{duration(timing.recorded)} recorded, not credited"
    else:
        result = "not reached"
    how = timing.basis if timing.met else f"{timing.basis}; {timing.how or _TIME_HOW[timing.name]}"
    return ScoreLine("time", timing.name.upper(), result, expected,
                     "met" if timing.met else "MISSED", int(timing.met), POINTS["time"], how,
                     timing.name)  # fmt: skip


def _first_sign_note(time: ResponseTime, clock_started_at: datetime | None) -> str | None:
    if clock_started_at is None:
        return "The scenario's first sign had not played when it was scored."
    gap = (time.start - clock_started_at).total_seconds()
    if gap < 1:
        return None
    return (
        f"The scenario's first sign played at {clock_started_at:%H:%M:%S}, "
        f"{duration(gap)} before this incident's clocks start ({time.start:%H:%M:%S}, its first "
        "alert or detection): MTTD counts from the incident's first sign, as the header shows it."
    )


# --- containment, steps ------------------------------------------------------------------------


# A containment the drill cluster can show lifted -> the observation that says so.
LIFTED_AS = {"block-ip": "block-ip-lifted", "isolate": "restore"}


def _lifted(
    action: str,
    target: str,
    observations: Sequence[Observation],
    recovery_started: datetime | None,
) -> Observation | None:
    """The cluster's last word that the containment is gone, unless it was made again
    since or recovery (a restore of this incident, begun before) lifted it."""
    lifted_as = LIFTED_AS.get(action)
    ours = [o for o in observations if targets_match(target, o.target)]
    last = next((o for o in reversed(ours) if o.action in (action, lifted_as)), None)
    if last is None or last.action != lifted_as:
        return None
    if recovery_started is not None and recovery_started <= last.wall:
        return None
    return last


def _containment(
    action: str,
    target: str,
    succeeded: Sequence[ActionEntry],
    observations: Sequence[Observation],
    recovery_started: datetime | None = None,
) -> ContainmentResult:
    if (lifted := _lifted(action, target, observations, recovery_started)) is not None:
        return ContainmentResult(
            action, target, False, None,
            f"lifted {lifted.wall:%H:%M:%S}: the cluster no longer has it (not by a restore); "
            f"{action_how(action, target)}",
        )  # fmt: skip
    from_record = [a for a in succeeded if a.action == action and targets_match(target, a.target)]
    if from_record:
        first = from_record[0]
        return ContainmentResult(
            action, target, True, first.at, f"action #{first.id} succeeded {first.at:%H:%M:%S}"
        )
    kinds = (action, *OBSERVED_AS.get(action, ()))
    seen = [o for o in observations if o.action in kinds and targets_match(target, o.target)]
    if seen:
        by = f" ({seen[0].by})" if seen[0].by else ""
        return ContainmentResult(action, target, True, seen[0].wall, f"seen in the cluster{by}")
    return ContainmentResult(action, target, False, None, "")


def _containment_line(result: ContainmentResult, items: dict[str, ChecklistItem]) -> ScoreLine:
    item = items.get(CONTAINMENT_ITEMS.get(result.action, ""))
    words = CONTAINMENT_HEADINGS.get(result.action) or (item.text if item else result.action)
    label = f"{words} ({result.target})"
    if result.done or result.how:
        how = result.how
    elif result.action == "fix-config" and result.target.startswith("networkpolicy/"):
        how = f"{action_how('reapply-policies')} (the desired policies), or {FIX_CONFIG_HOW}"
    elif result.action == "fix-config":
        how = FIX_CONFIG_HOW
    else:
        how = action_how(result.action, result.target)
    return ScoreLine("containment", label, "done" if result.done else "not done", "done",
                     "met" if result.done else "MISSED", int(result.done), POINTS["containment"],
                     how, result.action)  # fmt: skip


@dataclass(frozen=True)
class _Seen:
    """What the record and the cluster say the team did, read once."""

    incident: Incident
    succeeded: Sequence[ActionEntry]
    decisions: Sequence[Decision]
    ticks: dict[tuple[str, str], ChecklistTick]
    proofs: dict[str, list[Proof]]
    observations: Sequence[Observation]
    key_targets: dict[str, list[str]]
    cluster_shows: frozenset[str] = frozenset()
    """The items whose hand ticks need evidence (none when no drill cluster was asked)."""
    recovery_started: datetime | None = None

    def lifted(self, item: ChecklistItem) -> Observation | None:
        """The cluster's word that the containment this item names is gone (see _lifted)."""
        for action, item_id in CONTAINMENT_ITEMS.items():
            if item_id == item.id and action in LIFTED_AS:
                for target in self.key_targets.get(action) or [""]:
                    if lifted := _lifted(action, target, self.observations, self.recovery_started):
                        return lifted
        return None

    def right_target(self, proof: Proof) -> bool:
        """An action the answer key expects proves a step only on a target it names."""
        expected = self.key_targets.get(proof.action or "")
        return not expected or any(targets_match(t, proof.target) for t in expected)


def _item_done(item: ChecklistItem, seen: _Seen) -> str | None:
    """How the item was done (None: it was not)."""
    if seen.lifted(item) is not None:
        return None
    valid = [p for p in seen.proofs.get(item.id, []) if seen.right_target(p)]
    latest = item.tick_for(seen.ticks)
    observed = [
        o for o in seen.observations
        if item.id in OBSERVED_PROVES.get(o.action, ())
        and (o.action not in seen.key_targets
             or any(targets_match(t, o.target) for t in seen.key_targets[o.action]))
    ]  # fmt: skip
    if latest is not None and latest.checked:
        if latest.actor != WARROOM and item.id not in seen.cluster_shows:
            return f"ticked by {latest.actor or 'unknown'} {latest.at:%H:%M:%S}"
        if latest.verified == VERIFIED:
            return f"verified {latest.at:%H:%M:%S}"
    after = latest.at if latest is not None and not latest.checked else None
    for proof in valid:
        if after is None or proof.at > after:
            what = " ".join(filter(None, (proof.action, proof.target)))
            return f"{proof.source}: {what}" if what else proof.source
    for seen_by in observed:
        if after is None or seen_by.wall > after:
            return f"seen in the cluster {seen_by.wall:%H:%M:%S}" + (
                f" ({seen_by.by})" if seen_by.by else ""
            )
    return None


def _runbook_step_done(step: str, seen: _Seen) -> str | None:
    incident = seen.incident
    if step == "acknowledge" and incident.acknowledged_at is not None:
        return f"acknowledged {incident.acknowledged_at:%H:%M:%S}"
    if step == "decide" and seen.decisions:
        return f"decided {seen.decisions[-1].decision}"
    if step == "tune-rules" and (tuned := [d for d in seen.decisions if d.rule_to_tune]):
        return f"rule to tune: {tuned[-1].rule_to_tune}"
    if step == "escalate" and any(d.decision == "escalate" for d in seen.decisions):
        return "escalated"
    return None


def _step_line(
    step: str, seen: _Seen, items: dict[str, ChecklistItem], scenario: Scenario | None = None
) -> ScoreLine:
    item = items.get(step)
    if item is not None:
        done = _item_done(item, seen)
        words = item.text
        targets = {action: found[0] for action, found in seen.key_targets.items() if found}
        missed_how = item_how(item, targets)
        if (
            step == "patch-vulnerabilities"
            and scenario is not None
            and (ways := _roll_back_how(scenario))
        ):
            missed_how = f"{ways}; {missed_how}"
        claim = item.tick_for(seen.ticks)
        if done is None and (lifted := seen.lifted(item)) is not None:
            missed_how = (
                f"lifted {lifted.wall:%H:%M:%S}: the cluster no longer has it; {missed_how}"
            )
        elif done is None and claim is not None and claim.checked and claim.actor != WARROOM:
            missed_how = (
                f"ticked by {claim.actor or 'unknown'} {claim.at:%H:%M:%S}, but neither "
                f"the record nor the drill cluster shows it done: {missed_how}"
            )
    else:
        done = _runbook_step_done(step, seen)
        words = RUNBOOK_ONLY_STEPS[step].words
        missed_how = RUNBOOK_ONLY_STEPS[step].how
    return ScoreLine("step", words, "done" if done else "missed", "done",
                     "met" if done else "MISSED", int(done is not None), POINTS["step"],
                     done or missed_how, step)  # fmt: skip


def _roll_back_how(scenario: Scenario) -> str:
    """How a poisoned image leaves the cluster, for each image driver: roll its workload back."""
    ways = []
    for driver in scenario.drivers:
        for condition in driver.ends_when:
            if condition.kind != "image_gone":
                continue
            container = next(
                (p.container for p in scenario.pods
                 if p.namespace == condition.namespace and p.labels.get("app") == condition.app),
                condition.app,
            )  # fmt: skip
            deploy = f"deploy/{condition.app} -n {condition.namespace}"
            ways.append(
                f"roll {condition.app} back to the release before (`kubectl rollout undo "
                f"{deploy}`) or set a clean image (`kubectl set image {deploy} "
                f"{container}=IMAGE`): deleting its pod does not help, its ReplicaSet starts "
                f"{condition.image} again"
            )
    return "; ".join(dict.fromkeys(ways))


def _cluster_shows(scenario: Scenario) -> frozenset[str]:
    """The items this scenario's cluster (or a console action) can show done."""
    images = any(c.kind == "image_gone" for d in scenario.drivers for c in d.ends_when)
    return CLUSTER_SHOWN if images else CLUSTER_SHOWN - {"patch-vulnerabilities"}


def _recovered_when_the_attack_ended(
    mttr: ResponseTime, running: Sequence[Driver], observations: Sequence[Observation]
) -> ResponseTime:
    """MTTR as the drill scores it: recovery is not done while an attack driver still runs
    (a restore that lifts the isolation before the image is rolled back lets the tunnel
    come back), so it ends at the later of the recorded recovery and the attack's end."""
    if mttr.end is None or not mttr.applies:
        return mttr
    if running:
        return replace(mttr, end=None)
    ended = [o.wall for o in observations if o.action == "attack-ended"]
    return replace(mttr, end=max([mttr.end, *ended]))


def _still_running(drivers: Sequence[Driver]) -> list[str]:
    """A note for each attack driver the cluster still runs when scored: what ends it."""
    notes = []
    for driver in drivers:
        ends = " or ".join(c.describe() for c in driver.ends_when)
        what = f" ({driver.description})" if driver.description else ""
        note = f"The attack was still running when scored: {driver.id}{what}. It ends when {ends}"
        if any(c.kind == "image_gone" for c in driver.ends_when):
            note += (
                "; deleting the pod does not end it, its controller starts the same image "
                "(roll the Deployment back or set a clean image)"
            )
        notes.append(note + ".")
    return notes


# --- the score ---------------------------------------------------------------------------------


def score_drill(
    scenario: Scenario,
    record: Record,
    incident_id: str,
    *,
    clock_started_at: datetime | None,
    observations: Sequence[Observation] | None = None,
    times: Mapping[str, ResponseTime] | None = None,
) -> Score:
    """Score one drill incident against the scenario's answer key.

    observations: what the drill cluster showed (None: no cluster to ask, e.g. a record
    scored on its own); an attack driver it never showed ending is still running.
    times: the MTTD, MTTC and MTTR to score instead of the incident's own (a team's, on
    the drill's clock: `actions/drill/team_score.py`)."""
    key = scenario.answer_key
    incident = record.incidents.get(incident_id)
    if incident is None:
        raise KeyError(f"no incident {incident_id} in the record")
    actions = record.actions.for_incident(incident_id)
    succeeded = [a for a in actions if a.entry == "outcome" and a.status == "succeeded"]
    decisions = record.decisions.for_incident(incident_id)
    times = times or incident_response_times(record, incident_id)
    items = _checklist_items()

    notes = [note] if (note := _first_sign_note(times["mttd"], clock_started_at)) else []
    observations_given = observations is not None
    running: list[Driver] = []
    if observations is not None:
        ended = {o.target for o in observations if o.action == "attack-ended"}
        running = [d for d in scenario.drivers if d.id not in ended]
        notes += _still_running(running)
    observations = observations or ()
    scored = not (key.decision == "false-positive" and not key.containment)
    mttd = _time_score(times["mttd"], key.targets["mttd"], True)
    mttc = _time_score(times["mttc"], key.targets["mttc"], scored)
    if key.containment and all(c.action == "fix-config" for c in key.containment):
        mttc = replace(mttc, how=REMEDIATION_MTTC_HOW)
    mttr = _time_score(
        _recovered_when_the_attack_ended(times["mttr"], running, observations),
        key.targets["mttr"],
        scored,
    )
    if running and times["mttr"].reached and scored:
        mttr = replace(
            mttr,
            basis=f"recovery recorded {times['mttr'].end:%H:%M:%S}, but the attack still runs "
            f"({', '.join(d.id for d in running)})",
            recorded=times["mttr"].seconds(),
            how="it is recovered once "
            + "; ".join(" or ".join(c.describe() for c in d.ends_when) for d in running)
            + (f" ({ways})" if (ways := _roll_back_how(scenario)) else ""),
        )

    restores = {a.action_id for a in succeeded if a.action == "restore"}
    recovery_started = min(
        (a.at for a in actions if a.entry == "intent" and a.action_id in restores), default=None
    )
    containment = tuple(
        _containment(c.action, c.target, succeeded, observations, recovery_started)
        for c in key.containment
    )
    key_targets: dict[str, list[str]] = {}
    for expected in key.containment:
        key_targets.setdefault(expected.action, []).append(expected.target)
    # The console's A re-applies the desired NetworkPolicies: the key's fix-config of one.
    reapply_is_the_fix = any(
        t.startswith("networkpolicy/") for t in key_targets.get("fix-config", ())
    )
    seen = _Seen(
        incident,
        succeeded,
        decisions,
        record.checklist.state(incident_id),
        proofs(record, incident_id),
        observations,
        key_targets,
        _cluster_shows(scenario) if observations_given else frozenset(),
        recovery_started,
    )
    steps = [_step_line(step, seen, items, scenario) for step in key.steps]
    # An action that proves one of the key's steps (rotate-sa for "Rotate Compromised
    # Credentials") is that step's, not an extra beside it.
    proving = {
        (proof.action, proof.target)
        for step in key.steps
        for proof in seen.proofs.get(step, [])
        if seen.right_target(proof)
    }
    extra = tuple(
        dict.fromkeys(
            f"{a.action} {a.target or ''}".strip()
            for a in succeeded
            if a.action not in ("capture", "restore")
            and not any(targets_match(t, a.target) for t in key_targets.get(a.action, ()))
            and not (a.action == "reapply-policies" and reapply_is_the_fix)
            and (a.action, a.target) not in proving
        )
    )

    decision_given = decisions[-1].decision if decisions else None
    lines = [_time_line(t) for t in (mttd, mttc, mttr)]
    severity_right = incident.severity == key.severity
    lines.append(
        ScoreLine("severity", "Severity", incident.severity, key.severity,
                  "right" if severity_right else "WRONG", int(severity_right),
                  POINTS["severity"],
                  "the incident's severity is the runbook's class of what happened"
                  if severity_right else f"press v and choose {key.severity}", "severity")
    )  # fmt: skip
    decision_right = decision_given == key.decision
    point = DECISION_POINTS.get(key.decision, key.decision)
    lines.append(
        ScoreLine("decision", "Decision", decision_given or "none recorded", key.decision,
                  "right" if decision_right else "WRONG",
                  POINTS["decision"] if decision_right else 0, POINTS["decision"],
                  point if decision_right else f"press d and choose {key.decision} ({point})",
                  "decision")
    )  # fmt: skip
    lines += [_containment_line(c, items) for c in containment]
    lines += steps
    lines += [
        ScoreLine("extra", f"Not in the answer key: {extra_action}", "done", "", "extra", 0, 0,
                  "", extra_action)
        for extra_action in extra
    ]  # fmt: skip
    return Score(
        scenario=scenario.name,
        incident_id=incident_id,
        mttd=mttd,
        mttc=mttc,
        mttr=mttr,
        severity_expected=key.severity,
        severity_given=incident.severity,
        decision_expected=key.decision,
        decision_given=decision_given,
        containment=containment,
        extra_actions=extra,
        steps_done=tuple(line.ref for line in steps if line.earned),
        steps_missed=tuple(line.ref for line in steps if not line.earned),
        explanation=key.explanation,
        notes=tuple(notes),
        items=tuple(lines),
    )
