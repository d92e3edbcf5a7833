"""A commander who gets it wrong: the score says what was missed, why, and how it is done.

suspicious-external-ip played badly at 160x48: the proposal accepted, the severity
lowered to P3 (the runbook says P1 for connections to an unknown external IP), no
containment and no eradication, the incident closed at once. The printed score
(the same one the record keeps for review) must not give full marks, must say the
severity is wrong and against what, and must name each missed step in the
checklist's words with the key or command that does it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from store import Record
from tests.journeys.checks import SCORE_LINE, check_score_recorded, journey_incident
from tests.journeys.commander import drill_console

pytestmark = pytest.mark.slow


def test_wrong_severity_and_no_containment_are_scored_and_explained(tmp_path: Path) -> None:
    with drill_console(tmp_path, "suspicious-external-ip", speed=30, size=(160, 48)) as ic:
        ic.console_is_up()
        ic.wait_for_proposal()
        ic.pause_drill()
        incident_id = ic.accept_proposal()
        ic.set_severity(incident_id, "P3")
        ic.decide("active-attack", "tts-router talks to 203.0.113.66")
        ic.close("looked like the vendor's CDN; nothing done")
        printed = ic.quit()
    with Record.open(tmp_path / "record.db") as record:
        incident = journey_incident(record)
        assert incident.severity == "P3"
        assert incident.status == "closed"
        score = check_score_recorded(printed, record, incident)
    assert score.earned < score.possible
    lines = {SCORE_LINE.match(line).group("item"): line for line in score.lines}  # type: ignore[union-attr]

    severity = lines["Severity"]
    assert severity.split()[0] == "WRONG"
    assert "P3 (expected P1)" in severity
    assert "; " in severity.partition("(expected P1)")[2]  # and why

    decision = lines["Decision"]
    assert decision.split()[0] == "right"

    block = lines["Block Suspicious External IPs (203.0.113.66)"]
    assert block.split()[0] == "MISSED"
    assert "press b on the alert, or `warroom act block-ip 203.0.113.66`" in block

    rotate = lines["Rotate Compromised Credentials"]
    assert rotate.split()[0] == "MISSED"
    assert "press t" in rotate

    patch = lines["Patch Vulnerabilities"]
    assert patch.split()[0] == "MISSED"
    for line in score.lines:
        verdict = line.split()[0]
        if verdict in ("MISSED", "WRONG"):
            assert "; " in SCORE_LINE.match(line).group("rest"), f"not explained: {line}"  # type: ignore[union-attr]
    # The attack was never stopped: the score says so, and what really ends it.
    assert "still running when scored" in printed
    assert "rollout undo deploy/tts-router" in printed
