"""Keep the cyclic garbage collector from freezing the console for a tenth of a second.

Textual's strips cache their own derived strips, and often themselves (a strip
already the right length is its own adjusted copy), so every line drawn is a
small reference cycle that only the cyclic collector frees. A console redrawing
under a Falco flood makes about 25,000 such objects a second. With CPython's
default thresholds they outlive two young collections, reach the oldest
generation, and each full collection then walks every object the console built
at startup: 100-250 ms with the event loop (and, through the GIL, the record's
thread) stopped (bench/console.py, bench/review.py).

So: the middle generation waits for 50 young collections instead of 10, so a
drawn line is garbage before it is promoted; and what lives as long as the
process is frozen out of collections (`gc.freeze`: never scanned again, still
freed by reference counting): the imported modules when the console is built,
the first screen's widgets once it is up, and what the dialogs' warm-up imported
and styled once it is done (tui/warmup.py). Collections then take a few
milliseconds, a full one rarely more than 30.

Each freeze happens once per process: freezing again would also freeze the
garbage of a console that already closed (tests run many), which no
collection could then free.

Until the first screen is up there is no cyclic collection at all: the imports
and the first screen build objects that live as long as the console and next to
no garbage, and the collections they set off took 60 ms of the CPU before the
first frame (bench/drill_launch.py). The first screen's freeze collects once and
turns collection back on.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG, MIDDLE, OLD = 700, 50, 10  # CPython's defaults are 700, 10, 10

_done: set[str] = set()


def _once(step: str) -> bool:
    if step in _done:
        return False
    _done.add(step)
    return True


@contextmanager
def paused_until_first_screen() -> Iterator[None]:
    """No cyclic collection while a console starts, until `freeze_first_screen` (or the
    end of the block: the console closed before its first screen was up)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def freeze_imports() -> None:
    """Set the console's thresholds and freeze what the imports built (`tui.app.console_app`:
    where a console starts, never in a test's app)."""
    gc.set_threshold(YOUNG, MIDDLE, OLD)
    if _once("imports"):
        gc.freeze()  # nothing to collect first: importing leaves next to no garbage


def freeze_first_screen() -> None:
    """Collect, then freeze the first screen's widgets and data (once it is on screen);
    collect from now on (see `paused_until_first_screen`)."""
    if _once("first screen"):
        gc.collect()  # garbage frozen now would never be freed
        gc.freeze()
    gc.enable()


def freeze_warmed() -> None:
    """Collect, then freeze what the dialogs' warm-up built (their modules and styles, which
    live as long as the console), once: a dialog's first opening then sets off no full
    collection walking them."""
    if _once("warm-up"):
        gc.collect()
        gc.freeze()
