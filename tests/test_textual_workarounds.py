"""Textual's internals are reached in one module, and what it relies on is still there.

Each workaround in tui/textual_workarounds.py overrides or reads a private part of the
pinned Textual. An upgrade that renames, removes or reshapes one fails here, by name,
before a console misbehaves; and a new reach into Textual's internals elsewhere in
`tui/` fails here too, so it joins the others with its reason.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest
import textual

from tui import textual_workarounds
from tui.textual_workarounds import INTERNALS

TUI = Path(__file__).resolve().parents[1] / "tui"
TEXTUAL = Path(textual.__file__).parent
WORKAROUNDS = TUI / "textual_workarounds.py"


def owner_of(path: str) -> object:
    module, _, name = path.partition(":")
    owner: object = importlib.import_module(module)
    return getattr(owner, name) if name else owner


def defined_in_source(cls: type, attribute: str) -> bool:
    """Whether one of the class's own sources sets `self.<attribute>` (instance state)."""
    for klass in inspect.getmro(cls):
        if klass.__module__.startswith("textual"):
            source = inspect.getsource(klass)
            if re.search(rf"self\.{attribute}\b\s*(:[^=\n]*)?=", source):
                return True
            if attribute in getattr(klass, "__slots__", ()):
                return True
    return False


@pytest.mark.parametrize(("owner", "attribute", "workaround"), INTERNALS,
                         ids=[f"{w}:{a}" for _, a, w in INTERNALS])
def test_what_each_workaround_relies_on_is_still_there(
    owner: str, attribute: str, workaround: str
) -> None:
    assert hasattr(textual_workarounds, workaround)
    target = owner_of(owner)
    if hasattr(target, attribute):
        return
    assert isinstance(target, type)
    assert defined_in_source(target, attribute), (
        f"{owner}.{attribute} is gone from Textual {textual.__version__}: "
        f"revisit tui.textual_workarounds.{workaround}"
    )


SIGNATURES = {
    ("textual.app:App", "_display"): ["self", "screen", "renderable"],
    ("textual.app:App", "_replace_screen"): ["self", "screen"],
    ("textual.app:App", "_handle_exception"): ["self", "error"],
    ("textual.screen:Screen", "_invoke_later"): ["self", "callback", "sender"],
    ("textual._compositor:Compositor", "render_update"): ["self", "full", "screen_stack"],
}


@pytest.mark.parametrize(("where", "parameters"), SIGNATURES.items(),
                         ids=[f"{o.split(':')[-1]}.{a}" for o, a in SIGNATURES])
def test_the_overridden_methods_keep_their_shape(
    where: tuple[str, str], parameters: list[str]
) -> None:
    owner, name = where
    signature = inspect.signature(getattr(owner_of(owner), name))
    assert [p for p in signature.parameters if p in parameters] == parameters


def private_textual_names() -> set[str]:
    """The private names Textual's own classes define (methods and instance attributes)."""
    names: set[str] = set()
    for path in TEXTUAL.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"def (_[a-z]\w*)", text))
        names |= set(re.findall(r"self\.(_[a-z]\w*)\s*(?::[^=\n]*)?=", text))
    return names


def own_private_names() -> set[str]:
    """The private names warroom's own classes define (they are ours to use)."""
    names: set[str] = set()
    for path in TUI.rglob("*.py"):
        if path == WORKAROUNDS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
                names.add(node.target.attr)
    return names


def test_no_reach_into_textual_outside_the_workarounds_module() -> None:
    textual_private = private_textual_names() - own_private_names()
    found = []
    for path in TUI.rglob("*.py"):
        if path == WORKAROUNDS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("textual"):
                if any(part.startswith("_") for part in (node.module or "").split(".")):
                    found.append(f"{path.relative_to(TUI)}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Attribute) and node.attr in textual_private:
                found.append(f"{path.relative_to(TUI)}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                node.name in textual_private
            ):
                found.append(f"{path.relative_to(TUI)}:{node.lineno} overrides {node.name}")
    assert found == [], "move these into tui/textual_workarounds.py with their reason"
