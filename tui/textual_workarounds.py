"""Every place warroom reaches into Textual's internals, each with why (what was measured).

Textual is pinned exactly (pyproject.toml); each workaround below overrides or reads a
private part of Textual 8.2.8 because the public API left a measured problem. They live
here, and only here (tests/test_textual_workarounds.py fails if a private name of
Textual's is used elsewhere in `tui/`, and if one listed in `INTERNALS` is gone or has
changed shape), so an upgrade is checked in one place: drop a workaround that Textual
fixed, adapt one it broke.

- `FirstFrameWhole` (App): the first frame reaches the terminal whole.
- `KeysOneAtATime` (App): `q` then `y` typed at once reach the dialog `q` opens.
- `ClosedScreensWaitForMount` (App): a dialog closed while mounting is removed once mounted.
- `QuietFatalError` (App): the crash log, never a traceback with local variables.
- `UnattachedNotStyled` (App): a widget's classes set as it is built are styled once, on mount.
- `LateCallbacksChecked` (Screen): a closed dialog's late callback is not run on the war room.
- `MeasuredDataTable` (DataTable): redrawn once its columns are measured.
- `bindings_for_key(node, key)`: the bindings of a key, dimmed ones too.
- `default_css(widget)`: a widget class's default styles, to load them ahead of time.
- `composed(widget)`: a widget's children built as its own compose builds them.
- `withdraw_toast(app, toast)`: take one toast down before its timeout.
- `markdown_bullet()`: a Markdown list's bullet, to load its styles ahead of time.
- `tabs_underline()`: the Tabs' underline, likewise (the war room's pane tabs).
- `StyledOnce` (Screen): a screen is styled once as it opens, not again on its first resume.
- `NoSameSizeReflow` (Screen, part of StyledOnce): opening a dialog lays the war room out once.
- `close_dialog(screen)`: close a dialog with no answer, even one whose waiter is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from rich.text import Text
from textual import events
from textual._callback import invoke
from textual._compositor import LayoutUpdate
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.notifications import Notification
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable

# (owner, private attribute, workaround): what each workaround relies on, checked by
# tests/test_textual_workarounds.py against the installed Textual.
INTERNALS: tuple[tuple[str, str, str], ...] = (
    ("textual.app:App", "_display", "FirstFrameWhole"),
    ("textual.app:App", "_end_batch", "FirstFrameWhole"),
    ("textual.app:App", "_batch_count", "FirstFrameWhole"),
    ("textual.app:App", "_background_screens", "FirstFrameWhole"),
    ("textual.screen:Screen", "_compositor", "FirstFrameWhole"),
    ("textual._compositor:Compositor", "render_update", "FirstFrameWhole"),
    ("textual._compositor", "LayoutUpdate", "FirstFrameWhole"),
    ("textual.app:App", "_on_key", "KeysOneAtATime"),
    ("textual.message:Message", "_stop_propagation", "KeysOneAtATime"),
    ("textual.worker:Worker", "_created_time", "KeysOneAtATime"),
    ("textual.app:App", "_replace_screen", "ClosedScreensWaitForMount"),
    ("textual.message_pump:MessagePump", "_mounted_event", "ClosedScreensWaitForMount"),
    ("textual.app:App", "_handle_exception", "QuietFatalError"),
    ("textual.app:App", "_fatal_error", "QuietFatalError"),
    ("textual.app:App", "_close_messages_no_wait", "QuietFatalError"),
    ("textual.screen:Screen", "_invoke_later", "LateCallbacksChecked"),
    ("textual._callback", "invoke", "LateCallbacksChecked"),
    ("textual.widgets:DataTable", "_on_idle", "MeasuredDataTable"),
    ("textual.widgets:DataTable", "_update_count", "MeasuredDataTable"),
    ("textual.dom:DOMNode", "_bindings", "bindings_for_key"),
    ("textual.dom:DOMNode", "_get_default_css", "default_css"),
    ("textual.message_pump:MessagePump", "_context", "composed"),
    ("textual.app:App", "_notifications", "withdraw_toast"),
    ("textual.screen:Screen", "_on_screen_resume", "StyledOnce"),
    ("textual.screen:Screen", "_on_resize", "NoSameSizeReflow"),
    ("textual.screen:Screen", "_compositor", "NoSameSizeReflow"),
    ("textual._compositor:Compositor", "size", "NoSameSizeReflow"),
    ("textual.app:App", "_background_screens", "NoSameSizeReflow"),
    ("textual.app:App", "_unnotify", "withdraw_toast"),
    ("textual.widgets._markdown", "MarkdownBullet", "markdown_bullet"),
    ("textual.widgets._tabs", "Underline", "tabs_underline"),
    ("textual.screen:Screen", "_result_callbacks", "close_dialog"),
)

MOUNT_WAIT = 5.0  # a screen closed while mounting is removed once mounted, or after this
# The longest a key waits for the one before it (see KeysOneAtATime): on a loaded CI machine
# a tab took over a second to come back up, and the address typed after it went to the field
# it was leaving. A key whose widget went away is not waited for at all.
KEY_HOLD = 5.0
# The longest a key waits for a dialog the key before it opens: a first opening on a busy
# machine took over a second, and a key let go earlier lands behind the dialog.
DIALOG_HOLD = 5.0
KEY_POLL = 0.005  # how often held keys look whether they may go


class FirstFrameWhole(App[Any]):
    """The first frame is drawn whole, and `first_frame` says when it is on the terminal.

    Textual mounts the app inside a batch update, and the war room pushed from on_mount
    is composed, laid out and drawn before that batch ends: its first frame is computed,
    then dropped (nothing is written during a batch), and the compositor counts it as
    painted. The terminal stayed blank until later partial updates filled it in piecemeal
    (measured: a quarter of a second later, pane borders last; tests/test_tui_first_frame.py,
    bench/drill_launch.py). So a frame dropped in a batch is drawn in full as soon as the
    batch ends: the dropped frame itself when it was the only one and whole (what the war
    room's start gives; drawing it again took ~60 ms of CPU time before the first frame),
    else the screen rendered whole again.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frames_dropped: list[tuple[Screen[Any], Any]] = []  # drawn in a batch (_display)
        self.first_frame = asyncio.Event()
        """Set once a frame has gone to the terminal: slow start-up work waits for it."""

    def _display(self, screen: Screen[Any], renderable: Any) -> None:
        if renderable is not None:
            if self._batch_count:
                self._frames_dropped.append((screen, renderable))
            else:
                self.first_frame.set()
        super()._display(screen, renderable)

    def _end_batch(self) -> None:
        super()._end_batch()
        if self._frames_dropped and not self._batch_count and self.screen_stack:
            dropped, self._frames_dropped = self._frames_dropped, []
            screen = self.screen
            if not screen.is_mounted:
                return
            if len(dropped) == 1 and dropped[0][0] is screen and isinstance(dropped[0][1],
                                                                            LayoutUpdate):
                self._display(screen, dropped[0][1])  # whole, and nothing drawn after it
            else:
                self._display(screen, screen._compositor.render_update(
                    full=True, screen_stack=self._background_screens))


class KeysOneAtATime(App[Any]):
    """A key waits until the one before it is through and the dialog it started is up.

    A terminal hands keys over faster than a dialog opens: `q` then `y`, `k` then `esc`,
    `b` then a tab and an address (tmux send-keys, a paste). Textual forwards each key to
    the focused widget's queue and runs the bindings once the key has bubbled back up to
    the app; an action's worker pushes its dialog a step later, and the dialog focuses its
    first field a step after that. Delivered at once, `y` reached the war room before `q`
    asked its question, and the keys after `b` were lost behind the opening form (measured
    in a real terminal: tests/test_tui_robust.py, tests/test_tui_key_burst.py).

    So the keys after one still on its way are held, in order, without holding up the app
    (which must run that key's bindings, push the dialog, mount and focus it), and given
    back one at a time: each once the key before it is through (KEY_HOLD at most) and the
    dialog an "action" worker it started is pushed, mounted and focused (DIALOG_HOLD at
    most); past those it goes as it would have.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key_in_flight: events.Key | None = None  # delivered, not through yet
        self._key_target: Widget | None = None  # the widget it was delivered to
        self._key_sent_at = 0.0  # time.monotonic() when the last key was delivered
        self._last_push = 0.0  # time.monotonic() when the last screen was pushed
        self._pushed: Screen[Any] | None = None  # the screen pushed then
        self._held_keys: list[events.Key] = []  # arrived while one was on its way, in order
        self._held_since = 0.0  # when the first held key started waiting
        self._given_back: events.Key | None = None  # the held key now posted again
        self._release_timer: Timer | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if not self.screen_stack:  # typed while the console closes: nothing takes it
                return
            given_back = event is self._given_back
            if given_back:
                self._given_back = None
            elif self._held_keys or self._waiting_reason() is not None:
                self._hold(event)
                return
            self._key_in_flight = event
            self._key_target = self.focused or self.screen  # where App.on_event forwards it
            self._key_sent_at = time.monotonic()
            await super().on_event(event)
            if not event.is_forwarded:  # a priority binding took it here
                self._key_in_flight = None
            return
        await super().on_event(event)

    async def _on_key(self, event: events.Key) -> None:
        """A key that bubbled back up: its bindings run here, then it is through."""
        event.prevent_default()  # App._on_key runs once, here, not again after this
        try:
            if self.screen_stack:  # none left while the console closes: nothing to act on
                await super()._on_key(event)
        finally:
            if event is self._key_in_flight:
                self._key_in_flight = None

    def _waiting_reason(self) -> float | None:
        """How long a key may wait for what it waits for now, or None to go at once."""
        previous, target = self._key_in_flight, self._key_target
        if (previous is not None and not previous._stop_propagation
                and (target is None or target.is_attached)):
            return KEY_HOLD  # still on its way through the widgets (lost with a removed one)
        if self._dialog_coming() or self._dialog_opening():
            return DIALOG_HOLD  # a dialog is about to take the keys
        return None

    def _hold(self, event: events.Key) -> None:
        if not self._held_keys:
            self._held_since = time.monotonic()
        self._held_keys.append(event)
        if self._release_timer is None:
            self._release_timer = self.set_interval(KEY_POLL, self._give_one_back,
                                                    name="held-keys")

    def _give_one_back(self) -> None:
        """The first held key goes again once nothing holds it (or it waited long enough)."""
        if not self._held_keys or not self.screen_stack:
            self._held_keys.clear()
            if self._release_timer is not None:
                self._release_timer.stop()
                self._release_timer = None
            return
        if self._given_back is not None:
            return  # the one given back is still in the queue
        limit = self._waiting_reason()
        now = time.monotonic()
        if limit is not None and now - self._held_since < limit:
            return
        key = self._held_keys.pop(0)
        self._held_since = now
        self._key_in_flight = None  # past its wait: the next goes as it would have
        self._given_back = events.Key(key.key, key.character)
        self.post_message(self._given_back)

    def _dialog_coming(self) -> bool:
        """Whether an "action" worker the last key started has not pushed its dialog yet."""
        return any(
            worker.group == "action"
            and not worker.is_finished
            and worker._created_time >= self._key_sent_at  # Textual's record of its start
            and worker._created_time > self._last_push
            for worker in self.workers
        )

    def _dialog_opening(self) -> bool:
        """Whether the screen pushed last is still mounting or has not focused its field yet:
        a key delivered then reached no widget, and was lost (or bound on the screen)."""
        if time.monotonic() - self._last_push > DIALOG_HOLD or not self.screen_stack:
            return False
        screen = self.screen
        if screen is not self._pushed:  # closed already, or another screen on top
            return False
        if not screen.is_mounted:
            return True
        return (screen.focused is None and screen.AUTO_FOCUS is not None
                and bool(screen.focus_chain))

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        self._last_push = time.monotonic()
        pushed = super().push_screen(*args, **kwargs)
        self._pushed = self.screen_stack[-1] if self.screen_stack else None
        return pushed


class ClosedScreensWaitForMount(App[Any]):
    """A screen closed while it is still mounting is removed once mounted.

    `k` then `esc` typed at once closed the checklist while it was still mounting: its
    mount handlers (and its widgets', Textual's Select among them) still ran, and found
    their children gone (a crash, tests/test_tui_robust.py). Removed once mounted, they
    run on a whole screen, off the stack already, and the removal does not hold up the
    console meanwhile.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing_screens: set[asyncio.Task[None]] = set()

    async def _replace_screen(self, screen: Screen[Any]) -> Screen[Any]:
        if screen.is_mounted:
            return await super()._replace_screen(screen)
        task = asyncio.create_task(self._replace_once_mounted(screen))
        self._closing_screens.add(task)
        task.add_done_callback(self._closing_screens.discard)
        return screen

    async def _replace_once_mounted(self, screen: Screen[Any]) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(screen._mounted_event.wait(), MOUNT_WAIT)
        await super()._replace_screen(screen)


class QuietFatalError(App[Any]):
    """An unexpected error writes the crash log (`note_crash`) and prints no traceback.

    Textual prints the traceback with its local variables once the terminal is back:
    a bearer token or a webhook secret can sit in one (tests/test_console_crash.py).
    """

    def note_crash(self, error: BaseException) -> None:
        """Keep the error and write its log (the console's own)."""

    def _handle_exception(self, error: Exception) -> None:
        self.note_crash(error)
        super()._handle_exception(error)  # return code 1, the console closes

    def _fatal_error(self) -> None:
        self.bell()
        self._close_messages_no_wait()


class UnattachedNotStyled(App[Any]):
    """A node not in the DOM yet is not styled when its classes change: its mount styles it.

    Textual applies the stylesheet to a node whenever a class is added or removed, even
    while it is still being built: `Input(compact=True)`, a Checkbox's `compact`, a Button's
    variant each styled the new widget and its component parts in its constructor, and its
    mount styled it again. A fifth of the block-ip form's opening (bench/dialogs.py, the
    profile's `add_class` under `Input.__init__`). A widget with no parent is skipped here;
    Textual styles it as it mounts (`App._register`), its classes as they are then. Public
    API only (`App.update_styles`); tests/test_tui_unattached_not_styled.py fails if an
    upgrade changes either half.
    """

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        if node is not self and node.parent is None:
            return
        super().update_styles(node, animate)


class LateCallbacksChecked(Screen[Any]):
    """A callback handed to this screen after its node left runs only if it is still there.

    A dialog's `call_after_refresh` (the checklist redrawing after a resize, a footer
    check) that is handed over after the dialog closed lands on the screen underneath:
    by the time it ran, the dialog's widgets were gone (a crash: tests/test_tui_footer.py).
    """

    def _invoke_later(self, callback: Any, sender: Any) -> None:
        async def if_still_there() -> None:
            if not isinstance(sender, Widget) or sender.is_attached:
                await invoke(callback)

        super()._invoke_later(if_still_there, sender)


class MeasuredDataTable(DataTable[Text]):
    """A DataTable that redraws its lines once it has measured its columns.

    DataTable measures new cells when idle, but caches rendered lines by its update
    count only: a frame drawn between `add_row` and that idle (a loaded machine, a
    busy alert stream) stayed drawn at the header widths until the next change.
    """

    async def _on_idle(self, event: events.Idle) -> None:
        before = [column.content_width for column in self.columns.values()]
        await super()._on_idle(event)
        if [column.content_width for column in self.columns.values()] != before:
            self._update_count += 1  # the line caches are keyed by it: draw afresh
            self.refresh()


def bindings_for_key(node: DOMNode, key: str) -> tuple[Binding, ...]:
    """Every binding of `key` on `node` (its class's, merged), the dimmed ones too.

    `active_bindings` keeps one binding a key and only the screen's chain; a dimmed key
    has to say why it does nothing, so its binding is looked up here.
    """
    return tuple(node._bindings.key_to_bindings.get(key, ()))


def default_css(widget: DOMNode) -> list[tuple[Any, str, int, str]]:
    """A widget class's default styles as Textual adds them on its first mount
    (read_from, css, tie_breaker, scope), to add them ahead of time (tui/warmup.py:
    a dialog's first opening otherwise re-parses the stylesheet, bench/dialogs.py)."""
    return list(widget._get_default_css())


def composed(widget: Widget) -> list[Widget]:
    """The children `widget.compose()` makes, built in the widget's own context.

    A compose that binds data (`Select`'s overlay binds `Select.compact`) checks that the
    active message pump is the widget's kind: composed from a callback the app runs (the
    warm-up starts after a repaint, on the app's behalf) it raised ReactiveError, and the
    warm-up failed with a toast once the dialog modules were already imported.
    """
    with widget._context():
        return list(widget.compose())


def markdown_bullet() -> Widget:
    """The bullet a Markdown list item shows, a class Textual keeps private: its styles are
    loaded ahead of time with the other Markdown blocks' (tui/warmup.py; the report's first
    opening otherwise re-parsed the stylesheet for it, tests/test_tui_warmup.py)."""
    from textual.widgets._markdown import MarkdownBullet

    return MarkdownBullet()


def tabs_underline() -> Widget:
    """The bar under the active tab, a class Textual keeps private: its styles are loaded
    ahead of time (tui/warmup.py) for the war room's pane tabs, which a console started at
    full size mounts only once its terminal is made small (tests/test_tui_warmup.py)."""
    from textual.widgets._tabs import Underline

    return Underline()


def withdraw_toast(app: App[Any], toast: Notification) -> None:
    """Take `toast` down now, if it is still up.

    Textual can clear every toast (`clear_notifications`) but not one: a proposal's
    "press !" toast outlived its answer, and at 80x24 it covered the Falco pane's
    status line.
    """
    if toast in app._notifications:
        app._unnotify(toast)


class NoSameSizeReflow:
    """Mixin, listed before Textual's Screen: a Resize to the size already laid out does nothing.

    A pushed screen's first layout sends the screen itself a Resize, and Textual's
    `Screen._on_resize` lays out again the screen and every screen shown under it (the war
    room, whole) at that same size: about a tenth of the event loop's CPU in a dialog's
    opening (bench/dialogs.py: the profile's `Screen._on_resize`, 10-18 % of each
    opening). Skipped when the screen and those under it are already laid out at the size
    (and no breakpoint class could follow from it); a terminal's resize goes on as Textual
    does it. The screen's own Resize handlers (`@on(Resize)`, more derived) still run.
    tests/test_tui_no_same_size_reflow.py fails if an upgrade changes what it relies on.
    """

    async def _on_resize(self, event: events.Resize) -> None:
        screen: Any = self
        app = screen.app
        if (
            screen._compositor.size == event.size
            and all(under._compositor.size == event.size for under in app._background_screens)
            and not (screen.HORIZONTAL_BREAKPOINTS or app.HORIZONTAL_BREAKPOINTS)
            and not (screen.VERTICAL_BREAKPOINTS or app.VERTICAL_BREAKPOINTS)
        ):
            event.stop()
            event.prevent_default()  # Textual's Screen._on_resize, next down the MRO


class StyledOnce(NoSameSizeReflow):
    """Mixin, listed before Textual's Screen: a screen is styled once, as its widgets mount.

    Textual styles each widget as it mounts, then restyles the whole screen again on its
    first ScreenResume though nothing changed in between: a sixth of the event loop's CPU
    in a dialog's opening (bench/dialogs.py: first-opening CPU p95 184-207 ms with it,
    159-165 ms without, 2026-12-07). Textual runs each class's `_on_screen_resume` down
    the MRO, this one first; later resumes still restyle (classes may have changed while
    covered). tests/test_tui_styled_once.py fails if an upgrade changes what it relies on.
    Through `NoSameSizeReflow`, the screen under it is not laid out again either.
    """

    _resumed_before = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed_before:
            self._resumed_before = True
            event.refresh_styles = False  # styled as its widgets mounted, just now


def close_dialog(screen: Screen[Any]) -> None:
    """Close the dialog on top with no answer, safe even when nobody waits for it any more.

    `Screen.dismiss` hands its result to the future of the worker that pushed it with
    `push_screen_wait`; when that worker was cancelled the future is cancelled too and
    `set_result` raises InvalidStateError from inside the key handler. Such a dialog is
    popped without an answer.
    """
    waiting = screen._result_callbacks[-1] if screen._result_callbacks else None
    if waiting is not None and waiting.future is not None and waiting.future.done():
        screen.app.pop_screen()
    else:
        screen.dismiss(None)
