"""The runbook's checklist per phase, and the checks the console can run for some items.

- `load_checklists()` / `checklist_for(phase)`: the shipped `checklists.toml`
  (the runbook's wording and order, a stable id per item, a verifier name
  for items the console can check).
- `run_verifier(name, context)` / `verify_items(items, context)`: verdicts
  (verified / not-verified / unknown, with the evidence in words) from the
  cluster (services healthy, mTLS enforced, policies applied) and the record
  (no suspicious activity, alerting working). They never raise.

- `proofs(record, incident_id)` / `tick_proven(...)` / `tick_verified(...)`:
  what the record proves done (a succeeded action, stored evidence, a verified
  check) and the ticks warroom records for it, citing the proof.

Ticks themselves are the record's: `record.checklist.tick(...)`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use: the console imports the light parts (the data, the keys) at start and
# the verifiers, which read the cluster, only when the checklist opens.
_WHERE = {
    "actions.checklists.model": (
        "VERIFIER_NAMES", "ChecklistDataError", "ChecklistItem", "PhaseChecklist",
        "checklist_for", "load_checklists", "parse_checklists",
    ),
    "actions.checklists.proven": ("WARROOM", "Proof", "proofs", "tick_proven", "tick_verified"),
    "actions.checklists.verdict": ("NOT_VERIFIED", "STATES", "UNKNOWN", "VERIFIED", "Verdict"),
    "actions.checklists.verify": (
        "VERIFIERS", "VerifyContext", "run_verifier", "threaded", "verify_items",
    ),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

if TYPE_CHECKING:
    from actions.checklists.model import (
        VERIFIER_NAMES,
        ChecklistDataError,
        ChecklistItem,
        PhaseChecklist,
        checklist_for,
        load_checklists,
        parse_checklists,
    )
    from actions.checklists.proven import WARROOM, Proof, proofs, tick_proven, tick_verified
    from actions.checklists.verdict import NOT_VERIFIED, STATES, UNKNOWN, VERIFIED, Verdict
    from actions.checklists.verify import (
        VERIFIERS,
        VerifyContext,
        run_verifier,
        threaded,
        verify_items,
    )


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = importlib.import_module(module)
    # Every name of that module at once: one import, however many names are asked for.
    globals().update({each: getattr(loaded, each) for each in _WHERE[module]})
    return globals()[name]


__all__ = [
    "NOT_VERIFIED",
    "STATES",
    "UNKNOWN",
    "VERIFIED",
    "VERIFIERS",
    "VERIFIER_NAMES",
    "WARROOM",
    "ChecklistDataError",
    "ChecklistItem",
    "PhaseChecklist",
    "Proof",
    "Verdict",
    "VerifyContext",
    "checklist_for",
    "load_checklists",
    "parse_checklists",
    "proofs",
    "run_verifier",
    "threaded",
    "tick_proven",
    "tick_verified",
    "verify_items",
]
