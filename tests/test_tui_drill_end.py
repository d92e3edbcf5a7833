"""The drill ends while a dialog is open: the dialog is closed and says so, the score shows
over the war room, and the keys work on (a tester's console locked in the score window)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from actions.drill.scenario import Scenario
from store import Record
from tests.journeys.commander import drill_console
from tests.plugins.tui import AppFactory, until
from tests.test_tui_drill import run_drill, short_scenario  # noqa: F401  (fixtures)
from tui.cli.console import DrillInBackground
from tui.dialogs.close_incident import CloseIncidentScreen
from tui.dialogs.decision import DecisionScreen
from tui.dialogs.forms import NoteForm, SeverityForm
from tui.dialogs.score import ScoreScreen
from tui.screens.war_room import WarRoomScreen

# The key that opens a dialog, the dialog, what the user types into it before the end.
DIALOGS = [
    ("d", DecisionScreen, ("enter", "tab", *"the lease renews")),  # the tester's sequence
    ("n", NoteForm, tuple("half a note")),
    ("v", SeverityForm, ()),
    ("C", CloseIncidentScreen, ()),
]


@pytest.mark.parametrize(("key", "dialog", "typed"), DIALOGS,
                         ids=[d.__name__ for _, d, _ in DIALOGS])
async def test_the_drill_ends_while_a_dialog_is_open(
    make_app: AppFactory, record: Record, run_drill: Callable[..., DrillInBackground],  # noqa: F811
    short_scenario: Scenario,  # noqa: F811
    key: str, dialog: type, typed: tuple[str, ...],
) -> None:
    drill = run_drill(short_scenario)
    player = drill.session.player  # type: ignore[union-attr]
    incident = record.incidents.open("Drill: back-off", severity="P2", drill=True)
    app = make_app(drill=drill, incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await drill.pause()
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, dialog), dialog.__name__)
        await pilot.press(*typed)
        await drill.set_speed(1000.0)
        await drill.resume()
        await until(pilot, lambda: player.finished, "the end of the scenario")
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score")
        # The dialog in progress is gone, and a toast says nothing of it was recorded.
        assert [type(s) for s in app.screen_stack[-2:]] == [WarRoomScreen, ScoreScreen]
        assert any("the drill ended" in n.message and "nothing of it recorded" in n.message
                   for n in app._notifications)
        await pilot.press("escape")  # one Escape closes the score
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room")
        await pilot.press(key)  # and the keys work: the same dialog opens again
        await until(pilot, lambda: isinstance(app.screen, dialog), "the dialog again")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, WarRoomScreen), "the war room again")
        await app.workers.wait_for_complete()
    assert record.decisions.for_incident(incident.id) == []  # dropped, not half recorded
    assert record.incidents.get_required(incident.id).is_open


@pytest.mark.slow
def test_in_a_real_terminal_the_drill_ends_over_a_half_typed_decision(tmp_path: Path) -> None:
    """The tester's sequence at 80x24: the decision form open with a reason half typed when
    the drill ends; the score shows, one Escape closes it, q quits and prints the score."""
    with drill_console(tmp_path, "false-positive-leader-election", speed=60,
                       size=(80, 24)) as ic:
        term = ic.term
        term.wait_for("Contact K8S", timeout=60)
        term.press("o")
        term.wait_for("Open an incident")
        term.type("Leader election noise")
        term.press("ctrl+s")
        term.wait_for("NSI-")
        term.press("d")
        term.wait_for("Decision point")
        term.press("enter", "tab")
        term.type("the lease renews")
        term.wait_for("Drill score", timeout=60)
        term.press("escape")
        term.wait_for(lambda screen: "Drill score" not in screen, what="the score closed")
        mark = term.mark()
        term.press("q")
        term.wait_for("Quit warroom")
        term.press("y")
        assert term.wait_exit(30) == 0
        printed = term.plain_output(mark)
    assert "Decision: none recorded (expected false-positive)" in printed
    with Record.open(ic.run.db) as record:
        (incident,) = record.incidents.list()
        assert record.decisions.for_incident(incident.id) == []  # dropped, as the toast said
