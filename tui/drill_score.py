"""A drill's score kept in the record, so `warroom review` can show it long after the drill.

The score is computed, never stored as a verdict: what is kept are its inputs that only
the running drill knew (which scenario, when its clock started, the containments the
cluster itself showed), as a `drill.score` timeline entry written when the drill ends.
Review scores the incident again from them with `actions.drill.score.score_drill`,
against the scenario's answer key as it is now. No Textual here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actions.drill.drill_events import Observation
    from actions.drill.scenario import Scenario
    from actions.drill.score import Score
    from store import Record

SCORE_KIND = "drill.score"


def record_drill_score(record: Record, incident_id: str, scenario: Scenario,
                       clock_started_at: datetime | None, observations: Sequence[Observation],
                       score: Score, *, actor: str | None = None) -> None:
    """Write the score's inputs (and its points, for the reader) on the incident's timeline."""
    earned, possible = score.points
    data: dict[str, Any] = {
        "scenario": scenario.name,
        "source": scenario.source,
        "clock_started_at": clock_started_at.isoformat() if clock_started_at else None,
        "observations": [
            {"action": o.action, "target": o.target, "wall": o.wall.isoformat(), "by": o.by}
            for o in observations
        ],
        "points": [earned, possible],
    }
    record.timeline.add(
        incident_id, SCORE_KIND,
        f"Drill scored: {earned}/{possible} points against {scenario.name}'s answer key",
        actor=actor, data=data,
    )


def _scenario(data: dict[str, Any]) -> Scenario:
    from actions.drill.scenario import builtin_names, load_builtin, load_scenario

    name = str(data.get("scenario") or "")
    if name in builtin_names():
        return load_builtin(name, schemas=False)  # checked by the suite and by every drill
    source = Path(str(data.get("source") or ""))
    if source.is_file():
        return load_scenario(source)
    raise FileNotFoundError(f"scenario {name!r} is no built-in and {source} is gone")


def recorded_score(record: Record, incident_id: str) -> tuple[Score | None, str]:
    """The incident's drill score from its recorded inputs, or None and why there is none."""
    from actions.drill.drill_events import Observation
    from actions.drill.scenario import ScenarioError
    from actions.drill.score import score_drill

    entries = record.timeline.for_incident(incident_id, kinds=(SCORE_KIND,))
    if not entries:
        return None, (f"no drill score in the record for {incident_id}: it was not a drill, "
                      "or the drill had not ended when this record was made")
    data = entries[-1].data
    try:
        scenario = _scenario(data)
    except (ScenarioError, FileNotFoundError, OSError) as error:
        return None, f"cannot score again: {error}"
    try:  # the record may come from elsewhere (`warroom import`): read it warily
        started = data.get("clock_started_at")
        clock_started_at = datetime.fromisoformat(started) if started else None
        observations = [
            Observation(str(o["action"]), str(o["target"]), datetime.fromisoformat(o["wall"]),
                        str(o["by"]))
            for o in data.get("observations") or []
            if isinstance(o, dict)
        ]
    except (KeyError, TypeError, ValueError) as error:
        return None, f"the recorded drill score is unreadable: {error}"
    score = score_drill(scenario, record, incident_id,
                        clock_started_at=clock_started_at, observations=observations)
    return score, ""
