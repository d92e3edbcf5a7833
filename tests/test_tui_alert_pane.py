"""The Falco pane: one row shape for every feed, hostile text shown literally, bounded window."""

from __future__ import annotations

from typing import Any

from actions.falco.classify import Classifier
from store import Record
from tests.plugins.tui import HOSTILE, AppFactory, alert_line, hostile_alerts, parsed
from tui.screens.war_room import WarRoomScreen
from tui.views.alert_buffer import AlertBuffer, AlertFilter
from tui.views.alert_rows import AlertRow, rank_and_rule
from tui.widgets.alert_list import AlertList
from tui.widgets.alert_pane import AlertPane


def _record_alerts(record: Record, count: int) -> None:
    """Record `count` alerts the way ingest does: parsed, classified, one batch."""
    from actions.falco.ingest import alert_row  # the ingest's own mapping from parsed to stored

    classifier = Classifier.load()
    rows = []
    for i in range(count):
        alert = parsed(alert_line(i, priority="Critical" if i % 2 else "Notice"))
        rows.append(alert_row(alert, classifier.classify(alert), incident_id=None,
                              origin="test", received_at=record.now()))
    record.alerts.add_batch(rows)


def test_rows_from_the_record_and_from_parsed_lines_agree(record: Record) -> None:
    classifier = Classifier.load()
    alert = parsed(alert_line(7, priority="Critical", pod="tts-router-1"))
    from_parser = AlertRow.of(alert, lambda a: classifier.classify(a).severity)
    _record_alerts(record, 1)
    (stored,) = record.alerts.latest(limit=1)
    from_record = AlertRow.of(stored)
    assert from_parser.pod == "tts-router-1"
    assert from_parser.rule == from_record.rule == "Terminal shell in container"
    assert from_parser.severity in ("P0", "P1", "P2", "P3")
    assert from_parser.time == "09:00:07"
    assert from_parser.summary.startswith("a shell was spawned")


def test_hostile_text_becomes_visible_markers() -> None:
    for row in (AlertRow.of(alert, lambda _a: "P1") for alert in hostile_alerts()):
        for text in (row.rule, row.pod, row.output, row.summary, row.detail_text()):
            assert "\x1b" not in text
            assert "\x9b" not in text
            assert "\x07" not in text
    markup = AlertRow.of(hostile_alerts()[0], lambda _a: "P1")
    assert "[/oops]" in markup.rule  # kept literally, never interpreted


def test_window_is_bounded_and_the_filter_index_follows_it() -> None:
    buffer = AlertBuffer(capacity=100)
    rows = [AlertRow.of({"rule": f"r{i % 3}", "severity": f"P{i % 4}", "output": f"n{i}"})
            for i in range(250)]
    buffer.set_filter(AlertFilter(rule="r1"))
    buffer.extend(rows)
    assert len(buffer) == 100
    assert buffer.first_seq == 150
    assert all(seq >= 150 for seq in buffer.index)
    newest = buffer.visible(0)
    assert newest is not None
    assert newest[1].output == "n247"  # the newest r1 row comes first
    buffer.set_filter(AlertFilter(max_rank=0))
    assert {buffer.visible(i)[1].severity for i in range(buffer.visible_count)} == {"P0"}  # type: ignore[index]
    buffer.set_filter(AlertFilter(text="N249"))
    assert buffer.visible_count == 1


def test_severity_and_rule_filters_read_each_alerts_key_and_agree_with_its_row() -> None:
    classifier = Classifier.load()

    def severity_of(alert: Any) -> str:
        return str(classifier.classify(alert).severity)

    items: list[Any] = [
        parsed(alert_line(i, rule=("Outbound C2", "Terminal shell in container")[i % 2],
                          priority=("Critical", "Notice", "Warning")[i % 3]))
        for i in range(30)
    ]
    items += hostile_alerts()
    items += [{"rule": "r\x1b[2J", "severity": "P9", "output": "odd"}, {"output": "bare"}]
    items.append(AlertRow.of({"rule": "as a row", "severity": "P0"}))
    converted: list[Any] = []

    def convert(item: Any) -> AlertRow:
        converted.append(item)
        return AlertRow.of(item, severity_of)

    buffer = AlertBuffer(
        capacity=1000, convert=convert, key=lambda item: rank_and_rule(item, severity_of)
    )
    buffer.extend(items)
    rows = [AlertRow.of(item, severity_of) for item in items]
    for item, row in zip(items, rows, strict=True):
        assert rank_and_rule(item, severity_of) == (row.severity_rank, row.rule)
    filters = [AlertFilter(max_rank=rank) for rank in (0, 1, 2)]
    filters += [AlertFilter(rule=row.rule) for row in rows[:2] + rows[-3:]]
    filters.append(AlertFilter(max_rank=1, rule="Outbound C2"))
    for wanted in filters:
        converted.clear()
        buffer.set_filter(wanted)
        assert converted == []  # no row was built to decide
        assert list(buffer.index) == [seq for seq, row in enumerate(rows) if wanted.matches(row)]
        buffer.extend(items[:3])  # new alerts under the filter: still no row built
        rows += rows[:3]
        assert converted == []
        assert list(buffer.index) == [seq for seq, row in enumerate(rows) if wanted.matches(row)]
    buffer.set_filter(AlertFilter(text="payload"))
    assert buffer.visible_count == sum("payload" in row.output for row in rows) > 0


async def test_a_click_selects_the_row_under_the_pointer(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        app.push_alerts([parsed(alert_line(i, pod=f"orchestrator-{i}")) for i in range(10)])
        await pilot.pause(0.3)
        alert_list = app.screen.query_one(AlertList)
        await pilot.click(AlertList, offset=(20, 3))
        await pilot.pause()
        assert alert_list.cursor == 3
        assert alert_list.selected is not None
        assert alert_list.selected.pod == "orchestrator-6"  # newest (9) on top


async def test_pushed_alerts_appear_newest_first_and_hostile_text_is_drawn_literally(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        app.push_alerts([parsed(alert_line(i)) for i in range(5)] + hostile_alerts())
        await pilot.pause(0.3)
        alert_list = app.screen.query_one(AlertList)
        assert alert_list.buffer.visible_count == 5 + len(HOSTILE)
        assert alert_list.selected is not None
        assert alert_list.selected.rule == f"Rule {HOSTILE[-1]}".replace("\x9b", "\ufffd")
        drawn = [
            "".join(segment.text for segment in alert_list.render_line(y))
            for y in range(len(HOSTILE) + 5)
        ]
        assert any("Rule [/oops]" in line for line in drawn)
        assert any("[red]x" in line for line in drawn)
        assert not any("\x1b" in line or "\x9b" in line for line in drawn)
        await pilot.press("enter")  # detail of the selected (newest) alert
        await pilot.pause()
        pane = app.screen.query_one(AlertPane)
        detail = pane.query_one("#alert-detail")
        assert pane.has_class("-detail")
        assert detail.region.height > 0  # laid out on screen, not only flagged
        assert "payload" in str(detail.render())
        await pilot.press("enter")
        await pilot.pause()
        assert not pane.has_class("-detail")
        assert detail.region.height == 0


async def test_filters_by_severity_rule_and_text_from_the_keyboard(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        batch = [parsed(alert_line(i, rule="Terminal shell in container")) for i in range(4)]
        batch += [parsed(alert_line(10 + i, rule="Outbound C2", priority="Critical",
                                    text=f"beacon {i}")) for i in range(3)]
        app.push_alerts(batch)
        await pilot.pause(0.3)
        alert_list = app.screen.query_one(AlertList)
        await pilot.press("r")  # only the selected alert's rule (the newest: Outbound C2)
        assert alert_list.buffer.visible_count == 3
        await pilot.press("r", "slash", *"beacon 1", "enter")
        assert alert_list.buffer.visible_count == 1
        await pilot.press("escape")
        assert alert_list.buffer.visible_count == 7
        worst = min(alert_list.buffer.visible(i)[1].severity_rank  # type: ignore[index]
                    for i in range(7))
        for _ in range(1 + worst):
            await pilot.press("s")
        shown = alert_list.buffer.visible_count
        assert 0 < shown < 7


async def test_a_flood_keeps_a_bounded_window_and_counts_what_it_did_not_show(
    make_app: AppFactory, record: Record
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        pane = app.screen.query_one(AlertPane)
        capacity = pane.alert_list.buffer.capacity
        one = parsed(alert_line(1))
        pane.push_alerts([one] * (capacity + 1234))
        await pilot.pause(0.3)
        assert len(pane.alert_list.buffer) == capacity
        assert pane.alert_list.not_shown == 1234
        pane.refresh_counters()
        status = str(pane.query_one("#alert-status").render())
        assert "+1,234 not shown, all recorded" in status


async def test_fed_from_the_record(make_app: AppFactory, record: Record) -> None:
    _record_alerts(record, 20)
    app = make_app()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        latest = record.alerts.latest(limit=10)
        app.push_alerts(reversed(latest))  # latest() is newest first; the pane wants oldest first
        await pilot.pause(0.3)
        await pilot.pause()
        assert app.screen.query_one(AlertList).buffer.visible_count == 10
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        assert screen.selected_alert is not None
        assert screen.selected_alert.time_ns == latest[0].time_ns
