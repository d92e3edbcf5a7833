"""Screens are styled once as they mount, not again as they first show (tui/screens/styled_once.py).

A Textual workaround: these fail if an upgrade stops restyling a pushed screen on its first
resume (the workaround is then dead weight: remove it), or starts styling a screen's widgets in a
way that needs that second pass (the workaround then leaves stale styles: remove it too).
"""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label

from store import Record
from tests.plugins.tui import AppFactory, until
from tui.screens.styled_once import StyledOnce
from tui.screens.war_room import WarRoomScreen


class PlainDialog(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Label("A question")
        yield Button("Yes")


class StyledOnceDialog(StyledOnce, PlainDialog):
    pass


class Restyles(App[None]):
    """Counts the screens restyled whole, the pass a first resume would do."""

    def __init__(self) -> None:
        super().__init__()
        self.restyled: list[DOMNode] = []

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        if isinstance(node, Screen):
            self.restyled.append(node)
        super().update_styles(node, animate)


async def _restyled_on_push(dialog: Screen[Any]) -> list[DOMNode]:
    app = Restyles()
    async with app.run_test() as pilot:
        await pilot.pause()
        app.restyled.clear()
        await app.push_screen(dialog)
        await until(pilot, lambda: app.screen is dialog and dialog.is_mounted, "the dialog")
        await pilot.pause()
        return [node for node in app.restyled if node is dialog]


async def test_textual_restyles_a_pushed_screen_whole_on_its_first_resume() -> None:
    """What the workaround saves: without it, the new screen is restyled after it mounted."""
    assert await _restyled_on_push(PlainDialog())


async def test_a_styled_once_screen_is_not_restyled_on_its_first_resume() -> None:
    assert await _restyled_on_push(StyledOnceDialog()) == []


def _styles(screen: Screen[Any]) -> dict[DOMNode, dict[str, Any]]:
    nodes = screen.walk_children(with_self=True)
    return {node: dict(node._css_styles.get_rules()) for node in nodes}


def _restyle(stylesheet: Stylesheet, screen: Screen[Any]) -> None:
    stylesheet.update_nodes(screen.walk_children(with_self=True), animate=False)


async def test_the_war_room_and_its_dialogs_have_the_styles_a_second_pass_would_give(
    make_app: AppFactory, record: Record
) -> None:
    """Styled once, every widget of the war room and of each dialog has the rules a full
    restyle computes: nothing the skipped pass would have changed."""
    record.incidents.open("Shell in orchestrator", severity="P1")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        war_room = app.screen
        assert isinstance(war_room, WarRoomScreen)
        await until(pilot, lambda: war_room.incident is not None, "the incident")
        styled = _styles(war_room)
        _restyle(app.stylesheet, war_room)
        assert _styles(war_room) == styled, "the war room"
        screens: list[Screen[Any]] = [war_room]
        for key in ("n", "question_mark", "k", "d"):
            await pilot.press(key)
            await until(pilot, lambda: app.screen is not war_room and app.screen.is_mounted,
                        f"the dialog of {key}")
            await pilot.pause()
            screens.append(app.screen)
            styled = _styles(app.screen)
            _restyle(app.stylesheet, app.screen)
            assert _styles(app.screen) == styled, type(app.screen).__name__
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is war_room, "back to the war room")
        assert all(isinstance(screen, StyledOnce) for screen in screens)
