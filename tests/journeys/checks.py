"""What a finished journey must have left behind: the record, the saved report, the score.

Read through the store's own API (the record is a real SQLite file) and the files the
console wrote, never through the console's screen, so what the commander did is
checked where a reviewer finds it later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from actions.drill.scenario import Scenario, load_builtin
from actions.sources.traffic import EXPECTED_CLASSIFICATION
from store import Incident, Record
from store.report.markdown import escape
from tests.journeys.commander import COMMANDER
from tui.drill_score import SCORE_KIND, recorded_score

# The runbook's incident report template (runbook.md, Phase 5), in its order.
TEMPLATE_SECTIONS = ("## Summary", "## Timeline", "## Root Cause", "## Impact Assessment",
                     "## Response Actions", "## Preventive Measures")
SCORE_LINE = re.compile(r"^\s*(?P<verdict>met|right|MISSED|WRONG|extra|n/a)\s+(?P<points>\S+)"
                        r"\s\s(?P<item>.+?): (?P<rest>.*)$")


@dataclass(frozen=True)
class ScoreText:
    """The score as the terminal printed it when the drill ended."""

    header: str
    earned: int
    possible: int
    lines: tuple[str, ...]


def printed_score(printed: str, scenario: str) -> ScoreText:
    """The score block in what `warroom drill` printed after the console closed."""
    text = printed.replace("\r", "")
    # Not anchored at the line's start: the console's last frame may end on the same line.
    found = re.search(rf"Score for {re.escape(scenario)} \((NSI-[\d-]+)\): (\d+)/(\d+) points$",
                      text, re.M)
    assert found, f"no score printed:\n{text[-3000:]}"
    lines = tuple(line for line in text[found.end():].splitlines() if SCORE_LINE.match(line))
    return ScoreText(found.group(0), int(found.group(2)), int(found.group(3)), lines)


def journey_incident(record: Record) -> Incident:
    """The one drill incident the journey opened."""
    drills = [i for i in record.incidents.list() if i.drill]
    assert len(drills) == 1, [i.id for i in drills]
    return drills[0]


def check_record(record: Record, incident: Incident, scenario: Scenario, *,
                 category: str, actions: tuple[tuple[str, str | None], ...],
                 decision: str, closed: bool = True, capture_missing: tuple[str, ...] = ()
                 ) -> None:
    """The record holds what the commander did: class, commander, where, alerts, actions,
    the decision, the end. capture_missing: the evidence pieces the scenario's RBAC keeps
    a capture from (it then ends "failed", naming exactly those)."""
    assert incident.category == category
    assert incident.severity == scenario.answer_key.severity
    assert incident.commander == COMMANDER
    assert incident.cluster_context == "warroom-drill"
    assert incident.namespace == "voicehive"
    assert incident.acknowledged_at is not None
    if closed:
        assert incident.status == "closed"
        assert incident.closed_at is not None
        assert incident.resolution
    linked = record.alerts.for_incident(incident.id)
    assert linked, "no alert is linked to the incident"
    # The incident's own alerts, and the mesh failures its quarantine causes, which warroom
    # links to it as expected (a P3 that proposes nothing) instead of paging a new P0.
    categories = {a.category for a in linked}
    assert categories - {EXPECTED_CLASSIFICATION.category} == {category}, categories

    entries = record.actions.for_incident(incident.id)
    intents = [(e.action, e.target) for e in entries if e.entry == "intent"]
    outcomes = {e.action_id: e for e in entries if e.entry == "outcome"}
    assert intents == list(actions), intents
    for intent in (e for e in entries if e.entry == "intent"):
        outcome = outcomes.get(intent.action_id)
        assert outcome is not None, f"{intent.action} has no outcome"
        if intent.action == "capture" and capture_missing:
            missing = re.findall(r"([\w.-]+\.(?:json|yaml|txt)): ", outcome.message or "")
            assert (outcome.status, missing) == ("failed", list(capture_missing)), outcome.message
            continue
        assert outcome.status in ("succeeded", "no-op"), (outcome.action, outcome.message)
    decisions = record.decisions.for_incident(incident.id)
    assert decisions
    assert decisions[-1].decision == decision
    assert decisions[-1].actor == COMMANDER
    assert decisions[-1].rationale


def check_report(record: Record, incident: Incident, folder: Path) -> str:
    """The saved report (the file the record's `report.saved` names, in the commander's
    folder): the runbook's template, its alerts, its actions, as recorded."""
    saved = record.timeline.for_incident(incident.id, kinds=("report.saved",))
    assert saved, "the report was not saved"
    path = Path(saved[-1].data["file"])
    assert path.parent == folder, path
    text = path.read_text()
    assert text.startswith("# Network Security Incident Report")
    assert f"**Incident ID**: {incident.id} (drill)" in text
    positions = [text.index(f"\n{section}\n") for section in TEMPLATE_SECTIONS]
    assert positions == sorted(positions), "the template's sections are out of order"
    alerts = section(text, "## Alerts")
    for rule in {a.rule for a in record.alerts.for_incident(incident.id)}:
        assert rule in alerts, f"{rule!r} not in the Alerts section:\n{alerts}"
    assert "No alerts recorded" not in alerts
    response = section(text, "## Response Actions")
    for entry in record.actions.for_incident(incident.id):
        if entry.entry == "outcome":
            assert f"{entry.action} {entry.target or ''}".strip() in response, entry.action
    assert incident.resolution
    summary = section(text, "## Summary")
    assert escape(incident.resolution, limit=2000) in summary, (incident.resolution, summary)
    return text


def section(text: str, heading: str) -> str:
    """The body of one `## ` section of a markdown report."""
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start:] if end < 0 else text[start:end]


def check_full_marks(printed: str, record: Record, incident: Incident) -> ScoreText:
    """Full marks, every line explained, the same score the record keeps for review."""
    score = check_score_recorded(printed, record, incident)
    assert score.earned == score.possible > 0, "\n".join((score.header, *score.lines))
    for line in score.lines:
        parts = SCORE_LINE.match(line)
        assert parts is not None
        if parts.group("verdict") == "extra":  # an action the key did not ask for: 0 points
            continue
        assert parts.group("verdict") in ("met", "right", "n/a"), line  # n/a: says why
        assert "; " in parts.group("rest"), f"not explained: {line}"
    assert "still running when scored" not in printed, printed
    return score


def check_score_recorded(printed: str, record: Record, incident: Incident) -> ScoreText:
    """The printed score is the recorded one (`drill.score`), line for line, as review shows it."""
    scenario = load_builtin(record.timeline.for_incident(
        incident.id, kinds=(SCORE_KIND,))[-1].data["scenario"], schemas=False)
    score = printed_score(printed, scenario.name)
    kept = record.timeline.for_incident(incident.id, kinds=(SCORE_KIND,))
    assert kept, "the score was not recorded"
    assert kept[-1].data["points"] == [score.earned, score.possible]
    again, why = recorded_score(record, incident.id)
    assert again is not None, why
    assert tuple(again.lines()[1:1 + len(score.lines)]) == score.lines
    return score
