"""The incident record: SQLite (the standard library's sqlite3), with a tamper-evident audit chain.

Never imports textual or kubernetes (a test checks).
"""

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
from store.verify import VerifyResult, verify_chain

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
