"""A screen styled once, as its widgets mount, and not again as it first shows.

Textual styles each widget as it mounts (order-dependent rules, `:first-child` and
the like, are redone as siblings arrive). Then, when a pushed screen first becomes
active (its first ScreenResume, handled once its widgets have mounted), it restyles
the whole screen again: every rule matched again against every node, though nothing
changed in between. That second pass was a sixth of the event loop's CPU time in a
dialog's opening (bench/dialogs.py: every first opening's CPU p95 184-207 ms with it,
159-165 ms without, 2026-12-07); the war room's own comes after its first frame.
Later resumes (a dialog closed over the screen) still restyle: its classes may have
changed while it was covered.

A Textual workaround: tests/test_tui_styled_once.py fails if an upgrade changes what
it relies on (the resume's `refresh_styles`, or styles that need the second pass).
"""

from __future__ import annotations

from textual import events


class StyledOnce:
    """Mixin, listed before Textual's Screen: the screen's first ScreenResume keeps its styles.

    Textual runs each class's `_on_screen_resume` down the screen's MRO, this one first.
    """

    _resumed_before = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed_before:
            self._resumed_before = True
            event.refresh_styles = False  # styled as its widgets mounted, just now
