"""The command palette and the footer follow the war room's bindings and its state.

The palette's entries are built from the key groups' bindings: each runs its binding's
action, names its key, and is offered exactly when `check_action` lets the key run. The
screen's state (`incident`, `selected_alert`) is reactive: changing it refreshes the keys.
"""

from __future__ import annotations

import pytest

from store import Record
from tests.plugins.tui import AppFactory, run_from_palette, until
from tui.commands import palette_commands
from tui.dialogs.help import typed
from tui.dialogs.score import ScoreScreen
from tui.screens.war_room import WarRoomScreen
from tui.widgets.key_footer import KeyFooter


def palette_keys(screen: WarRoomScreen, *, panes: bool = False) -> set[str]:
    """The key each palette entry names (its help ends with "(key X)")."""
    return {
        help_text.rpartition("(key ")[2].rstrip(")")
        for _title, _run, help_text in palette_commands(screen, panes=panes)
    }


def applicable_keys(screen: WarRoomScreen, *, panes: bool = False) -> set[str]:
    """The keys of the screen's bindings that can run now (no drill, not a review)."""
    return {
        typed(binding.key)
        for group, bindings in screen.key_groups()
        if (group.KEY_GROUP == "panes") == panes
        for binding in bindings
        if not binding.action.startswith(("drill_", "replay_"))
        and screen.check_action(binding.action.partition("(")[0], ()) is True
    }


async def test_every_key_that_applies_is_offered_by_the_palette_with_its_key(
    make_app: AppFactory, record: Record
) -> None:
    record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.incident is not None, "the incident")
        offered = palette_keys(screen)
        assert offered == applicable_keys(screen)
        assert {"o", "a", "n", "v", "p", "d", "C", "k", "w", "e"} <= offered
        assert palette_keys(screen, panes=True) == {"z", "1", "2", "3", "4", "?"}
        await app.workers.wait_for_complete()


async def test_a_review_offers_the_recorded_drills_score_in_the_palette(
    make_app: AppFactory, record: Record
) -> None:
    incident = record.incidents.open("Recorded drill", severity="P1", drill=True)
    app = make_app(mode="review", incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.incident is not None, "the incident")
        await run_from_palette(pilot, "score from the record")
        await until(pilot, lambda: isinstance(app.screen, ScoreScreen), "the score")
        await pilot.press("escape")
        await app.workers.wait_for_complete()


async def test_setting_the_incident_refreshes_the_keys_at_once(
    make_app: AppFactory, record: Record
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        footer = screen.query_one(KeyFooter)
        await until(pilot, lambda: any(k.key == "k" for k in footer.shown.keys), "the footer")
        assert next(k for k in footer.shown.keys if k.key == "k").enabled is False
        screen.incident = record.incidents.open("Opened by another writer", severity="P2")
        # Not the record's 2-second poll: the assignment itself refreshes the bindings.
        await pilot.pause()
        await pilot.pause()
        assert next(k for k in footer.shown.keys if k.key == "k").enabled is True
        await app.workers.wait_for_complete()


@pytest.mark.parametrize(("mode", "absent"), [("drill", "drill.review_score"),
                                              ("review", "action.isolate")])
async def test_the_help_lists_each_key_once_and_only_what_the_mode_offers(
    make_app: AppFactory, record: Record, mode: str, absent: str
) -> None:
    """S was listed twice in a drill (its score, and review's score from the record); review
    listed the keys that change things, which its footer hides."""
    incident = record.incidents.open("Recorded drill", severity="P1", drill=True)
    app = make_app(mode=mode, incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: screen.incident is not None, "the incident")
        rows = screen.help_rows()
    keys = [(where, keys) for where, keys, _what, _id in rows]
    assert len(keys) == len(set(keys)), "a key listed twice"
    assert absent not in {binding_id for *_, binding_id in rows}
