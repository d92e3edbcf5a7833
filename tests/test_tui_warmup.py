"""The warm-up (tui/warmup.py) readies the dialogs' styles whichever pump runs it."""

from __future__ import annotations

from store import Record
from tests.plugins.tui import AppFactory
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
