"""The footer of key bindings, rebuilt only when the keys it shows change.

Textual's `Footer` recomposes (removes and mounts one widget per key, each
restyled) on every bindings signal, and a screen sends several in a row:
pushed, focused, focus settled, an incident loaded. With the war room's forty
keys that is ~50 ms each, seven times before the first screen of a review,
and again on each focus move under a Falco flood. This one coalesces a burst
into one check after the next refresh and skips the rebuild when the shown
keys (their keys, labels, tooltips and whether they are enabled) are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen

Shown = tuple[tuple[str, str, str, bool, str], ...]


class KeyFooter(Footer):
    """A `Footer` that rebuilds once per burst of binding changes, and only if they show."""

    def __init__(self) -> None:
        # Compact: two cells fewer a key (more of them fit at 80 columns), and each key is
        # mounted in the style it keeps: Textual's keys start compact and a non-compact
        # footer flips and restyles every one of them, on every rebuild (a third of the
        # console's start-up).
        super().__init__(compact=True)
        self._check_pending = False
        self._drawn: Shown | None = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
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
        shown = self._shown_keys()
        if shown != self._drawn:
            self._drawn = shown
            await self.recompose()

    def _shown_keys(self) -> Shown:
        return tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show or binding.action == "command_palette"
        )
