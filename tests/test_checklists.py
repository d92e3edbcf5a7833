"""The runbook's checklists as shipped data, and the verifiers that read the record."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.checklists import (
    VERIFIER_NAMES,
    VERIFIERS,
    ChecklistDataError,
    VerifyContext,
    checklist_for,
    load_checklists,
    parse_checklists,
    run_verifier,
)
from actions.checklists.record_checks import alerting_working, no_suspicious_activity
from actions.config import AlertingSettings, PagerDutySettings, SlackSettings
from actions.drill.score import RUNBOOK_STEPS
from actions.falco.classify import Classifier
from actions.falco.ingest import BatchWriter, ingest_lines
from store import PHASES, Record
from store.report.render import RUNBOOK_ACTION_ITEMS
from tests.plugins.tui import alert_line

RUNBOOK = Path("/work/shared/runbook.md")
ROOT = Path(__file__).resolve().parent.parent


def runbook_checkbox_items() -> list[str]:
    return re.findall(r"^- \[ \] (.+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.M)


def test_every_phase_has_its_list_in_the_runbooks_order() -> None:
    checklists = load_checklists()
    assert tuple(checklists) == PHASES
    recovery = [item.text for item in checklists["recovery"].items]
    # Phase 4's three numbered steps (Service Restoration), then its Validation Steps.
    assert recovery == [
        "Gradual Traffic Restoration",
        "Verify Service Health",
        "Monitor for Anomalies",
        *runbook_checkbox_items(),
    ]
    lessons = [item.text for item in checklists["lessons-learned"].items]
    assert lessons == list(RUNBOOK_ACTION_ITEMS)
    detection = checklists["detection"]
    assert [item.section for item in detection.items][:3] == ["Acknowledge the Alert"] * 3
    assert detection.items[-1].text == "Capture pod logs for affected services"
    assert [i.text for i in checklists["containment"].items][:3] == [
        "Isolate Affected Services",
        "Block Suspicious External IPs",
        "Disable Compromised Service Accounts",
    ]


def test_every_item_is_written_in_the_runbook() -> None:
    text = RUNBOOK.read_text(encoding="utf-8").casefold()
    for checklist in load_checklists().values():
        for item in checklist.items:
            assert item.text.casefold() in text, item.text
            assert item.section.casefold() in text, item.section


def test_ids_are_unique_and_the_drill_score_recognises_shared_steps() -> None:
    ids = [item.id for c in load_checklists().values() for item in c.items]
    assert len(ids) == len(set(ids))
    shared = set(ids) & set(RUNBOOK_STEPS)
    assert {"review-falco", "check-mesh", "isolate", "block-ip", "rotate-credentials"} <= shared


def test_the_five_validation_steps_each_name_their_verifier() -> None:
    recovery = checklist_for("recovery")
    validation = [item for item in recovery.items if item.section == "Validation Steps"]
    assert [item.verifier for item in validation] == list(VERIFIER_NAMES)
    assert recovery.item("verify-recovery").verifier == "services-healthy"
    assert tuple(VERIFIERS) == VERIFIER_NAMES
    assert checklist_for("eradication").item("fix-config").verifier == "policies-applied"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[detection]]\nid = 'a'\nsection = 's'\ntext = 't'\n", "no items for phase containment"),
        ("[[detectoin]]\nid = 'a'\n", "unknown phases detectoin"),
        ("[[detection]]\nid = 'A b'\nsection = 's'\ntext = 't'\n", "lowercase words and dashes"),
        (
            "[[detection]]\nid = 'a'\nsection = 's'\ntext = 't'\nverifier = 'magic'\n",
            "unknown verifier 'magic'",
        ),
        ("[[detection]]\nid = 'a'\nsection = 's'\ntext = ''\n", "text must be a non-empty"),
        ("[[detection]\n", "not valid TOML"),
        (
            "[[detection]]\nid = 'a'\nsection = 's'\ntext = 't'\nproven_by = ['action:nuke']\n",
            "unknown action 'nuke'",
        ),
        (
            "[[detection]]\nid = 'a'\nsection = 's'\ntext = 't'\nproven_by = ['tick:x']\n",
            "must start with action: or evidence:",
        ),
        (
            "[[detection]]\nid = 'a'\nsection = 's'\ntext = 't'\n"
            "proven_by = ['action:isolate:istio']\n",
            "only mesh-deny takes a qualifier",
        ),
    ],
)
def test_malformed_data_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ChecklistDataError, match=re.escape(problem)):
        parse_checklists(text, "bad.toml")


def test_a_duplicate_id_is_refused() -> None:
    phases = "".join(f"[[{p}]]\nid = 'same'\nsection = 's'\ntext = 't'\n" for p in PHASES)
    with pytest.raises(ChecklistDataError, match="used twice"):
        parse_checklists(phases)


def test_the_data_is_package_data() -> None:
    """pyproject's package-data patterns take checklists.toml into the built package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    assert any(fnmatch.fnmatch("checklists.toml", pattern) for pattern in patterns)
    assert (ROOT / "actions" / "checklists" / "checklists.toml").is_file()


def test_a_tick_under_the_text_or_the_id_is_found(record: Record, clock: Any) -> None:
    incident = record.incidents.open("x")
    item = checklist_for("recovery").item("mtls-enforced")
    assert item.tick_for(record.checklist.state(incident.id)) is None
    record.checklist.tick(incident.id, "recovery", item.text, actor="alice")
    clock.advance(seconds=5)
    record.checklist.tick(incident.id, "recovery", item.id, checked=False, actor="bob")
    tick = item.tick_for(record.checklist.state(incident.id))
    assert tick is not None
    assert (tick.checked, tick.actor) == (False, "bob")


# --- no suspicious activity -----------------------------------------------------------------------


def ingest(record: Record, *lines: bytes) -> None:
    ingest_lines(BatchWriter(record, Classifier.load()), lines)


def test_suspicious_activity_is_judged_by_p0_p1_alerts_in_the_window(
    record: Record, clock: Any
) -> None:
    assert no_suspicious_activity(record, now=clock()).state == "unknown"
    ingest(
        record,
        alert_line(1, rule="Unexpected outbound connection", priority="Critical", pod="api-7d"),
    )
    clock.advance(minutes=10)
    ingest(record, *(alert_line(i, priority="Notice") for i in range(2, 40)))
    recent = no_suspicious_activity(record, now=clock(), minutes=15)
    assert recent.state == "not-verified"
    assert "1 P0/P1 alerts in the last 15 min" in recent.evidence
    assert "Unexpected outbound connection (P1, api-7d)" in recent.evidence
    clock.advance(minutes=6)
    quiet = no_suspicious_activity(record, now=clock(), minutes=15)
    assert quiet.state == "verified"
    assert "38 lower-severity alerts" in quiet.evidence
    clock.advance(hours=1)
    idle = no_suspicious_activity(record, now=clock(), minutes=15)
    assert idle.state == "verified"
    assert "no alert of any severity" in idle.evidence


# --- alerting working -----------------------------------------------------------------------------

CHANNELS = AlertingSettings(slack=SlackSettings(), pagerduty=PagerDutySettings())


def test_alerting_is_unknown_without_a_channel_or_a_notification(
    record: Record, clock: Any
) -> None:
    since = clock()
    none = alerting_working(record, AlertingSettings(), now=clock(), since=since)
    assert none.state == "unknown"
    assert "no alert channel is configured" in none.evidence
    untested = alerting_working(record, CHANNELS, now=clock(), since=since)
    assert untested.state == "unknown"
    assert "pagerduty, slack is untested" in untested.evidence


def test_alerting_fails_on_a_given_up_or_late_notification(record: Record, clock: Any) -> None:
    incident = record.incidents.open("x")
    since = clock()
    delivered = record.outbox.enqueue(incident.id, "slack", "opened", "k1", {"text": "hi"})
    assert delivered is not None
    record.outbox.mark_delivered(delivered)
    assert alerting_working(record, CHANNELS, now=clock(), since=since).state == "verified"
    stuck = record.outbox.enqueue(incident.id, "pagerduty", "opened", "k2", {"text": "hi"})
    assert stuck is not None
    record.outbox.mark_failed(
        stuck, "HTTP 503 from events.pagerduty.com", retry_at=clock() + timedelta(minutes=1)
    )
    clock.advance(minutes=2)
    pending = alerting_working(record, CHANNELS, now=clock(), since=since)
    assert pending.state == "verified"
    assert "1 still within their first minutes" in pending.evidence
    clock.advance(minutes=4)
    late = alerting_working(record, CHANNELS, now=clock(), since=since)
    assert late.state == "not-verified"
    assert "pagerduty opened (1 attempt: HTTP 503 from events.pagerduty.com)" in late.evidence
    record.outbox.mark_failed(stuck, "HTTP 400 invalid routing key", retry_at=None, give_up=True)
    gave_up = alerting_working(record, CHANNELS, now=clock(), since=since)
    assert gave_up.evidence.startswith("1 notification given up")


async def test_the_runner_stamps_the_time_and_says_unknown_without_a_cluster(
    record: Record, clock: Any
) -> None:
    context = VerifyContext(record=record, now=clock(), since=clock())
    for name in ("services-healthy", "mtls-enforced", "policies-applied"):
        verdict = await run_verifier(name, context)
        assert verdict.state == "unknown"
        assert "no cluster connection" in verdict.evidence
        assert verdict.checked_at == clock()
    assert (await run_verifier("nonsense", context)).state == "unknown"


def test_every_runbook_action_can_prove_an_item() -> None:
    """The checklist's list of proving actions is the runbook's (it cannot import it: the
    drill's score reads checklists and must stay apart from the live action layer)."""
    from actions.checklists.model import PROVING_ACTIONS
    from actions.runbook.model import ACTIONS

    assert set(PROVING_ACTIONS) == set(ACTIONS)
