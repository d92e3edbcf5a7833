"""The footer follows focus and what may run, and is not rebuilt when nothing it shows changed."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from store import Record
from tests.plugins.tui import AppFactory, until
from tui.screens.war_room import WarRoomScreen
from tui.widgets.key_footer import KeyFooter


def _keys(screen: Any) -> dict[str, bool]:
    """The footer's keys, each with whether it is enabled."""
    return {key.key: key.enabled for key in screen.query_one(KeyFooter).shown.keys}


async def test_a_burst_of_binding_changes_that_change_nothing_keeps_the_footer(
    make_app: AppFactory, record: Record
) -> None:
    record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, WarRoomScreen)
        await until(pilot, lambda: _keys(screen).get("k") is True, "the incident's keys enabled")
        assert "s" in _keys(screen)  # the Falco pane's keys: it has the focus
        footer = screen.query_one(KeyFooter)
        before = footer.shown
        for _ in range(5):
            screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert footer.shown is before  # checked, found the same: not redrawn

        await pilot.press("3")  # the policies pane: its own keys
        await until(pilot, lambda: "y" in _keys(screen), "the policies pane's keys")
        assert "s" not in _keys(screen)


async def test_keys_that_become_possible_light_up(make_app: AppFactory, record: Record) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = war_room = app.screen
        assert isinstance(war_room, WarRoomScreen)  # (`screen` is named twice in this test)
        await until(pilot, lambda: "k" in _keys(screen), "the footer")
        assert _keys(screen)["k"] is False  # no incident: no checklist
        await pilot.press("o")
        await until(pilot, lambda: app.screen is not screen, "the open-incident form")
        await pilot.press(*"Shell on db", "ctrl+s")
        await until(pilot, lambda: app.screen is screen and war_room.incident is not None, "opened")
        await until(pilot, lambda: _keys(screen).get("k") is True, "the checklist key enabled")


def test_the_console_freezes_what_lives_as_long_as_it_does() -> None:
    """Once per process: the imports when the console starts, the first screen once it shows,
    what the dialogs' warm-up built once it is done."""
    script = textwrap.dedent(
        """
        import asyncio, gc, sys, tempfile
        from pathlib import Path
        from store import Record
        from tui.app import console_app
        from tui.services import Services

        async def main():
            record = Record.open(Path(tempfile.mkdtemp()) / "r.db")
            app = console_app(Services(record, mode="drill"))
            after_build = gc.get_freeze_count()
            first_screen = app.on_first_screen
            frozen = {}

            def first_screen_up():
                first_screen()
                frozen["first screen"] = gc.get_freeze_count()

            app.on_first_screen = first_screen_up
            async with app.run_test() as pilot:
                await app.workers.wait_for_complete()
                for _ in range(20):
                    await pilot.pause(0.05)
                print(gc.get_threshold(), after_build > 0,
                      frozen["first screen"] > after_build,
                      gc.get_freeze_count() > frozen["first screen"])
            record.close()

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.split("\n")[-2] == "(700, 50, 10) True True True", done.stdout
    assert gc.isenabled()


async def test_a_console_built_in_a_test_leaves_the_collector_alone(
    make_app: AppFactory,
) -> None:
    """The tuning is the process's: only `console_app` (where a console starts) applies it."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    app = make_app()
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.first_frame.is_set(), "the first frame")
        await app.workers.wait_for_complete()  # the warm-up, where the first screen froze
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


async def test_a_footer_whose_dialog_closed_before_its_check_ran_is_left_alone(
    make_app: AppFactory, record: Record
) -> None:
    """`k` then `esc` at once: the dialog's footer left with it before its check ran."""
    record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        await until(pilot, lambda: _keys(screen).get("k") is True, "the checklist key enabled")
        await pilot.press("k")
        await until(pilot, lambda: app.screen is not screen, "the checklist")
        dialog_footer = app.screen.query_one(KeyFooter)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back on the war room")
        await until(pilot, lambda: not dialog_footer.is_attached, "the dialog's footer gone")
        dialog_footer._check_pending = False
        await dialog_footer._rebuild_if_changed()  # raised NoScreen before
        assert app.return_code is None
        assert app.screen is screen


async def test_a_click_on_a_key_presses_it_and_a_dimmed_one_does_nothing(
    make_app: AppFactory, record: Record
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        await until(pilot, lambda: _keys(screen).get("k") is False, "the footer, no incident")
        footer = screen.query_one(KeyFooter)
        line = footer.render_line(0).text
        dimmed = next(key for key in footer.shown.keys if not key.enabled)  # no incident
        at = line.index(f"{dimmed.display} {dimmed.description}")
        await pilot.click(KeyFooter, offset=(at, 0))
        await pilot.pause()
        assert app.screen is screen
        await pilot.click(KeyFooter, offset=(line.index("o Open") + 2, 0))
        await until(pilot, lambda: app.screen is not screen, "the open-incident form")
