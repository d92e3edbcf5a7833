"""Make a dialog's first opening as quick as its next ones, once the first screen is up.

A first opening pays for what later ones find ready: the dialog's module and
what its key imports (the checklist's verifiers, the report's markdown, the
notifiers escalation queues for), the content read once and cached (the
runbook's checklists, parsed from TOML), its screen's style file (not read
before the first frame: `WarRoomApp.SCREEN_STYLES`), and the default styles of
the widget classes it is the first to use (Textual adds a class's DEFAULT_CSS to the
stylesheet on its first mount, and the next style lookup parses the stylesheet
again). All are done here ahead of time: the imports and the content on a
thread, the styles on the event loop a class at a time, so the console stays
responsive meanwhile.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode

# The screens the war room opens on demand, imported when first opened so the console's first
# frame does not wait for them (the forms, the action form, its confirmation and help were
# imported with the war room: ~20 ms of its first frame's CPU), and what their keys import on
# first use (measured, the modules new after each first opening: e imported the notifiers and
# smtplib, ~130 ms of CPU; i the alert's target finder, ~14 ms; ctrl+p Textual's system
# commands).
DIALOG_MODULES = (
    "tui.dialogs.forms",
    "tui.dialogs.action_form",
    "tui.dialogs.confirm_action",
    "tui.dialogs.help",
    "tui.dialogs.close_incident",
    "tui.dialogs.decision",
    "tui.dialogs.replay_form",
    "yaml",  # the confirmation's preview of a change (tui.dialogs.confirm_action)
    "tui.dialogs.checklist",
    "tui.dialogs.escalate",
    "actions.notify",
    "actions.runbook.alert_targets",
    "textual.system_commands",
    "tui.screens.report",
    "tui.dialogs.report_editor",
    "tui.dialogs.proposal",
    "tui.dialogs.score",
    "tui.dialogs.timeline_entry",
    "textual.command",
)


def import_dialogs() -> None:
    """Import the dialogs' modules and read what they read once (run on a thread: neither
    holds the event loop)."""
    for name in DIALOG_MODULES:
        importlib.import_module(name)
    from actions.checklists import load_checklists

    load_checklists()  # cached: the checklist's first opening parsed the TOML (~7 ms)


def _dialog_widgets() -> Iterator[DOMNode]:
    """One instance of each widget and screen class the dialogs build (not mounted anywhere)."""
    from textual.command import CommandInput, CommandList, CommandPalette, SearchIcon
    from textual.containers import Horizontal, Vertical, VerticalScroll
    from textual.screen import ModalScreen
    from textual.widgets import (
        Button,
        DataTable,
        Input,
        Label,
        LoadingIndicator,
        Markdown,
        OptionList,
        RadioSet,
        Select,
        Static,
        Tab,
        Tabs,
        TextArea,
        Tree,
    )
    from textual.widgets.markdown import MarkdownTableOfContents

    from tui.widgets.toggles import Checkbox, RadioButton

    yield from (Vertical(), Horizontal(), VerticalScroll(), Label(), Static(), Button(),
                Input(), Select([("-", "-")]), RadioSet(), RadioButton(), Checkbox(),
                DataTable(), OptionList(), TextArea(), Markdown())
    # Measured (the stylesheet's sources before and after each first opening): every
    # dialog is a ModalScreen, the first one opened paid for its styles; the report's
    # contents tree and loading indicator; the command palette's parts.
    yield from (ModalScreen(), LoadingIndicator(), Tree("-"), MarkdownTableOfContents(Markdown()),
                CommandPalette(), CommandInput(), CommandList(), SearchIcon())
    yield from _markdown_blocks()
    from tui.textual_workarounds import composed, tabs_underline

    yield from composed(Select([("-", "-")]))  # its current-value line and its overlay
    # The war room's pane tabs, mounted only once the screen is small (a terminal made
    # smaller later would re-parse the stylesheet for them); no dialog uses Tabs.
    yield from (Tabs(), Tab("-"), tabs_underline())


def _markdown_blocks() -> Iterator[DOMNode]:
    """One of each block the report's Markdown mounts once its text is read (Textual's
    table of them, `Markdown.BLOCKS`): headers, paragraphs, lists, tables, and their parts."""
    from markdown_it.token import Token
    from textual.widgets import Markdown

    from tui.textual_workarounds import composed, markdown_bullet

    document = Markdown()
    for tag, kind in Markdown.BLOCKS.items():
        # A list item takes its bullet, a code block its code: each one's own third argument.
        own: tuple[Any, ...] = ("-",) if tag.startswith("list_item") else (
            ("",) if tag in ("fence", "code_block") else ())
        block = kind(document, Token(tag, "", 0), *own)
        yield block
        if tag == "table_open":
            yield from composed(block)  # its content widget
    yield markdown_bullet()


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

    def add(node: DOMNode) -> Callable[[], None]:
        def step() -> None:
            for read_from, css, tie_breaker, scope in default_css(node):
                stylesheet.add_source(css, read_from=read_from, is_default_css=True,
                                      tie_breaker=tie_breaker, scope=scope)
        return step

    for node in _dialog_widgets():
        yield add(node)
    yield stylesheet.parse
