"""The report screen's keyboard flows, asserted on the record, the file and what is shown."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Markdown, OptionList, Static, TextArea, Tree
from textual.widgets.markdown import MarkdownTableOfContents

from store import Record
from store.report.deadlines import (
    DETAILED_REPORT,
    EXECUTIVE_SUMMARY,
    ISSUED_KIND,
    SAVED_KIND,
    due_for,
)
from store.report.render import render_executive, render_report
from store.report.sections import SECTION_KIND, sections, set_section
from tests.plugins.record import FrozenClock
from tests.plugins.tui import HOSTILE, AppFactory, until
from tui.dialogs.forms import AskScreen
from tui.dialogs.report_editor import SectionEditor
from tui.screens.report import MarkIssuedForm, ReportScreen, SavePathForm
from tui.screens.war_room import WarRoomScreen
from tui.widgets.timeline_pane import TimelineList, TimelinePane

# Text that would be markdown structure if it were not escaped.
MARKDOWN_BREAKERS = (
    "# heading",
    "| a | b |",
    "[x](javascript:alert(1))",
    "<script>alert(1)</script>",
)


@pytest.fixture
def incident(record: Record, clock: FrozenClock) -> str:
    """A P1 drill incident with real entries: notes, a decision, two actions with outcomes."""
    opened = record.incidents.open("Shell in orchestrator", severity="P1", drill=True, actor="ic")
    clock.advance(minutes=2)
    record.incidents.acknowledge(opened.id, actor="ic")
    record.timeline.add(opened.id, "note", "curl to 203.0.113.9 seen", actor="ic")
    record.decisions.add(opened.id, "active-attack", rationale="egress to a paste site", actor="ic")
    clock.advance(minutes=3)
    isolate = record.actions.intent(opened.id, "isolate", "voicehive/orchestrator", actor="ic")
    record.actions.outcome(isolate, "succeeded", "NetworkPolicy isolate-orchestrator created")
    block = record.actions.intent(opened.id, "block-ip", "203.0.113.9", actor="ic")
    record.actions.outcome(block, "failed", "forbidden: cannot create networkpolicies")
    clock.advance(minutes=5)
    return opened.id


def shown_text(screen: Any) -> str:
    """Every piece of text the Markdown widget shows, block by block."""
    parts = []
    for widget in screen.query_one("#report-markdown", Markdown).query(Static):
        content = widget.content
        parts.append(content.plain if hasattr(content, "plain") else str(content))
    return "\n".join(parts)


async def open_report(pilot: Pilot[Any]) -> ReportScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.press("w")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReportScreen)
    await settle(pilot)
    return screen


def on_top(app: App[Any]) -> Screen[Any]:
    """The screen on top now: a call, so no earlier isinstance check on `app.screen` sticks."""
    return app.screen


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def choose_section(pilot: Pilot[Any], name: str) -> None:
    options = pilot.app.screen.query_one("#report-sections", OptionList)
    options.focus()
    options.highlighted = options.get_option_index(name)
    await pilot.press("enter")
    await pilot.pause()


async def test_w_opens_the_incidents_report(make_app: AppFactory, incident: str) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_report(pilot)
        text = shown_text(screen)
        assert "Network Security Incident Report" in text
        assert incident in text
        assert "curl to 203.0.113.9 seen" in text
        assert "NetworkPolicy isolate-orchestrator created" in text
        assert "forbidden: cannot create networkpolicies" in text
        clocks = screen.query_one("#due-executive-summary", Static)
        assert "executive summary due in 23h 50m" in str(clocks.content)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WarRoomScreen)


async def test_the_contents_list_the_reports_headings_once_it_is_read(
    make_app: AppFactory, incident: str
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_report(pilot)
        contents = screen.query_one("#report-contents", MarkdownTableOfContents)
        tree = contents.query_one(Tree)
        await until(pilot, lambda: tree.root.children, "the headings")
        headings = [str(node.label) for node in tree.root.children]
        assert contents.display
        assert tree.region.height > 0  # drawn, not only filled
    assert "Network Security Incident Report" in headings[0]


async def test_w_needs_an_incident(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WarRoomScreen)


async def test_editing_sections_saves_through_the_record_and_asks_before_dropping(
    make_app: AppFactory, record: Record, incident: str
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_report(pilot)
        # Keyboard only: tab from the document reaches the sections list.
        await pilot.press("tab")
        assert app.screen.focused is screen.query_one("#report-sections", OptionList)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SectionEditor)
        assert app.screen.heading == "Summary"
        await pilot.press(*"Egress blocked")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert on_top(app) is screen
        assert "Egress blocked" in shown_text(screen)
        option = screen.query_one("#report-sections", OptionList).get_option("summary")
        assert str(option.prompt).startswith("\N{BLACK CIRCLE}")
        # The editor opens on what was saved; unchanged text closes without asking.
        await choose_section(pilot, "summary")
        assert app.screen.query_one(TextArea).text == "Egress blocked"
        await pilot.press("escape")
        await pilot.pause()
        assert on_top(app) is screen
        # Changed text: escape asks; n keeps editing, y drops it.
        await choose_section(pilot, "root_cause")
        await pilot.press(*"typo")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, SectionEditor)
        assert app.screen.query_one(TextArea).text == "typo"
        # Too long: refused in the editor, the text kept.
        editor = app.screen
        editor.query_one(TextArea).text = "x" * 20_001
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)  # not settle: the screen's worker waits for the editor
        assert app.screen is editor
        assert "keep it under 20,000" in str(editor.query_one(".dialog-error", Static).content)
        assert len(editor.query_one(TextArea).text) == 20_001
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert on_top(app) is screen
        # Back on the war room, the timeline shows the section's entry.
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, WarRoomScreen)
        timeline = app.screen.query_one(TimelinePane).query_one(TimelineList)
        assert timeline.row_count == len(record.timeline.for_incident(incident))
    assert sections(record, incident) == {"summary": "Egress blocked"}
    (entry,) = record.timeline.for_incident(incident, kinds=(SECTION_KIND,))
    assert entry.actor == "ic@example.com"


async def save_to(pilot: Pilot[Any], path: Path, replace: str | None = None) -> None:
    await pilot.press("s")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, SavePathForm)
    form.query_one(Input).value = str(path)
    await pilot.press("enter")
    await pilot.pause()
    if replace is not None:
        assert isinstance(pilot.app.screen, AskScreen)
        await pilot.press(replace)
    await settle(pilot)


async def test_the_saved_file_is_what_warroom_report_writes(
    make_app: AppFactory, record: Record, incident: str, tmp_path: Path
) -> None:
    set_section(record, incident, "summary", "Shell, then egress", "ic")
    expected = render_report(record, incident).encode()
    target = tmp_path / "report.md"
    app = make_app()
    toasts: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await open_report(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.query_one(Input).value == f"incident-{incident}.md"
        # A missing folder is refused in the form.
        app.screen.query_one(Input).value = str(tmp_path / "no-such-folder" / "r.md")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SavePathForm)
        assert "no folder" in str(app.screen.query_one(".dialog-error", Static).content)
        await pilot.press("escape")
        await settle(pilot)
        # An existing file is replaced only when y says so.
        target.write_text("keep me")
        await save_to(pilot, target, replace="n")
        assert target.read_text() == "keep me"
        await save_to(pilot, target, replace="y")
        digest = hashlib.sha256(expected).hexdigest()
        # The file is written off the event loop; its toast follows the write.
        await until(pilot, lambda: any(digest in str(n.message) for n in app._notifications),
                    "the saved report's toast")
        toasts = [n.message for n in app._notifications]
    assert target.read_bytes() == expected
    (toast,) = [toast for toast in toasts if digest in toast and str(target) in toast]
    # Three lines as written, not one with the line breaks shown as unsafe characters.
    assert toast.splitlines()[1:] == [
        f"sha256 {digest}", "recorded in the timeline; saving does not mark it sent: m does"]
    (saved,) = record.timeline.for_incident(incident, kinds=(SAVED_KIND,))
    assert saved.data["sha256"] == digest
    assert saved.data["item"] == DETAILED_REPORT
    # Writing the file is not sending it: no clock stops.
    assert record.timeline.for_incident(incident, kinds=(ISSUED_KIND,)) == []


async def test_executive_toggle_save_and_mark_sent(
    make_app: AppFactory, record: Record, incident: str, tmp_path: Path, clock: FrozenClock
) -> None:
    expected = render_executive(record, incident).encode()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_report(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert "Network Security Incident Executive Summary" in shown_text(screen)
        assert "Appendix" not in shown_text(screen)
        assert "Executive summary" in str(screen.query_one("#report-title", Static).content)
        await save_to(pilot, tmp_path / "exec.md")
        line = screen.query_one("#due-executive-summary", Static)
        assert not line.has_class("-met")  # saved is not sent
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MarkIssuedForm)
        await pilot.press("tab", *"CISO")
        await pilot.press("ctrl+s")
        await settle(pilot)
        line = screen.query_one("#due-executive-summary", Static)
        assert "executive summary done" in str(line.content)
        assert line.has_class("-met")
        await pilot.press("e")
        await settle(pilot)
        assert "Appendix: Full Timeline" in shown_text(screen)
    assert (tmp_path / "exec.md").read_bytes() == expected
    (saved,) = record.timeline.for_incident(incident, kinds=(SAVED_KIND,))
    assert saved.data["item"] == EXECUTIVE_SUMMARY
    (issued,) = record.timeline.for_incident(incident, kinds=(ISSUED_KIND,))
    assert issued.data["sha256"] == hashlib.sha256(expected).hexdigest()
    assert "CISO" in issued.summary
    assert issued.actor == "ic@example.com"
    incident_row = record.incidents.get_required(incident)
    done = {d.kind: d.done for d in due_for(record, incident_row, clock.now)}
    assert done == {EXECUTIVE_SUMMARY: True, DETAILED_REPORT: False}


async def test_review_mode_renders_and_saves_but_writes_nothing(
    make_app: AppFactory, record: Record, incident: str, tmp_path: Path
) -> None:
    before = record.head()
    app = make_app(mode="review")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_report(pilot)
        assert "curl to 203.0.113.9 seen" in shown_text(screen)
        await choose_section(pilot, "summary")
        assert app.screen is screen
        await pilot.press("m")
        await pilot.pause()
        assert app.screen is screen
        messages = [n.message for n in app._notifications]
        assert sum("review mode" in m for m in messages) == 2, messages
        await save_to(pilot, tmp_path / "review.md")
    assert (tmp_path / "review.md").read_bytes() == render_report(record, incident).encode()
    assert record.head() == before


async def test_hostile_text_is_shown_literally(
    make_app: AppFactory, record: Record, clock: FrozenClock
) -> None:
    plain = record.incidents.open("Plain", severity="P1")
    expected_headings = [
        line.lstrip("# ") for line in render_report(record, plain.id).splitlines()
        if line.startswith("#")
    ]  # fmt: skip
    hostile = record.incidents.open("Hostile " + " ".join(HOSTILE), severity="P1")
    for bad in (*HOSTILE, *MARKDOWN_BREAKERS):
        record.timeline.add(hostile.id, "note", f"seen {bad} end", actor=f"ic {bad}")
    for bad in MARKDOWN_BREAKERS:
        record.timeline.add(hostile.id, "note", bad, actor="ic")
    set_section(record, hostile.id, "summary", "\n".join(MARKDOWN_BREAKERS), "ic")
    set_section(record, hostile.id, "what_worked", "| x | y |\n|---|---|\n| 1 | 2 |", "ic")
    app = make_app(incident_id=hostile.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_report(pilot)
        text = shown_text(screen)
        markdown = screen.query_one("#report-markdown", Markdown)
        headings = [name for _level, name, _id in markdown.table_of_contents]
        tables = len(markdown.query("MarkdownTable"))
        title = str(screen.query_one("#report-title", Static).content)
        link_styles = "".join(
            str(span.style)
            for block in screen.query(Static)
            if hasattr(block.content, "spans")
            for span in block.content.spans
        )
    for bad in MARKDOWN_BREAKERS:
        assert f"seen {bad} end" in text
    assert "| x | y |" in text
    for bad in ("[/oops]", "[red]x"):
        assert f"seen {bad} end" in text
    assert "\x1b" not in text + title
    assert "\x9b" not in text + title
    assert "seen \u241b]52;c;aGVsbG8=\u2407 end" in text  # ␛ and ␇ shown, not sent
    # No note became a heading, a table or a link: the structure is the report's own.
    assert headings == expected_headings
    assert tables == 1  # the appendix: neither incident has alerts or evidence
    assert "javascript" not in link_styles
