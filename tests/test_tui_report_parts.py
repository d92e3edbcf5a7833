"""The report screen's pure parts: reporting-clock colours, the bounded display, file names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from store.report.deadlines import DETAILED_REPORT, EXECUTIVE_SUMMARY, GDPR_NOTIFICATION, Due
from tui.report_file import default_report_path
from tui.screens.report import MAX_SHOWN_ROWS, bounded_for_display, due_state, next_due
from tui.views.clocks import BREACHED, LATE, MET, OK, WARNING

DETECTED = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
SUMMARY_DUE = DETECTED + timedelta(hours=24)


def summary(done_at: datetime | None = None) -> Due:
    return Due(EXECUTIVE_SUMMARY, SUMMARY_DUE, done_at is not None, False, done_at)


def test_a_reporting_clock_turns_amber_in_the_last_fifth_and_red_when_overdue() -> None:
    assert due_state(summary(), DETECTED + timedelta(hours=19)) == OK
    assert due_state(summary(), DETECTED + timedelta(hours=19, minutes=12)) == WARNING
    assert due_state(summary(), SUMMARY_DUE) == WARNING
    assert due_state(summary(), SUMMARY_DUE + timedelta(seconds=1)) == BREACHED
    gdpr = Due(GDPR_NOTIFICATION, DETECTED + timedelta(hours=72), False, False)
    assert due_state(gdpr, DETECTED + timedelta(hours=57)) == OK  # 15 h left of 72
    assert due_state(gdpr, DETECTED + timedelta(hours=58)) == WARNING  # 14 h left


def test_an_issued_item_is_met_or_late_and_an_untimed_one_is_calm() -> None:
    late = DETECTED + timedelta(hours=30)
    assert due_state(summary(done_at=DETECTED + timedelta(hours=2)), late) == MET
    assert due_state(summary(done_at=late), late) == LATE
    untimed = Due(DETAILED_REPORT, None, False, False)
    assert due_state(untimed, late) == OK
    assert next_due([summary(done_at=DETECTED), untimed]) is None
    assert next_due([untimed, summary()]) == summary()


def test_tables_are_cut_for_display_and_say_how_many_rows_are_left_out() -> None:
    rows = [f"| {i} | entry {i} |" for i in range(MAX_SHOWN_ROWS + 25)]
    markdown = "\n".join(["# Report", "", "| n | what |", "|---|---|", *rows, "", "## After", ""])
    shown = bounded_for_display(markdown).split("\n")
    assert shown[:4] == ["# Report", "", "| n | what |", "|---|---|"]
    assert rows[MAX_SHOWN_ROWS - 1] in shown
    assert rows[MAX_SHOWN_ROWS] not in shown
    assert "*25 more rows are in the saved report (s saves it).*" in shown
    assert shown[-2:] == ["## After", ""]
    small = "\n".join(["| a |", "|---|", "| 1 |", "", "text | with a pipe"])
    assert bounded_for_display(small) == small


def test_the_default_file_is_named_after_the_incident_and_variant() -> None:
    assert default_report_path("NSI-2026-03-14-001", False) == Path(
        "incident-NSI-2026-03-14-001.md"
    )
    assert default_report_path("NSI-2026-03-14-001", True, Path("/srv")) == Path(
        "/srv/incident-NSI-2026-03-14-001-executive.md"
    )
