"""The footer of key bindings: one widget that draws the keys that apply now on one line.

Textual's `Footer` is a container of one widget per key (the war room shows
about 25), recomposed on every bindings signal: each rebuild removes and mounts
them all, styles and lays out each one (~90 ms, then a relayout of as much), and
its first build waits for a signal, so the console's first frame has no footer.
This one reads the screen's active bindings when it draws, so the first frame
has the keys, and a change of keys is a repaint of one line. It looks like
Textual's compact footer, cell for cell: its CSS (app.tcss) gives the same
component classes the same theme variables. A click on a key presses it; the
mouse wheel scrolls keys that do not fit; a key's tooltip shows on hover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.screen import Screen

PALETTE_BORDER = "\N{LEFT ONE EIGHTH BLOCK}"  # Textual's `vkey` border, left edge


@dataclass(frozen=True, slots=True)
class FooterItem:
    """One key as the footer shows it."""

    key: str  # as Textual names it: what a click presses
    display: str  # as typed (`^p`, `?`)
    description: str
    enabled: bool
    tooltip: str


@dataclass(frozen=True, slots=True)
class FooterKeys:
    """What the footer shows: the keys left to right, and the command palette's on the right."""

    keys: tuple[FooterItem, ...] = ()
    palette: FooterItem | None = None


def footer_keys(screen: Screen[Any]) -> FooterKeys:
    """The keys `screen` offers now, as Textual's Footer picks them (one per action)."""
    app = screen.app
    active = screen.active_bindings
    keys: dict[str, FooterItem] = {}
    for _node, binding, enabled, tooltip in active.values():
        if binding.show and binding.action not in keys:
            keys[binding.action] = FooterItem(binding.key, app.get_key_display(binding),
                                              binding.description, enabled, tooltip)
    palette = None
    if app.ENABLE_COMMAND_PALETTE and (found := active.get(app.COMMAND_PALETTE_BINDING)):
        _node, binding, enabled, _tooltip = found
        palette = FooterItem(binding.key, app.get_key_display(binding), binding.description,
                             enabled, binding.tooltip or binding.description)
    return FooterKeys(tuple(keys.values()), palette)


class KeyFooter(Widget, can_focus=False):
    """The screen's keys on the bottom line; rechecked once per burst of binding changes."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "footer-key--key",
        "footer-key--description",
        "footer-key--disabled",
        "footer-key--hover",
        "footer-key--palette-border",
    }

    def __init__(self) -> None:
        super().__init__()
        self._check_pending = False
        self._drawn: FooterKeys | None = None  # None: read the screen's keys when drawn
        self._spans: list[tuple[int, int, FooterItem]] = []  # cells each key took when drawn
        self._hover: FooterItem | None = None
        self._scroll = 0  # keys scrolled off to the left (the mouse wheel)

    @property
    def shown(self) -> FooterKeys:
        """The keys this footer shows (read from the screen if it has not drawn yet)."""
        if self._drawn is None:
            self._drawn = footer_keys(self.screen)
        return self._drawn

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._check_pending or not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self._check_pending = True
            self.call_after_refresh(self._rebuild_if_changed)

    async def _rebuild_if_changed(self) -> None:
        self._check_pending = False
        # The check runs a refresh later: by then a dialog's footer may have left with its
        # dialog (esc right after a key), and a detached footer has no screen to read.
        if not self.is_attached:
            return
        shown = footer_keys(self.screen)
        if shown != self._drawn:
            self._drawn = shown
            self._hover = None
            self._scroll = min(self._scroll, max(len(shown.keys) - 1, 0))
            self.refresh()

    # --- drawing --------------------------------------------------------------------------------

    def _item_segments(self, item: FooterItem) -> list[Segment]:
        """A key as Textual's compact FooterKey draws it: the key, then a space and the words."""
        hovered = item == self._hover
        key = self.get_component_rich_style("footer-key--key")
        description = self.get_component_rich_style("footer-key--description")
        if hovered:
            base = self.get_component_rich_style("footer-key--hover")
            key = base + self.get_component_rich_style("footer-key--key", partial=True)
            description = base + self.get_component_rich_style("footer-key--description",
                                                               partial=True)
        if not item.enabled:
            dim = self.get_component_rich_style("footer-key--disabled", partial=True)
            key, description = key + dim, description + dim
        if not item.description:
            return [Segment(item.display, key)]
        return [Segment(item.display, key), Segment(f" {item.description}", description)]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        gap = Style(bgcolor=base.bgcolor)  # the footer's own background between keys
        shown = self.shown
        palette: list[Segment] = []
        if shown.palette is not None:
            border = self.get_component_rich_style("footer-key--palette-border")
            palette = [Segment(PALETTE_BORDER, border), *self._item_segments(shown.palette)]
        room = max(width - Segment.get_line_length(palette), 0)
        segments: list[Segment] = []
        self._spans = []
        x = 0
        for item in shown.keys[self._scroll:]:
            if x >= room:
                break
            if segments:
                segments.append(Segment(" ", gap))  # one cell of margin between keys
                x += 1
            drawn = self._item_segments(item)
            length = Segment.get_line_length(drawn)
            self._spans.append((x, min(x + length, room), item))
            segments += drawn
            x += length
        line = Strip(segments).crop_extend(0, room, gap)
        if palette:
            self._spans.append((room, width, shown.palette))  # type: ignore[arg-type]
            line = Strip.join([line, Strip(palette)]).crop(0, width)
        return line

    # --- the mouse ------------------------------------------------------------------------------

    def _item_at(self, x: int) -> FooterItem | None:
        return next((item for start, end, item in self._spans if start <= x < end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        item = self._item_at(event.x)
        if item != self._hover:
            self._hover = item
            self.tooltip = item.tooltip if item is not None and item.tooltip else None
            self.refresh()

    def on_leave(self, _event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        item = self._item_at(event.x)
        if item is None:
            return
        if item.enabled:
            self.app.simulate_key(item.key)
        else:
            self.app.bell()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if self._scroll < len(self.shown.keys) - 1:
            self._scroll += 1
            self.refresh()
        event.stop()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self._scroll:
            self._scroll -= 1
            self.refresh()
        event.stop()
