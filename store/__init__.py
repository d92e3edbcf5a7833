"""The incident record: SQLite through sqlite-utils, with a tamper-evident audit chain.

Never imports textual or kubernetes (a test checks).
"""

from typing import TYPE_CHECKING, Any

from store.errors import RecordBusy, RecordError, UnknownIncident
from store.models import (
    DECISIONS,
    PHASE_TITLES,
    PHASES,
    SEVERITIES,
    ActionEntry,
    AlertRecord,
    ChecklistTick,
    Decision,
    EvidenceItem,
    Incident,
    TimelineEntry,
)
from store.record import Record, iso, utc_now

if TYPE_CHECKING:
    from store.verify import VerifyResult, verify_chain


def __getattr__(name: str) -> Any:
    """`verify_chain` and `VerifyResult`, imported on first use: the console opens its
    record before its first frame and never verifies it there."""
    if name in ("VerifyResult", "verify_chain"):
        from store import verify

        return getattr(verify, name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")

__all__ = [
    "DECISIONS",
    "PHASES",
    "PHASE_TITLES",
    "SEVERITIES",
    "ActionEntry",
    "AlertRecord",
    "ChecklistTick",
    "Decision",
    "EvidenceItem",
    "Incident",
    "Record",
    "RecordBusy",
    "RecordError",
    "TimelineEntry",
    "UnknownIncident",
    "VerifyResult",
    "iso",
    "utc_now",
    "verify_chain",
]
