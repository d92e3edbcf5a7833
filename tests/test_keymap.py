"""The configuration's [keymap]: a binding id takes the keys the user gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actions.config import ConfigError, Settings, load_settings
from store import Record
from tests.plugins.tui import until
from tui.app import WarRoomApp
from tui.dialogs.help import HelpScreen
from tui.keymap import binding_ids
from tui.services import Services
from tui.widgets.key_footer import KeyFooter


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_the_keymap_reads_quoted_and_dotted_ids(tmp_path: Path) -> None:
    settings = load(tmp_path, '[keymap]\n"app.help" = "f2"\nchecklist.close = "ctrl+k, escape"\n')
    assert settings.keymap == (("app.help", "f2"), ("checklist.close", "ctrl+k, escape"))


@pytest.mark.parametrize(("text", "problem"), [
    ('[keymap]\n"app.help" = 2\n', "keymap.app.help: expected text, got a number"),
    ('[keymap]\n"app.help" = ""\n', "keymap.app.help: expected Textual key names"),
    ('[keymap]\nchecklist.close = "ctrl k"\n', "keymap.checklist.close: expected Textual key"),
])
def test_a_keymap_entry_that_is_no_key_is_refused(tmp_path: Path, text: str,
                                                   problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load(tmp_path, text)


def test_the_ids_the_help_shows_are_the_ones_a_keymap_can_use() -> None:
    ids = binding_ids()
    assert {"app.help", "app.quit", "checklist.close", "help.close"} <= ids


def console(record: Record, clock: Any, keymap: tuple[tuple[str, str], ...]) -> WarRoomApp:
    services = Services(record, mode="drill", context="drill-context", actor="ic@example.com")
    return WarRoomApp(services, Settings(keymap=keymap), clock=clock)


async def test_a_remapped_key_opens_what_it_names_and_the_help_and_footer_say_so(
    record: Record, clock: Any
) -> None:
    app = console(record, clock, (("app.help", "f2"),))
    async with app.run_test(size=(160, 48)) as pilot:
        footer = app.screen.query_one(KeyFooter)
        await until(pilot, lambda: any(k.key == "f2" for k in footer.shown.keys), "f2 shown")
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        help_keys = {row[3]: row[1] for row in app.screen.rows}  # type: ignore[attr-defined]
    assert help_keys["app.help"] == "f2"
    assert help_keys["app.quit"] == "ctrl+q, q"  # not remapped: its own keys


async def test_an_unknown_id_in_the_keymap_is_said_with_the_closest_one(
    record: Record, clock: Any
) -> None:
    app = console(record, clock, (("app.halp", "f2"),))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app._notifications, "the warning")
        messages = [n.message for n in app._notifications]
    assert messages == ["keymap: no key has the id 'app.halp' (did you mean 'app.help'?); "
                        "the ids are in the ? screen"]
