"""What the record proves of the checklist, and the ticks warroom records for it.

An item's `proven_by` (checklists.toml) names what proves it was done: a
succeeded runbook action (`action:isolate`, `action:mesh-deny:istio`) or a
stored piece of evidence (`evidence:networkpolicies-*.yaml`); a verifiable
item is also proven by a "verified" answer of its check. `proofs()` reads the
record and lists every proof; `tick_proven()` records a tick by warroom for
each proof the checklist does not show yet, citing it ("ticked by warroom from
action #12: ..."), so the checklist, the report and the drill score all read
the same ticks. Ticks by hand stay possible, and a person's word wins: a proof
ticks an item only when it is newer than the item's latest tick, so an item a
person unticked stays unticked until something new proves it.

Plain functions over `store.Record`, run on the record's own thread by the
caller (the console's `in_record`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from actions.checklists.model import ChecklistItem, load_checklists
from actions.checklists.verdict import VERIFIED, Verdict

if TYPE_CHECKING:
    from store import ActionEntry, ChecklistTick, EvidenceItem, Record

WARROOM = "warroom"
"""The actor of the ticks warroom records itself."""
MAX_MESSAGE_CHARS = 200  # of an action's outcome message quoted in a tick's note


@dataclass(frozen=True, slots=True)
class Proof:
    """One recorded fact that shows an item done."""

    item: ChecklistItem
    source: str
    """Where it is in the record: `action #12` (the outcome's row), `verification`."""
    evidence: str
    """What it shows, in words."""
    at: datetime
    action: str | None = None
    """The runbook action behind it (its target matters to a drill's answer key)."""
    target: str | None = None

    @property
    def note(self) -> str:
        """What the tick records with it."""
        return f"ticked by {WARROOM} from {self.source}: {self.evidence}"


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M:%S} UTC"


def _mesh_of(outcome: ActionEntry) -> str | None:
    """The mesh a mesh-deny changed: from the objects it applied, else the one asked for."""
    for applied in outcome.data.get("applied") or []:
        group = str((applied or {}).get("apiVersion", "")) if isinstance(applied, dict) else ""
        if "istio.io" in group:
            return "istio"
        if "linkerd.io" in group:
            return "linkerd"
    asked = outcome.params.get("mesh")
    return str(asked) if asked in ("istio", "linkerd") else None


def _action_proves(spec: str, outcome: ActionEntry) -> bool:
    action, _, qualifier = spec.partition(":")
    if outcome.action != action:
        return False
    return not qualifier or _mesh_of(outcome) == qualifier


def _described(outcome: ActionEntry) -> str:
    target = f" {outcome.target}" if outcome.target else ""
    message = (outcome.message or "").strip()
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
    said = f": {message}" if message else ""
    return f"{outcome.action}{target} {outcome.status} at {_clock(outcome.at)}{said}"


def item_proofs(
    item: ChecklistItem,
    succeeded: Iterable[ActionEntry],
    evidence: Iterable[EvidenceItem],
) -> list[Proof]:
    """The proofs of one item among succeeded outcomes and stored evidence, oldest first."""
    outcomes = list(succeeded)
    by_action_id = {o.action_id: o for o in outcomes}
    found: list[Proof] = []
    for spec in item.proven_by:
        kind, _, rest = spec.partition(":")
        if kind == "action":
            found += [
                Proof(item, f"action #{o.id}", _described(o), o.at, o.action, o.target)
                for o in outcomes
                if _action_proves(rest, o)
            ]
        elif kind == "evidence":
            for piece in evidence:
                if not fnmatch.fnmatchcase(piece.name, rest):
                    continue
                outcome = by_action_id.get(piece.action_id or "")
                stored = f"{piece.name} stored at {_clock(piece.at)} (evidence #{piece.id})"
                if outcome is None:
                    found.append(Proof(item, f"evidence #{piece.id}", stored, piece.at))
                else:
                    found.append(
                        Proof(item, f"action #{outcome.id}", f"{outcome.action}: {stored}",
                              piece.at, outcome.action, outcome.target)
                    )  # fmt: skip
    found.sort(key=lambda proof: proof.at)
    return found


def proofs(record: Record, incident_id: str) -> dict[str, list[Proof]]:
    """Every checklist item's proofs in the record (item id -> proofs, oldest first)."""
    succeeded = [
        entry
        for entry in record.actions.for_incident(incident_id)
        if entry.entry == "outcome" and entry.status == "succeeded"
    ]
    evidence = record.evidence.for_incident(incident_id)
    found: dict[str, list[Proof]] = {}
    for checklist in load_checklists().values():
        for item in checklist.items:
            if item.proven_by and (shown := item_proofs(item, succeeded, evidence)):
                found[item.id] = shown
    return found


def newer_than_the_last_tick(
    item: ChecklistItem, proof: Proof, ticks: Mapping[tuple[str, str], ChecklistTick]
) -> bool:
    """Whether `proof` should tick `item`: nothing ticked it, or it came after the last tick
    (a person's untick after it stands)."""
    latest = item.tick_for(ticks)
    return latest is None or (not latest.checked and proof.at > latest.at)


def tick_proven(record: Record, incident_id: str) -> list[Proof]:
    """Record a tick by warroom for every item a proof shows done and the checklist does not.

    Returns the proofs it ticked. Safe to call again: a ticked item is left alone.
    """
    ticks = record.checklist.state(incident_id)
    items = {item.id: item for c in load_checklists().values() for item in c.items}
    ticked = []
    for item_id, found in proofs(record, incident_id).items():
        item = items[item_id]
        fresh = [proof for proof in found if newer_than_the_last_tick(item, proof, ticks)]
        if not fresh:
            continue
        proof = fresh[0]
        record.checklist.tick(incident_id, item.phase, item.text, actor=WARROOM, note=proof.note)
        ticked.append(proof)
    return ticked


def tick_verified(
    record: Record, incident_id: str, item: ChecklistItem, verdict: Verdict
) -> Proof | None:
    """Tick `item` as warroom when its check verified it and it is not ticked; else None."""
    if verdict.state != VERIFIED or not item.verifier:
        return None
    at = verdict.checked_at or record.clock()
    proof = Proof(item, "verification", verdict.note(), at)
    latest = item.tick_for(record.checklist.state(incident_id))
    if latest is not None and latest.checked:
        return None
    record.checklist.tick(
        incident_id, item.phase, item.text, actor=WARROOM, verified=VERIFIED, note=proof.note
    )
    return proof
