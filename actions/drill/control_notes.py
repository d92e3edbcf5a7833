"""The facilitator's controls on the drill incident's timeline, also those made before it.

A pause, a speed change or an inject is a `drill.control` timeline entry of the
drill's incident (who, the drill's time, the new speed, the inject), so the
report's appendix and the review show that an MTTD window was a pause. What the
drill cluster saw change (a workload cut off, an address blocked, an injected
change undone, a flow stopped) is a `drill.observed` entry, whoever made the
change: a fix made with kubectl is on the timeline and in the report, not only
in the score. The
first ones usually come before anyone has opened the incident (the MTTD window
is the time until someone does): they are kept here and written onto the
incident, at the time they were made, once there is one. The console's keys
(`tui/screens/keys/facilitator.py`) and the control socket (`warroom drill
control`, `tui/cli/cmd_drill.py`) each keep one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store import Record

CONTROL_KIND = "drill.control"
OBSERVED_KIND = "drill.observed"


@dataclass(frozen=True)
class Control:
    """One control as it was made (or one change the cluster saw, `OBSERVED_KIND`): when,
    by whom, its summary and its data."""

    at: datetime
    actor: str | None
    summary: str
    data: dict[str, Any]
    kind: str = CONTROL_KIND


class ControlNotes:
    """Controls waiting for the drill's incident; safe to call from any thread."""

    def __init__(self) -> None:
        self._waiting: list[Control] = []
        self._lock = threading.Lock()

    @property
    def waiting(self) -> bool:
        with self._lock:
            return bool(self._waiting)

    def note(self, record: Record, incident_id: str | None, control: Control) -> None:
        """Write the control on the incident (after any waiting ones), or keep it until one
        is open (`incident_id` None)."""
        with self._lock:
            self._waiting.append(control)
            if incident_id is not None:
                self._write(record, incident_id)

    def attach(self, record: Record, incident_id: str) -> int:
        """Write the waiting controls onto the incident, at their own times; how many."""
        with self._lock:
            return self._write(record, incident_id)

    def _write(self, record: Record, incident_id: str) -> int:
        written = 0
        with record.write() as txn:
            for control in self._waiting:
                record.timeline.add_in(
                    txn, incident_id, control.kind, control.summary, actor=control.actor,
                    data=control.data, at=control.at,
                )
                written += 1
        self._waiting = []
        return written
