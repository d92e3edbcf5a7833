"""A team drill's score: several participants' exports, one answer key, one clock (the drill's).

In a team drill each participant works from their own machine with their own
record (`warroom act`, `warroom live`, kubectl against the drill's kubeconfig)
and at the end exports their drill incident (`warroom export ID -o NAME.db`).
The facilitator scores the team from those files while the drill still runs
(`warroom drill control score --from alice.db --from bob.db`):

- Each export is checked by the import path (`store.transfer.import_incident`:
  its schema, its audit chain, every value against the live path's rules) into
  a scratch record of its own, so a tampered or foreign file is refused with
  the reason before anything is scored. One scratch record each, because
  participants following the same drill record the same Falco alerts, which
  one record refuses twice.
- One clock, the drill's: MTTD, MTTC and MTTR run from the scenario's first
  sign as the drill played it to the first acknowledgement, containment and
  recovery by anyone in the team (their machines' clocks are trusted to agree,
  as NTP keeps them).
- What any participant did counts: an expected containment or step is met when
  one participant's record shows it, or when the drill cluster itself showed it
  (whoever did it, kubectl included); the line says who.
- The severity and the decision are the team's last word: the severity set
  last and the decision recorded last, by anyone.
- Then, per participant, what they did.

Everything else is `actions.drill.score.score_drill`, once per participant: the
same answer key, the same lines, the same points.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from actions.drill.drill_events import Observation
from actions.drill.score import ContainmentResult, Score, ScoreLine, score_drill
from store import Record
from store.errors import RecordError
from store.response_times import (
    END_WORDS,
    FALSE_POSITIVE,
    MEASURES,
    ResponseTime,
    incident_response_times,
)
from store.transfer import import_incident


class TeamScoreError(Exception):
    """An export cannot be scored (refused by the import checks); nothing was scored."""


@dataclass(frozen=True)
class Member:
    """One participant: the name their export goes by, their incident's ID, what they did."""

    name: str
    incident_id: str
    did: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "incident_id": self.incident_id, "did": list(self.did)}


@dataclass(frozen=True)
class TeamScore:
    score: Score
    """The team's lines and points, as one incident's score reads."""
    members: tuple[Member, ...]

    def lines(self) -> list[str]:
        earned, possible = self.score.points
        who = ", ".join(f"{m.name} ({m.incident_id})" for m in self.members)
        out = [f"Team score for {self.score.scenario}: {earned}/{possible} points ({who})"]
        out += self.score.lines()[1:]
        out.append("Who did what:")
        for member in self.members:
            did = "; ".join(member.did) or "nothing the answer key scores"
            out.append(f"  {member.name} ({member.incident_id}): {did}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**self.score.to_dict(), "team": [m.to_dict() for m in self.members]}


@dataclass(frozen=True)
class _Part:
    """One participant's incident, imported into a scratch record of its own."""

    name: str
    record: Record
    incident_id: str  # in the scratch record
    exported_id: str  # in their export (and their own record)


def score_team(
    scenario: Any,
    exports: Sequence[tuple[str, Path]],
    *,
    clock_started_at: datetime | None,
    observations: Sequence[Observation],
    workdir: Path,
) -> TeamScore:
    """Score the team whose exports are `(name, file)`, scratch records in `workdir`.

    Raises TeamScoreError naming the participant and the file an export is refused for."""
    if not exports:
        raise TeamScoreError("no export to score")
    names = [name for name, _path in exports]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise TeamScoreError(f"two exports go by the name {twice[0]}: each participant's file "
                             "needs a name of its own (warroom export ID -o NAME.db)")
    with ExitStack() as stack:
        parts: list[_Part] = []
        seen: dict[tuple[str, datetime], str] = {}
        for number, (name, path) in enumerate(exports):
            record = stack.enter_context(Record.open(workdir / f"member-{number}.db"))
            try:
                result = import_incident(record, path)
            except (RecordError, sqlite3.DatabaseError) as error:
                raise TeamScoreError(f"{name}'s export {path}: {error}") from None
            part = _Part(name, record, result.incident_id, result.original_id or result.incident_id)
            # The same incident under two names would count one participant's work twice.
            opened = (part.exported_id, record.incidents.get_required(part.incident_id).opened_at)
            if opened in seen:
                raise TeamScoreError(f"{seen[opened]} and {name} hold the same incident "
                                     f"({part.exported_id}): score each participant's own")
            seen[opened] = name
            parts.append(part)
        return _score(scenario, parts, clock_started_at, observations)


def _score(scenario: Any, parts: Sequence[_Part], clock_started_at: datetime | None,
           observations: Sequence[Observation]) -> TeamScore:
    times, firsts = _team_times(parts, clock_started_at)

    def scored(seen: Sequence[Observation] | None) -> list[Score]:
        return [score_drill(scenario, p.record, p.incident_id, clock_started_at=clock_started_at,
                            observations=seen, times=times) for p in parts]

    # With the cluster's observations (what counts), and without (what each record shows:
    # who did it).
    full, own = scored(observations), scored(None)
    severity_from = _last_severity(parts)
    decision_from = _last_decision(parts)
    lines: list[ScoreLine] = []
    for index, line in enumerate(full[0].items):
        if line.kind == "time":
            who = firsts.get(line.ref)
            lines.append(replace(line, how=f"{line.how} (first: {who})") if who else line)
        elif line.kind == "severity":
            lines.append(_said_by(parts, full, index, severity_from, "set by"))
        elif line.kind == "decision":
            lines.append(_said_by(parts, full, index, decision_from, "recorded by"))
        elif line.kind in ("containment", "step"):
            lines.append(_anyone(parts, full, own, index))
    extras = _extras(parts, own)
    lines += extras
    team = Score(
        scenario=scenario.name,
        incident_id=", ".join(f"{p.name}:{p.exported_id}" for p in parts),
        mttd=full[0].mttd,
        mttc=full[0].mttc,
        mttr=full[0].mttr,
        severity_expected=full[0].severity_expected,
        severity_given=full[severity_from[0]].severity_given if severity_from else None,
        decision_expected=full[0].decision_expected,
        decision_given=full[decision_from[0]].decision_given if decision_from else None,
        containment=_containment(parts, full, own),
        extra_actions=tuple(line.ref for line in extras),
        steps_done=tuple(line.ref for line in lines if line.kind == "step" and line.earned),
        steps_missed=tuple(line.ref for line in lines if line.kind == "step" and not line.earned),
        explanation=full[0].explanation,
        notes=(_clock_note(times["mttd"], clock_started_at),
               *dict.fromkeys(note for score in full for note in score.notes)),
        items=tuple(lines),
    )
    return TeamScore(team, tuple(_member(p, o, firsts) for p, o in zip(parts, own, strict=True)))


def _team_times(parts: Sequence[_Part], clock_started_at: datetime | None
                ) -> tuple[dict[str, ResponseTime], dict[str, str]]:
    """The team's MTTD, MTTC and MTTR on the drill's clock, and who reached each first."""
    each = [(p, incident_response_times(p.record, p.incident_id)) for p in parts]
    start = clock_started_at or min(t["mttd"].start for _p, t in each)
    last = _last_decision(parts)
    false_positive = (last is not None and last[2] == FALSE_POSITIVE) or all(
        p.record.incidents.get_required(p.incident_id).false_positive for p in parts
    )
    times: dict[str, ResponseTime] = {}
    firsts: dict[str, str] = {}
    for key in MEASURES:
        ends = sorted((t[key].end, p.name) for p, t in each if t[key].end is not None)
        times[key] = ResponseTime(key, start, ends[0][0] if ends else None,
                                  applies=key == "mttd" or not false_positive)
        if ends:
            firsts[key] = ends[0][1]
    return times, firsts


def _last_severity(parts: Sequence[_Part]) -> tuple[int, datetime, str] | None:
    """(participant's index, when, severity) of the severity set last, by anyone."""
    found = []
    for number, part in enumerate(parts):
        for entry in part.record.timeline.for_incident(
            part.incident_id, kinds=("incident.opened", "incident.updated")
        ):
            if isinstance(entry.data.get("severity"), str):
                found.append((entry.at, number, entry.data["severity"]))
    if not found:
        return None
    at, number, severity = max(found)
    return number, at, severity


def _last_decision(parts: Sequence[_Part]) -> tuple[int, datetime, str] | None:
    """(participant's index, when, decision) of the decision recorded last, by anyone."""
    found = [(d.at, number, d.decision) for number, part in enumerate(parts)
             for d in part.record.decisions.for_incident(part.incident_id)]
    if not found:
        return None
    at, number, decision = max(found)
    return number, at, decision


def _said_by(parts: Sequence[_Part], full: Sequence[Score], index: int,
             last: tuple[int, datetime, str] | None, verb: str) -> ScoreLine:
    """The severity or decision line of whoever had the last word, saying who."""
    if last is None:
        return full[0].items[index]
    number, at, _value = last
    line = full[number].items[index]
    return replace(line, how=f"{line.how} ({verb} {parts[number].name} {at:%H:%M:%S})")


def _anyone(parts: Sequence[_Part], full: Sequence[Score], own: Sequence[Score],
            index: int) -> ScoreLine:
    """Met when anyone's record shows it (saying who), or the cluster showed it."""
    doers = [(p.name, score.items[index]) for p, score in zip(parts, own, strict=True)
             if score.items[index].earned]
    if doers:
        how = "; ".join(f"{name}: {line.how}" for name, line in doers)
        return replace(doers[0][1], how=how)
    seen = next((score.items[index] for score in full if score.items[index].earned), None)
    return seen or full[0].items[index]


def _extras(parts: Sequence[_Part], own: Sequence[Score]) -> list[ScoreLine]:
    """Actions outside the answer key, once each, saying who."""
    by: dict[str, tuple[ScoreLine, list[str]]] = {}
    for part, score in zip(parts, own, strict=True):
        for line in score.items:
            if line.kind == "extra":
                by.setdefault(line.ref, (line, []))[1].append(part.name)
    return [replace(line, how=f"by {', '.join(names)}") for line, names in by.values()]


def _containment(parts: Sequence[_Part], full: Sequence[Score], own: Sequence[Score]
                 ) -> tuple[ContainmentResult, ...]:
    results = []
    for index, expected in enumerate(full[0].containment):
        done = [(c.at, f"{p.name}: {c.how}", c) for p, score in zip(parts, own, strict=True)
                if (c := score.containment[index]).done and c.at is not None]
        if not done:
            done = [(c.at, c.how, c) for score in full
                    if (c := score.containment[index]).done and c.at is not None]
        if done:
            at, how, first = min(done, key=lambda item: item[0])
            results.append(replace(first, how=how))
        else:
            results.append(expected)
    return tuple(results)


def _clock_note(mttd: ResponseTime, clock_started_at: datetime | None) -> str:
    basis = ("the scenario's first sign as the drill played it" if clock_started_at
             else "the earliest first sign in the exports (the scenario's had not played)")
    return (f"Team times run on the drill's clock, from {basis} ({mttd.start:%H:%M:%S}), to "
            "the first acknowledgement, containment and recovery by anyone in the team.")


def _member(part: _Part, score: Score, firsts: dict[str, str]) -> Member:
    did = [f"first {END_WORDS[key]}" for key in MEASURES if firsts.get(key) == part.name]
    did += [line.item for line in score.items
            if line.kind in ("containment", "step") and line.earned]
    did += [f"{line.ref} (not in the answer key)" for line in score.items if line.kind == "extra"]
    return Member(part.name, part.exported_id, tuple(did))
