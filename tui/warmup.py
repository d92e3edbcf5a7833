"""Make a dialog's first opening as quick as its next ones, once the first screen is up.

A first opening pays for what later ones find ready: the dialog's module (the
checklist's verifiers, the report's markdown), its screen's style file (not read
before the first frame: `WarRoomApp.SCREEN_STYLES`), and the default styles of the
widget classes it is the first to use (Textual adds a class's DEFAULT_CSS to the
stylesheet on its first mount, and the next style lookup parses the stylesheet
again). Both are done here ahead of time: the imports on a thread, the styles
on the event loop a class at a time, so the console stays responsive meanwhile.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App
    from textual.widget import Widget

# The screens the war room opens on demand, imported when first opened so the console's first
# frame does not wait for them (the rest are imported with it).
DIALOG_MODULES = (
    "tui.dialogs.close_incident",
    "tui.dialogs.decision",
    "tui.dialogs.replay_form",
    "yaml",  # the confirmation's preview of a change (tui.dialogs.confirm_action)
    "tui.dialogs.checklist",
    "tui.screens.report",
    "tui.dialogs.report_editor",
    "tui.dialogs.proposal",
    "tui.dialogs.score",
    "tui.dialogs.timeline_entry",
    "textual.command",
)


def import_dialogs() -> None:
    """Import the dialogs' modules (run on a thread: an import holds no event loop)."""
    for name in DIALOG_MODULES:
        importlib.import_module(name)


def _dialog_widgets() -> Iterator[Widget]:
    """One instance of each widget class the dialogs build (not mounted anywhere)."""
    from textual.containers import Horizontal, Vertical, VerticalScroll
    from textual.widgets import (
        Button,
        DataTable,
        Input,
        Label,
        Markdown,
        OptionList,
        RadioSet,
        Select,
        Static,
        TextArea,
    )

    from tui.widgets.toggles import Checkbox, RadioButton

    yield from (Vertical(), Horizontal(), VerticalScroll(), Label(), Static(), Button(),
                Input(), Select([("-", "-")]), RadioSet(), RadioButton(), Checkbox(),
                DataTable(), OptionList(), TextArea(), Markdown())
    from tui.textual_workarounds import composed

    yield from composed(Select([("-", "-")]))  # its current-value line and its overlay


def style_steps(app: App[Any]) -> Iterator[Callable[[], None]]:
    """Steps that add the screens' own styles (`SCREEN_STYLES`) and each widget class's
    default styles to the app's stylesheet, as Textual does on the first push of the
    screen or mount of the class, then one that parses them."""
    from tui.textual_workarounds import default_css

    stylesheet = app.stylesheet

    def read_screen_styles() -> None:
        for path in getattr(app, "SCREEN_STYLES", ()):
            if not stylesheet.has_source(str(path)):  # opened before the warm-up got here
                stylesheet.read(path)

    yield read_screen_styles

    def add(widget: Widget) -> Callable[[], None]:
        def step() -> None:
            for read_from, css, tie_breaker, scope in default_css(widget):
                stylesheet.add_source(css, read_from=read_from, is_default_css=True,
                                      tie_breaker=tie_breaker, scope=scope)
        return step

    for widget in _dialog_widgets():
        yield add(widget)
    yield stylesheet.parse
