"""The runbook's checklists as data: one `PhaseChecklist` per phase, loaded from the package.

`checklists.toml` (shipped with the package) holds the items in the
runbook's words and order; `load_checklists()` reads and checks it once
(unique ids, known phases, verifiers and proofs) and returns plain frozen
dataclasses. A tick is recorded under the item's text (what the record,
the report and the drill score read); `tick_for` also finds one recorded
under the item's id. `proven_by` says which recorded actions and evidence
prove an item (`actions.checklists.proven` reads them).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from store import PHASE_TITLES, PHASES, ChecklistTick

SHIPPED_FILE = "checklists.toml"
VERIFIER_NAMES = (
    "services-healthy",
    "mtls-enforced",
    "policies-applied",
    "no-suspicious-activity",
    "alerting-working",
)
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"id", "section", "text", "detail", "verifier", "proven_by"}
# The runbook actions whose success can prove an item (actions.runbook.model.ACTIONS).
PROVING_ACTIONS = (
    "isolate", "block-ip", "disable-sa", "mesh-deny", "rotate-sa", "capture", "restore",
    "reapply-policies",
)  # fmt: skip
MESH_QUALIFIERS = ("istio", "linkerd")


class ChecklistDataError(ValueError):
    """The checklist data is malformed; the message names the item and the problem."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One runbook step to tick."""

    id: str
    phase: str
    section: str
    text: str
    detail: str = ""
    verifier: str | None = None
    proven_by: tuple[str, ...] = ()
    """`action:NAME` (or `action:mesh-deny:istio`), `evidence:GLOB` (a stored piece's name)."""

    def tick_for(self, ticks: Mapping[tuple[str, str], ChecklistTick]) -> ChecklistTick | None:
        """The latest tick of this item in `record.checklist.state()`, by its text or its id."""
        found = [t for key in (self.text, self.id) if (t := ticks.get((self.phase, key)))]
        return max(found, key=lambda tick: tick.id) if found else None


@dataclass(frozen=True, slots=True)
class PhaseChecklist:
    """The items of one phase, in the runbook's order."""

    phase: str
    items: tuple[ChecklistItem, ...]

    @property
    def title(self) -> str:
        return PHASE_TITLES[self.phase]

    @property
    def verifiable(self) -> tuple[ChecklistItem, ...]:
        return tuple(item for item in self.items if item.verifier)

    def item(self, item_id: str) -> ChecklistItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no item {item_id!r} in the {self.phase} checklist")

    def done(self, ticks: Mapping[tuple[str, str], ChecklistTick]) -> int:
        """How many items are ticked now."""
        return sum(1 for item in self.items if (t := item.tick_for(ticks)) and t.checked)


def parse_checklists(text: str, name: str = SHIPPED_FILE) -> dict[str, PhaseChecklist]:
    """Checklists from TOML text, every phase of store.PHASES present, in that order."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ChecklistDataError(f"{name}: not valid TOML: {error}") from None
    unknown = sorted(set(document) - set(PHASES))
    if unknown:
        raise ChecklistDataError(f"{name}: unknown phases {', '.join(unknown)}")
    seen: set[str] = set()
    checklists: dict[str, PhaseChecklist] = {}
    for phase in PHASES:
        entries = document.get(phase)
        if not isinstance(entries, list) or not entries:
            raise ChecklistDataError(f"{name}: no items for phase {phase}")
        items = tuple(_item(phase, entry, index, name, seen) for index, entry in enumerate(entries))
        checklists[phase] = PhaseChecklist(phase, items)
    return checklists


def _item(phase: str, entry: Any, index: int, name: str, seen: set[str]) -> ChecklistItem:
    where = f"{name}: {phase} item {index + 1}"
    if not isinstance(entry, dict):
        raise ChecklistDataError(f"{where}: not a table")
    extra = sorted(set(entry) - _KEYS)
    if extra:
        raise ChecklistDataError(f"{where}: unknown keys {', '.join(extra)}")
    for key in ("id", "section", "text"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ChecklistDataError(f"{where}: {key} must be a non-empty string")
    item_id = entry["id"]
    if not _ID.match(item_id):
        raise ChecklistDataError(f"{where}: id {item_id!r} must be lowercase words and dashes")
    if item_id in seen:
        raise ChecklistDataError(f"{where}: id {item_id!r} is used twice")
    seen.add(item_id)
    verifier = entry.get("verifier")
    if verifier is not None and verifier not in VERIFIER_NAMES:
        raise ChecklistDataError(
            f"{where}: unknown verifier {verifier!r} (known: {', '.join(VERIFIER_NAMES)})"
        )
    detail = entry.get("detail", "")
    if not isinstance(detail, str):
        raise ChecklistDataError(f"{where}: detail must be a string")
    proven_by = entry.get("proven_by", [])
    if not isinstance(proven_by, list) or not all(isinstance(p, str) for p in proven_by):
        raise ChecklistDataError(f"{where}: proven_by must be a list of strings")
    for proof in proven_by:
        if problem := _proof_problem(proof):
            raise ChecklistDataError(f"{where}: proven_by {proof!r}: {problem}")
    return ChecklistItem(
        item_id, phase, entry["section"], entry["text"], detail, verifier, tuple(proven_by)
    )


def _proof_problem(proof: str) -> str | None:
    """Why a `proven_by` entry cannot be used (None when it can)."""
    kind, _, rest = proof.partition(":")
    if kind == "evidence":
        return None if rest else "evidence: needs a name pattern, e.g. evidence:logs-*.txt"
    if kind != "action":
        return "must start with action: or evidence:"
    action, _, qualifier = rest.partition(":")
    if action not in PROVING_ACTIONS:
        return f"unknown action {action!r} (known: {', '.join(PROVING_ACTIONS)})"
    if qualifier and (action != "mesh-deny" or qualifier not in MESH_QUALIFIERS):
        return "only mesh-deny takes a qualifier, istio or linkerd"
    return None


@cache
def load_checklists() -> Mapping[str, PhaseChecklist]:
    """The shipped checklists, by phase (read once; read-only)."""
    shipped = resources.files("actions.checklists").joinpath(SHIPPED_FILE)
    return MappingProxyType(parse_checklists(shipped.read_text(encoding="utf-8")))


def checklist_for(phase: str) -> PhaseChecklist:
    """The shipped checklist of one phase."""
    if phase not in PHASES:
        raise KeyError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
    return load_checklists()[phase]
