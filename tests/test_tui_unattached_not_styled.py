"""A widget's classes set as it is built are styled once, as it mounts (tui/textual_workarounds.py).

A Textual workaround: these fail if an upgrade stops styling a widget that is not in the DOM
yet when its classes change (the workaround is then dead weight: remove it), or stops styling
a widget as it mounts (the workaround would then leave it unstyled).
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.widgets import Input

from tui.textual_workarounds import UnattachedNotStyled


class Plain(App[None]):
    pass


class Skipping(UnattachedNotStyled, Plain):
    pass


def counting(stylesheet: Stylesheet) -> list[DOMNode]:
    """The nodes the stylesheet is applied to from now on."""
    applied: list[DOMNode] = []
    apply = stylesheet.apply

    def counted(node: DOMNode, **options: Any) -> None:
        applied.append(node)
        apply(node, **options)

    stylesheet.apply = counted  # type: ignore[method-assign]
    return applied


async def _styled_while_built(app: App[None]) -> tuple[list[DOMNode], int]:
    """The stylings of a compact field while it was built, and its height once mounted."""
    async with app.run_test() as pilot:
        applied = counting(app.stylesheet)
        field = Input("203.0.113.9", compact=True)  # as the action forms build theirs
        built: list[DOMNode] = [node for node in applied if node is field]
        await app.mount(field)
        await pilot.pause()
        assert field in applied  # styled as it mounted
        return built, field.outer_size.height


async def test_textual_styles_a_widget_whose_classes_change_before_it_is_mounted() -> None:
    """What the workaround saves: Textual styles the compact field as it is built."""
    built, height = await _styled_while_built(Plain())
    assert built
    assert height == 1


async def test_a_widget_is_styled_once_mounted_and_not_while_built() -> None:
    built, height = await _styled_while_built(Skipping())
    assert built == []
    assert height == 1  # compact, as its class says: one line, no border
