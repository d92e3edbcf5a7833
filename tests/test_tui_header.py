"""The header at 80, 120, 160 and 200 columns: what always stays, what gives way, no overlap."""

from __future__ import annotations

from datetime import timedelta
from itertools import combinations
from typing import Any

import pytest
from textual.widgets import Label

from store import Record
from tests.plugins.tui import HOSTILE, AppFactory
from tui.safe import MARKER
from tui.views.clocks import BREACHED, LATE, MET, WARNING, ClockState, clock_states
from tui.widgets.header import (
    ELLIPSIS,
    HeaderParts,
    WarRoomHeader,
    elide,
    fit_header,
    health_content,
)

LONG_CONTEXT = "arn:aws:eks:eu-west-1:123456789012:cluster/voicehive-prod"
SOURCES = {"falco": "connected", "events": "retrying", "policies": "forbidden",
           "mesh": "absent", "traffic": "connected", "dns": "connected", "hubble": "absent"}
SIZES = [(80, 24), (120, 40), (160, 48), (200, 50)]
CLOCKS_AT_4_20 = tuple(
    ClockState(key, label, timedelta(minutes=4, seconds=20), target, state)
    for key, label, target, state in (("mttd", "ack", timedelta(minutes=5), WARNING),
                                      ("mttc", "contain", timedelta(minutes=15), "ok"),
                                      ("mttr", "recover", timedelta(hours=2), "ok")))



@pytest.fixture
def incident(record: Record, clock: Any) -> str:
    opened = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    clock.advance(minutes=4, seconds=20)
    return opened.id


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_header_keeps_badge_incident_phase_and_clocks_without_overlap(
    make_app: AppFactory, incident: str, size: tuple[int, int]
) -> None:
    app = make_app(context=LONG_CONTEXT)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        header = app.screen.query_one(WarRoomHeader)
        header.set_health(SOURCES)
        await pilot.pause()
        shown = [label for label in header.query(Label) if label.display]
        texts = {label.id: str(label.render()) for label in shown}
        width = size[0]
        for label in shown:
            assert label.region.right <= width, f"{label.id} runs off the screen"
        for one, other in combinations(shown, 2):
            assert not one.region.overlaps(other.region), f"{one.id} overlaps {other.id}"
        assert texts["mode-badge"].strip() == "DRILL"
        assert texts["incident"] == f"{incident} P1"
        assert texts["phase"] in ("Detection & Analysis", "Detect")
        assert texts["since"] == "T+4:20"
        clocks = [texts[f"clock-{key}"] for key in ("mttd", "mttc", "mttr")]
        assert [clock.split(" ")[-1] for clock in clocks] == ["4:20/5m", "4:20/15m", "4:20/2h"]
        # The context gives way before the namespace, and every source stays readable.
        assert texts["where"].endswith("voicehive")
        for name in SOURCES:
            if width >= 160:
                assert name in texts["health"]
        if width >= 200:
            assert header.fit is not None
            assert header.fit.rows == 1
            assert texts["phase"] == "Detection & Analysis"


def test_fit_gives_way_in_order_title_health_context_namespace() -> None:
    parts = HeaderParts(mode="live", context=LONG_CONTEXT, namespace="voicehive",
                        incident_id="NSI-2026-03-14-001", severity="P0", title="x",
                        phase="containment", since="T+4:20", clocks=CLOCKS_AT_4_20,
                        health=tuple(sorted(SOURCES.items())))
    wide = fit_header(parts, 400)
    assert (wide.rows, wide.where, wide.health.plain.count(" ")) == (
        1, f"{LONG_CONTEXT}/voicehive", 13)  # name, mark and state for all seven
    full = f"{LONG_CONTEXT}/voicehive"
    for width in range(200, 67, -1):  # 68: the least the must-stay parts take
        fit = fit_header(parts, width)
        assert fit.main_width() <= width
        assert fit.side_width() <= width
        if fit.rows == 1:
            assert fit.main_width() + fit.side_width() <= width
        assert fit.badge == " LIVE "
        assert fit.incident == "NSI-2026-03-14-001 P0"
        assert fit.phase in ("Containment", "Contain")
        assert [clock.split(" ")[-1] for clock in fit.clocks] == [
            "4:20/5m", "4:20/15m", "4:20/2h"]
        # The context is elided, then dropped; the namespace stays whole.
        assert fit.where in (full, "voicehive") or (
            ELLIPSIS in fit.where and fit.where.endswith("/voicehive"))
    narrow = fit_header(parts, 80)
    assert narrow.rows == 2
    assert narrow.clocks[0].startswith("D ")  # MTTD 4:20/5m shortened to D
    # Every source still named, with its coloured mark.
    assert all(name in narrow.health.plain for name in SOURCES) or (
        "\N{BLACK CIRCLE}3" in narrow.health.plain)


def test_health_is_coloured_by_state() -> None:
    content = health_content([("events", "retrying"), ("falco", "connected"),
                              ("policies", "forbidden")], "full")
    assert content.plain == "events \N{CIRCLE WITH UPPER RIGHT QUADRANT BLACK}retrying " \
        "falco \N{BLACK CIRCLE}connected policies \N{BLACK SQUARE}forbidden"
    styles = {content.plain[span.start:span.end].split(" ")[0]: span.style
              for span in content.spans}
    assert styles == {"events": "$text-warning bold", "falco": "$text-success",
                      "policies": "$text-error bold"}
    summary = health_content([("dns", "connected"), ("falco", "connected"),
                              ("mesh", "absent")], "summary")
    assert summary.plain == "\N{BLACK CIRCLE}2 mesh\N{WHITE CIRCLE}"


def test_elide_keeps_both_ends() -> None:
    assert elide(LONG_CONTEXT, 20) == f"arn:aws:ek{ELLIPSIS}hive-prod"
    assert len(elide(LONG_CONTEXT, 20)) == 20
    assert elide("short", 20) == "short"


def test_clock_targets_are_strict_as_the_runbook_writes_them(record: Record, clock: Any) -> None:
    incident = record.incidents.open("x", severity="P2")
    start = clock.now
    at_target = {s.key: s.state for s in clock_states(incident, start + timedelta(minutes=5))}
    assert at_target["mttd"] == BREACHED  # "MTTD < 5 min": at 5:00 it is missed
    assert {s.key: s.state for s in clock_states(
        incident, start + timedelta(minutes=4))}["mttd"] == WARNING
    clock.advance(minutes=5)
    acked = record.incidents.acknowledge(incident.id)
    assert {s.key: s.state for s in clock_states(acked, clock.now)}["mttd"] == LATE
    clock.advance(minutes=-1)
    early = record.incidents.open("y", severity="P2")
    clock.advance(minutes=4, seconds=59)
    on_time = record.incidents.acknowledge(early.id)
    states = clock_states(on_time, clock.now)
    assert states[0].state == MET
    assert states[0].text() == "MTTD 4:59/5m \N{CHECK MARK}"
    assert states[0].text(short=True) == "D 4:59/5m\N{CHECK MARK}"


async def test_hostile_context_and_source_names_are_literal(make_app: AppFactory) -> None:
    app = make_app(context=f"ctx-{HOSTILE[0]}{HOSTILE[2]}", namespace=f"ns-{HOSTILE[1]}")
    async with app.run_test(size=(200, 50)) as pilot:
        await app.workers.wait_for_complete()
        header = app.screen.query_one(WarRoomHeader)
        header.set_health({f"src-{HOSTILE[1]}": "connected", f"x{HOSTILE[3]}": "retrying"})
        await pilot.pause()
        where = str(header.query_one("#where").render())
        health = str(header.query_one("#health").render())
        assert where == f"ctx-[/oops]{MARKER}]52;c;aGVsbG8={MARKER}/ns-[red]x"
        assert f"src-[red]x {chr(0x25CF)}connected" in health
        assert f"x{MARKER}" in health
        assert "\x9b" not in health


async def test_a_review_shows_where_the_incident_was_recorded_not_sources_none(
    make_app: AppFactory, record: Record
) -> None:
    """A review connects to nothing: its header said "sources: none no context/voicehive"."""
    recorded = record.incidents.open("Shell in orchestrator", severity="P1",
                                     cluster_context="prod-eu", namespace="payments")
    app = make_app(mode="review", incident_id=recorded.id, context=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        header = app.screen.query_one(WarRoomHeader)
        await pilot.pause()
        shown = " ".join(str(label.render()) for label in header.query(Label) if label.display)
    assert "prod-eu/payments" in shown
    assert "recorded" in shown
    assert "sources: none" not in shown


async def test_a_health_report_while_the_console_closes_is_dropped(make_app: AppFactory) -> None:
    """A source's last health report arrived as the console closed, after the header's
    labels were gone: its NoMatches was recorded on the timeline as the source's failure."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        header = app.screen.query_one(WarRoomHeader)
        await header.query_one("#health", Label).remove()
        header.set_health({"hubble": "stopped"})  # raised NoMatches
        await pilot.pause()
        assert header.health == {"hubble": "stopped"}
