"""The help's table (tui/widgets/plain_table.py): every row reachable from the keyboard under a
header that stays, cells shown as typed, never as markup or terminal controls."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from tests.plugins.tui import AppFactory, until
from tui.dialogs.help import HelpScreen
from tui.widgets.plain_table import PlainTable


async def test_the_help_scrolls_to_its_last_row_under_its_header_at_80x24(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        screen: Any = app.screen
        table = screen.query_one(PlainTable)
        last = screen.rows[-1]
        lines = table.scrollable_content_region.height
        assert lines < len(screen.rows)  # the rows do not fit: they scroll
        await pilot.press("end")
        await until(pilot, lambda: table.scroll_y == table.max_scroll_y, "the end")
        shown = [table.render_line(y).text for y in range(lines)]
        width = table.scrollable_content_region.width
    assert shown[0].split() == ["keys", "what", "id", "where"]
    assert last[3] in shown[-1].split()  # its id
    # Every id whole at 80 columns (what [keymap] needs): the column after it starts on screen.
    assert shown[0].index("where") < width


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield PlainTable(("where", "keys"), [("[b]alert[/b]", "\x1b[2Jx"), ("wide", "ok")])


async def test_cells_are_plain_text_and_columns_line_up() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 5)):
        table = app.query_one(PlainTable)
        lines = [table.render_line(y).text for y in range(3)]
    assert "[b]alert[/b]" in lines[1]  # as typed, not bold
    assert "\x1b" not in lines[1]  # a control is replaced by a visible marker
    assert lines[0].index("keys") == lines[1].index(lines[1].split()[1]) == lines[2].index("ok")
