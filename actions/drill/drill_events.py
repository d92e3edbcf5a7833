"""What the drill reports as it plays: plain dataclasses the console and the CLI show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# DrillEvent.kind values.
START = "start"
INJECT = "inject"
SUPPRESSED = "suppressed"
REACTION = "reaction"
CONTROL = "control"
ERROR = "error"
END = "end"


@dataclass(frozen=True)
class DrillEvent:
    """One thing that happened in the drill.

    at: scenario seconds since the start; wall: when it happened (UTC);
    kind: one of start, inject, suppressed, reaction, control, error, end.
    """

    at: float
    wall: datetime
    kind: str
    summary: str
    inject_id: str | None = None
    malicious: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 3),
            "wall": self.wall.isoformat(),
            "kind": self.kind,
            "summary": self.summary,
            "inject_id": self.inject_id,
            "malicious": self.malicious,
            "data": self.data,
        }


@dataclass(frozen=True)
class Observation:
    """A containment the cluster itself shows (whoever made it: console, kubectl, script)."""

    # isolate (cut off), block-ip, block-ip-lifted (no longer blocked), mesh-deny,
    # restore (no longer cut off), fix-config, flow-restored,
    # eradicated (a service account's token deleted: its credentials are gone),
    # disable-sa, attack-ended (an attack driver has stopped for good; target: its id)
    action: str
    target: str
    wall: datetime
    by: str
