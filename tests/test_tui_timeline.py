"""The war room's timeline over a long incident: the end shown, the start reachable, polls cheap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App

from store import Record
from tests.plugins.record import FrozenClock
from tests.plugins.tui import HOSTILE, AppFactory, until
from tui.widgets.timeline_pane import TimelineList, TimelinePane

ENTRIES = 10_000


def fill(record: Record, incident_id: str, count: int) -> None:
    """`count` notes for the incident, in one write (the record chains them all)."""
    with record.write() as txn:
        for n in range(count):
            record.timeline.add_in(txn, incident_id, "note", f"entry {n}", actor=f"ic-{n % 7}")


def table_of(app: App[Any]) -> TimelineList:
    return app.screen.query_one(TimelinePane).query_one(TimelineList)


def summaries(table: TimelineList) -> list[str]:
    return [str(table.get_row_at(i)[3]) for i in range(table.row_count)]



def test_for_incident_after_reads_only_newer_entries(record: Record) -> None:
    first = record.incidents.open("Shell in payment", severity="P2")
    other = record.incidents.open("Scan from tts-router", severity="P3")
    record.timeline.add(first.id, "note", "before")
    mark = record.timeline.for_incident(first.id)[-1].seq
    record.timeline.add(other.id, "note", "someone else's")
    record.timeline.add(first.id, "note", "after 1")
    record.timeline.add(first.id, "note", "after 2")
    newer = record.timeline.for_incident(first.id, after=mark)
    assert [entry.summary for entry in newer] == ["after 1", "after 2"]
    assert record.timeline.for_incident(first.id, after=newer[-1].seq) == []
    assert record.timeline.for_incident(first.id, after=0) == record.timeline.for_incident(first.id)


async def test_ten_thousand_entries_show_the_end_and_scroll_to_the_first(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Exfiltration from payment", severity="P1")
    fill(record, incident.id, ENTRIES)
    total = record.timeline.count(incident.id)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("4")
        await pilot.pause()
        table = table_of(app)
        # The first read can be overtaken by a poll on a loaded machine: wait for the rows.
        await until(pilot, lambda: table.row_count == total, "every entry")
        await pilot.pause()
        assert table.cursor_row == total - 1
        assert str(table.get_row_at(table.cursor_row)[3]) == f"entry {ENTRIES - 1}"
        assert table.scroll_y == table.max_scroll_y  # the newest entries are what is on screen
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert table.scroll_y == 0
        assert table.cursor_row == 0
        assert str(table.get_row_at(0)[1]) == "incident.opened"


async def test_entry_from_another_writer_appears_after_the_poll(
    make_app: AppFactory, record: Record, record_path: Path, clock: FrozenClock
) -> None:
    incident = record.incidents.open("Shell in payment", severity="P2")
    fill(record, incident.id, 50)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("4")
        table = table_of(app)
        shown = table.row_count
        with Record.open(record_path, clock=clock) as second_writer:
            second_writer.timeline.add(incident.id, "note", HOSTILE[0], actor="[b]ir[/b]")
        await until(pilot, lambda: table.row_count == shown + 1, "the other writer's entry")
        assert summaries(table)[-1] == record.timeline.for_incident(incident.id)[-1].summary
        assert str(table.get_row_at(shown)[2]) == "[b]ir[/b]"  # literal, never markup
        assert table.cursor_row == shown  # following the end

        # Scrolled up to read, the reader stays put while entries arrive below.
        await pilot.press("ctrl+home")
        with Record.open(record_path, clock=clock) as second_writer:
            second_writer.timeline.add(incident.id, "note", "later")
        await until(pilot, lambda: table.row_count == shown + 2, "the later entry")
        assert table.cursor_row == 0
        assert summaries(table)[-1] == "later"


async def test_an_entry_opens_in_full_zoomed_or_not(
    make_app: AppFactory, record: Record
) -> None:
    """A rationale and its data are longer than any timeline row: enter shows them whole."""
    incident = record.incidents.open("Exfiltration over DNS", severity="P1")
    summary = "Decision: active attack. " + "the tunnel carries guest data; " * 12 + "END-OF-TEXT"
    record.timeline.add(incident.id, "decision", summary + HOSTILE[0], actor="ic",
                        data={"rationale": "queries to t1.exfil.example " + HOSTILE[2],
                              "rule_to_tune": None, "manifest": "x" * 300 + "END-OF-DATA"})
    record.timeline.add(incident.id, "note", "a later note", actor="ic")
    for zoomed in (False, True):
        text = await read_entry(make_app(incident_id=incident.id), zoomed=zoomed)
        assert "END-OF-TEXT" in text  # the whole summary
        assert "END-OF-DATA" in text  # and the data
        assert "t1.exfil.example" in text
        assert "Kind:  decision" in text
        assert "Who:   ic" in text
        assert "\x1b" not in text  # literal: no escape reaches the screen
        assert HOSTILE[0] in text


async def read_entry(app: Any, *, zoomed: bool) -> str:
    """Open the next-to-last timeline entry with enter; the text its dialog shows."""
    from tui.dialogs.timeline_entry import TimelineEntryScreen

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table_of(app).row_count >= 3, "the entries")
        await pilot.press("4")
        if zoomed:
            await pilot.press("z")
        await pilot.press("end", "up", "enter")
        await until(pilot, lambda: isinstance(app.screen, TimelineEntryScreen), "the entry")
        text = str(app.screen.query_one("#timeline-entry-text").render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TimelineEntryScreen), "closed")
    return text


async def test_what_happened_keeps_half_the_pane_beside_long_kinds_and_actors(
    make_app: AppFactory, record: Record
) -> None:
    """At 160x48 the pane is a third of the screen: long kinds and actors are cut, not the
    words of what happened (they used to push it out of sight)."""
    incident = record.incidents.open("Beacon from tts-router", severity="P1")
    record.timeline.add(incident.id, "incident.proposal-accepted", "Proposal accepted: beacon "
                        "from tts-router to 203.0.113.66", actor="cluster: network-policy-"
                        "audit-controller/voicehive")  # fmt: skip
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        table = table_of(app)
        await until(pilot, lambda: table.row_count == 2, "the entries")
        width = table.scrollable_content_region.width
        assert width < 80  # a side pane, not zoomed
        shown = "".join(segment.text for segment in table.render_line(2))
        assert "Proposal accepted: beacon from" in shown
        header = "".join(segment.text for segment in table.render_line(0))
        assert header.index("what") <= width // 2
