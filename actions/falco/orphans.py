"""Worker processes that end when the process that started them is gone.

A ProcessPoolExecutor's workers wait on a queue whose other end they hold
themselves, so a parent killed with SIGKILL (or OOM-killed) leaves them
waiting forever. Each worker watches its parent and exits when it changes.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_SECONDS = 1.0


def exit_with_parent() -> None:
    """Call in a worker's initializer: end this process soon after its parent has ended."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(CHECK_SECONDS)
        os._exit(1)  # the parent is gone: nobody is left to take this worker's results

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
