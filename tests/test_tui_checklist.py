"""The checklist key: open, tick, untick, switch phase, verify on the drill cluster, review mode.

Real parts: a record file, the drill cluster over HTTP through the official
client, the console driven by Pilot.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Label, OptionList, Static

from actions.config import PolicySettings, Settings
from actions.drill.server import DrillServerThread
from actions.kube.cluster import Cluster
from store import Record
from tests.plugins.tui import HOSTILE, AppFactory, until
from tests.test_checklists_cluster import crashing_pod, desired_file
from tui.app import WarRoomApp
from tui.dialogs.checklist import ChecklistScreen, item_detail
from tui.dialogs.replay_form import GoToForm
from tui.replay import ReplayClock
from tui.safe import MARKER
from tui.screens.war_room import WarRoomScreen
from tui.services import Services
from tui.widgets.tab_row import TabRow


async def open_checklist(pilot: Pilot[Any]) -> ChecklistScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, WarRoomScreen) and app.screen.incident
                is not None, "the incident loading")  # fmt: skip
    await pilot.press("k")
    await until(pilot, lambda: isinstance(app.screen, ChecklistScreen), "the checklist opening")
    screen = app.screen
    assert isinstance(screen, ChecklistScreen)
    await settled(pilot)
    return screen


async def settled(pilot: Pilot[Any]) -> None:
    """Wait until no checklist worker (load, write, verify) is running."""

    def idle() -> bool:
        return not [
            w for w in pilot.app.workers
            if (w.group or "").startswith("checklist") and not w.is_finished
        ]  # fmt: skip

    await until(pilot, idle, "the checklist's work")
    await pilot.pause(0.05)


def shown_items(screen: ChecklistScreen) -> list[str]:
    options = screen.query_one("#checklist-items", OptionList).options
    return [o.id for o in options if o.id and not o.disabled]


def detail(screen: ChecklistScreen) -> str:
    return str(screen.query_one("#checklist-detail", Static).visual)


async def test_k_opens_the_current_phase_and_ticks_are_recorded_with_who_and_when(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    record.incidents.update(incident.id, phase="containment")
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_checklist(pilot)
        assert screen.query_one("#checklist-phases", TabRow).active == "phase-containment"
        assert shown_items(screen)[:2] == ["isolate", "block-ip"]
        await pilot.press("down", "space")
        await settled(pilot)
        tick = record.checklist.state(incident.id)[("containment", "Block Suspicious External IPs")]
        assert (tick.checked, tick.actor, tick.at) == (True, "ic@example.com", clock())
        assert "Ticked by ic@example.com at 2026-03-14 09:00:00 UTC" in detail(screen)
        assert "1 of 5 ticked" in str(screen.query_one("#checklist-summary", Static).visual)
        clock.advance(minutes=1)
        await pilot.press("enter")  # enter unticks it again
        await settled(pilot)
        untick = record.checklist.state(incident.id)[
            ("containment", "Block Suspicious External IPs")
        ]
        assert (untick.checked, untick.at) == (False, clock())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "closing")
    entries = [e.summary for e in record.timeline.for_incident(incident.id)
               if e.kind == "checklist"]  # fmt: skip
    assert entries == [
        "Checklist (containment) ticked: Block Suspicious External IPs",
        "Checklist (containment) unticked: Block Suspicious External IPs",
    ]


async def test_quick_presses_alternate_and_every_one_is_recorded(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("x", severity="P2", drill=True)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_checklist(pilot)
        await pilot.press("space", "space", "space")
        await settled(pilot)
    ticks = [
        row["checked"]
        for row in record.query("SELECT checked FROM checklist WHERE incident_id = ? ORDER BY id",
                                (incident.id,))
    ]  # fmt: skip
    assert ticks == [1, 0, 1]


async def test_left_right_and_the_tabs_show_other_phases(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("x", severity="P2", drill=True)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_checklist(pilot)
        assert shown_items(screen)[0] == "review-events"
        await pilot.press("left")  # already the first phase
        assert screen.phase == "detection"
        await pilot.press("right", "right", "right")
        await pilot.pause(0.05)
        assert screen.phase == "recovery"
        assert shown_items(screen) == [
            "restore", "verify-recovery", "monitor-anomalies",
            "services-healthy", "mtls-enforced", "policies-applied",
            "no-suspicious-activity", "alerting-working",
        ]  # fmt: skip
        phases = screen.query_one("#checklist-phases", TabRow)
        await pilot.click(phases, offset=(phases.offset_of("phase-lessons-learned"), 0))
        await pilot.pause(0.05)
        assert screen.phase == "lessons-learned"
        await pilot.press("down", "space")
        await settled(pilot)
    tick = record.checklist.state(incident.id)[
        ("lessons-learned", "Enhance monitoring and alerting rules")
    ]
    assert tick.checked


async def test_verify_shows_the_drill_clusters_answer_and_ticks_what_it_verified(
    record: Record, clock: Any, cluster: Cluster, drill_server: DrillServerThread,
    tmp_path: Path,
) -> None:  # fmt: skip
    incident = record.incidents.open("Recovery check", severity="P1", drill=True)
    record.incidents.update(incident.id, phase="recovery")
    settings = Settings(
        policies=PolicySettings(desired_state_file=desired_file(tmp_path, drill_server))
    )
    services = Services(record, mode="drill", actor="ic@example.com", cluster=cluster,
                        incident_id=incident.id, context="warroom-drill")  # fmt: skip
    app = WarRoomApp(services, settings, clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_checklist(pilot)
        await pilot.press("down", "down", "down")  # the first validation step
        await pilot.press("v")
        await settled(pilot)
        states = {item: verdict.state for item, verdict in screen.checks.items()}
        assert states == {
            "verify-recovery": "verified",
            "monitor-anomalies": "unknown",
            "services-healthy": "verified",
            "mtls-enforced": "not-verified",
            "policies-applied": "verified",
            "no-suspicious-activity": "unknown",
            "alerting-working": "unknown",
        }
        assert "Checked at 09:00:00 UTC: ✓ verified" in detail(screen)
        assert "2 of 2 pods Ready in voicehive" in detail(screen)
        assert "Ticked by warroom at 2026-03-14 09:00:00 UTC" in detail(screen)
        verified_ticks = record.checklist.state(incident.id)
        assert {item for _phase, item in verified_ticks} == {
            "Verify Service Health",
            "All services are healthy and responding",
            "Network policies are correctly applied and enforced",
        }
        assert {t.actor for t in verified_ticks.values()} == {"warroom"}
        drill_server.state.create(crashing_pod("api-7d9f-x2"))
        clock.advance(seconds=30)
        await pilot.press("v")
        await settled(pilot)
        assert screen.checks["services-healthy"].state == "not-verified"
        assert "api-7d9f-x2 (CrashLoopBackOff)" in detail(screen)
        await pilot.press("space")  # the commander unticks; the failed check never does
        await settled(pilot)
    tick = record.checklist.state(incident.id)[
        ("recovery", "All services are healthy and responding")
    ]
    assert (tick.checked, tick.actor, tick.verified) == (False, "ic@example.com", "not-verified")
    assert tick.note is not None
    assert "checked 2026-03-14 09:00:30 UTC: not verified: 1 of 3 pods not Ready" in tick.note
    entries = [e for e in record.timeline.for_incident(incident.id) if e.kind == "checklist"]
    assert [e.actor for e in entries] == ["warroom"] * 3 + ["ic@example.com"]
    assert entries[-1].data["verified"] == "not-verified"


async def test_an_action_in_the_record_ticks_its_item_when_the_checklist_opens(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    record.incidents.update(incident.id, phase="containment")
    action_id = record.actions.intent(incident.id, "isolate", "orchestrator", actor="cli")
    record.actions.outcome(action_id, "succeeded", "created NetworkPolicy emergency-isolation-1")
    outcome = record.actions.for_incident(incident.id)[-1]
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_checklist(pilot)
        assert screen.is_checked(screen.checklist.item("isolate"))
        prompt = str(screen.query_one("#checklist-items", OptionList).get_option("isolate").prompt)
        assert f"ticked by warroom from action #{outcome.id} 09:00:00" in prompt
        assert (
            f"Recorded with it: ticked by warroom from action #{outcome.id}: isolate "
            "orchestrator succeeded" in detail(screen)
        )
    tick = record.checklist.state(incident.id)[("containment", "Isolate Affected Services")]
    assert (tick.checked, tick.actor) == (True, "warroom")


async def test_review_mode_does_not_tick_from_the_record(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    action_id = record.actions.intent(incident.id, "isolate", "orchestrator", actor="cli")
    record.actions.outcome(action_id, "succeeded", "isolated")
    app = make_app(mode="review", incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_checklist(pilot)
    assert record.checklist.state(incident.id) == {}


async def test_review_mode_shows_the_recorded_ticks_and_refuses_changes(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open(f"Shell {HOSTILE[1]}", severity="P1", drill=True)
    record.checklist.tick(
        incident.id,
        "detection",
        "Check alert details in monitoring dashboard",
        actor=f"alice {HOSTILE[0]}",
        note=f"seen {HOSTILE[2]} {HOSTILE[3]}",
    )
    app = make_app(mode="review", incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_checklist(pilot)
        shown = detail(screen)
        assert f"Ticked by alice {HOSTILE[0]} at" in shown
        assert f"seen {MARKER}]52;c;aGVsbG8={MARKER} {MARKER}2J" in shown
        assert "[red]x" in str(screen.query_one("#checklist-title", Static).visual)
        await pilot.press("space", "v")
        await settled(pilot)
        notices = [n.message for n in app._notifications]
        assert any(n.startswith("Not ticked: review mode") for n in notices)
        assert any(n.startswith("Not checked: review mode") for n in notices)
        assert screen.checks == {}
    assert len(record.checklist.state(incident.id)) == 1
    assert record.query("SELECT count(*) FROM checklist")[0][0] == 1


def ticked_ids(screen: ChecklistScreen) -> set[str]:
    return {item.id for item in screen.checklist.items if screen.is_checked(item)}


async def test_a_replay_shows_the_checklist_as_it_stood_at_its_moment(
    make_app: AppFactory, record: Record, clock: Any
) -> None:
    """In review, `g +2m` then `k` showed items ticked after the moment (at 21:48:24 when
    the moment was 21:47:33) as ticked: the header and timeline kept to the moment, the
    checklist did not."""
    incident = record.incidents.open("Beaconing from payment", severity="P1")
    opened = incident.opened_at
    clock.advance(minutes=1)
    record.checklist.tick(incident.id, "detection", "Review Falco alerts", actor="alice")
    record.checklist.tick(incident.id, "detection", "review-events", actor="alice")
    clock.advance(minutes=4)
    record.checklist.tick(incident.id, "detection", "Review Falco alerts", checked=False,
                          actor="bob")  # fmt: skip
    record.checklist.tick(incident.id, "detection", "Check service mesh status", actor="bob")
    clock.advance(minutes=10)
    app = make_app(mode="review", incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen) and app.screen.incident
                    is not None, "the incident loading")  # fmt: skip
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, GoToForm), "the go-to form")
        app.screen.query_one("#goto-time", Input).value = "+2m"
        await pilot.press("enter")
        await until(pilot, lambda: app.clock() == opened + timedelta(minutes=2), "the moment")
        screen = await open_checklist(pilot)
        assert ticked_ids(screen) == {"review-falco", "review-events"}  # as at +2m
        assert "Not ticked." in detail_of(screen, "check-mesh")  # ticked at +5m
        summary = str(screen.query_one("#checklist-summary", Label).render())
        assert f"2 of {len(screen.checklist.items)} ticked as of " in summary
        assert f"{opened + timedelta(minutes=2):%H:%M:%S} UTC" in summary
        await pilot.press("escape")
        await pilot.press("G")  # the end: every tick, as recorded
        await until(pilot, lambda: isinstance(app.clock, ReplayClock) and app.clock.at_end,
                    "the end of the recording")  # fmt: skip
        screen = await open_checklist(pilot)
        assert ticked_ids(screen) == {"review-events", "check-mesh"}
        assert " as of " not in str(screen.query_one("#checklist-summary", Label).render())


def detail_of(screen: ChecklistScreen, item_id: str) -> str:
    item = screen.checklist.item(item_id)
    assert item is not None
    return str(item_detail(item, screen.tick_of(item), None, False))


async def test_k_without_an_incident_says_why(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("k")
        # The key's answer: once it shows, no checklist can follow.
        await until(pilot, lambda: any("no incident on screen" in n.message
                                       for n in app._notifications), "the key's answer")
        assert isinstance(app.screen, WarRoomScreen)


async def test_k_types_into_the_alert_filter_instead_of_opening(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("x", severity="P2", drill=True)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen)
                    and app.screen.incident is not None, "the incident loading")  # fmt: skip
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.focused, Input), "the filter field's focus")
        await pilot.press("k", "8", "s")
        field = app.screen.query_one("#alert-filter", Input)
        await until(pilot, lambda: field.value == "k8s" or not isinstance(app.screen,
                    WarRoomScreen), "the typing")  # fmt: skip
        assert isinstance(app.screen, WarRoomScreen)
        assert app.screen.query_one("#alert-filter", Input).value == "k8s"


async def test_a_tick_by_another_writer_shows_up(make_app: AppFactory, record: Record) -> None:
    incident = record.incidents.open("x", severity="P2", drill=True)
    app = make_app(incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_checklist(pilot)
        assert "Not ticked." in detail(screen)
        record.checklist.tick(incident.id, "detection", "review-events", actor="bob")
        await until(pilot, lambda: "Ticked by bob" in detail(screen), "the poll")
