"""The configuration's `[keymap]`: binding ids mapped to the keys that replace their own.

Textual's `App.set_keymap` does the remapping (as posting's user keymap does): a
binding keeps its id (`war_room.help`, `checklist.close`, shown in the `?` screen)
and takes the keys the user gave. Textual ignores an id no binding has, so this
module checks the ids against the console's bindings: a typo is said, not ignored.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterable, Mapping

from textual.binding import Binding

# Where the console's bindings live; `tui.app` holds the app-wide ones.
BINDING_PACKAGES = ("tui.screens", "tui.dialogs", "tui.widgets")


def binding_ids() -> set[str]:
    """Every binding id the console declares (imports the packages that declare them)."""
    modules = [importlib.import_module("tui.app")]
    for name in BINDING_PACKAGES:
        package = importlib.import_module(name)
        modules += [importlib.import_module(info.name)
                    for info in pkgutil.walk_packages(package.__path__, f"{name}.")]
    ids: set[str] = set()
    for module in modules:
        for value in vars(module).values():
            bindings = vars(value).get("BINDINGS", ()) if isinstance(value, type) else ()
            ids.update(b.id for b in bindings if isinstance(b, Binding) and b.id)
    return ids


def unknown_ids(keymap: Iterable[tuple[str, str]], known: set[str]) -> list[str]:
    """One message per id of `keymap` no binding has, with the closest known id."""
    problems = []
    for binding_id, _keys in keymap:
        if binding_id in known:
            continue
        hint = difflib.get_close_matches(binding_id, sorted(known), n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        problems.append(f"keymap: no key has the id {binding_id!r}{suggestion}; "
                        "the ids are in the ? screen")
    return problems


def remapped(key: str, binding_id: str | None, keymap: Mapping[str, str]) -> str:
    """The keys a binding answers to under `keymap` (its own when not remapped)."""
    return keymap.get(binding_id, key) if binding_id else key
