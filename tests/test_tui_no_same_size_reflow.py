"""Opening a dialog lays out the screen under it once, not again (tui/textual_workarounds.py).

A Textual workaround: these fail if an upgrade stops laying out the screens under a pushed
dialog again at the same size (the workaround is then dead weight: remove it), or if a
terminal's resize stops reaching the screens under a dialog with it in place.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.events import Resize
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label

from tests.plugins.tui import until
from tui.textual_workarounds import NoSameSizeReflow


class Base(Screen[None]):
    """The screen under the dialog, counting its layouts."""

    def __init__(self) -> None:
        super().__init__()
        self.layouts: list[Size] = []

    def compose(self) -> ComposeResult:
        yield Label("the war room")

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        self.layouts.append(size or self.outer_size)
        super()._refresh_layout(size, scroll)


class Question:
    """A dialog's own part, listed first as a warroom dialog's class is."""

    resizes: list[Size]

    def compose(self) -> ComposeResult:
        yield Label("A question")
        yield Button("Yes")

    def on_resize(self, event: Resize) -> None:
        self.resizes.append(event.size)


class PlainDialog(Question, ModalScreen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.resizes = []


class OnceDialog(Question, NoSameSizeReflow, ModalScreen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.resizes = []


class Host(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Base())


async def _layouts_under(
    dialog: PlainDialog | OnceDialog, resize_to: tuple[int, int] | None = None
) -> tuple[list[Size], list[Size]]:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Base) and app.screen.is_mounted,
                    "the base screen")
        base = app.screen
        assert isinstance(base, Base)
        await pilot.pause()
        base.layouts.clear()
        await app.push_screen(dialog)
        await until(pilot, lambda: app.screen is dialog and dialog.is_mounted, "the dialog")
        await until(pilot, lambda: bool(dialog.resizes), "the dialog's first resize")
        await pilot.pause()
        if resize_to is not None:
            await pilot.resize_terminal(*resize_to)
            await until(pilot, lambda: len(dialog.resizes) > 1, "the terminal's resize")
            await pilot.pause()
        return base.layouts, dialog.resizes


async def test_textual_lays_out_the_screen_under_a_pushed_dialog_again() -> None:
    """What the workaround saves: without it, the base screen is laid out at the size it has."""
    layouts, _ = await _layouts_under(PlainDialog())
    assert layouts == [Size(100, 30)]


async def test_a_pushed_dialog_leaves_the_screen_under_it_as_laid_out() -> None:
    layouts, resizes = await _layouts_under(OnceDialog())
    assert layouts == []
    assert resizes == [Size(100, 30)], "the dialog's own Resize handlers still run"


async def test_a_terminal_resize_still_lays_out_the_screens_under_the_dialog() -> None:
    layouts, resizes = await _layouts_under(OnceDialog(), resize_to=(120, 40))
    assert layouts
    assert set(layouts) == {Size(120, 40)}
    assert resizes[-1] == Size(120, 40)
