"""The warm-up (tui/warmup.py) readies the dialogs' styles whichever pump runs it."""

from __future__ import annotations

from store import Record
from tests.plugins.tui import AppFactory, until
from tui.warmup import style_steps


async def test_the_style_steps_run_in_the_apps_own_context(
    make_app: AppFactory, record: Record
) -> None:
    """Run from the app's context (as the warm-up worker sometimes is), a Select's parts
    bound their data to the app and raised ReactiveError: the warm-up failed, and a test
    waiting on the console's workers with it."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        with app._context():
            for step in style_steps(app):
                step()
        await pilot.pause()
        assert any("SelectCurrent" in str(key) for key in app.stylesheet.source)


async def test_after_the_warm_up_a_dialogs_first_opening_adds_no_styles(
    make_app: AppFactory, record: Record
) -> None:
    """Each style source a first opening adds makes Textual parse the whole stylesheet again
    on the event loop, between the key and the dialog (bench/dialogs.py): the warm-up adds
    them ahead of time, so opening any dialog finds its styles there."""
    record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        war_room = app.screen
        # The warm-up's last widgets: the Select's parts, composed apart.
        sources = app.stylesheet.source
        await until(pilot, lambda: any("SelectCurrent" in str(key) for key in sources),
                    "the warm-up")
        await app.workers.wait_for_complete()
        added = {}
        for key in ("n", "o", "v", "d", "e", "k", "w", "question_mark", "ctrl+p"):
            before = set(app.stylesheet.source)
            await pilot.press(key)
            await until(pilot, lambda: app.screen is not war_room and app.screen.is_mounted,
                        f"the dialog of {key}")
            await pilot.pause()
            added[key] = sorted(str(source) for source in set(app.stylesheet.source) - before)
            while app.screen is not war_room:
                await pilot.press("escape")
                await pilot.pause()
        assert added == {key: [] for key in added}
