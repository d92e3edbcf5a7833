"""Component styles of a Line-API widget, computed once per theme or CSS change."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


class ComponentStyles:
    """`styles(component)`: the widget's style plus a component's ("" for the widget's own).

    Line-API widgets draw every visible line each frame; looking the styles up once
    and clearing them in `notify_style_update` keeps that off the hot path.
    """

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self._cache: dict[str, Style] = {}

    def __call__(self, component: str) -> Style:
        style = self._cache.get(component)
        if style is None:
            base = self._widget.rich_style
            if component:
                style = base + self._widget.get_component_rich_style(component)
            else:
                style = base
            self._cache[component] = style
        return style

    def clear(self) -> None:
        self._cache.clear()
