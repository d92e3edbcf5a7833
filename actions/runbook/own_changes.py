"""What open incidents changed in the cluster on purpose, read from the record.

Re-applying the desired policies keeps these changes (actions/runbook/reapply.py),
and the drift watch does not count them as drift (actions/policy/drift.py).
Read from the intents, as restore reads them, so a change whose outcome was never
recorded is still known; callers keep only what the cluster still has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actions.policy.drift import OwnContainment
from actions.runbook.block_ip import POLICY as BLOCK_POLICY

if TYPE_CHECKING:
    from store import Record


def open_incident_blocks(record: Record, namespace: str) -> dict[str, list[str]]:
    """The addresses open incidents' block-ip put in BLOCK_POLICY here -> those incidents.

    Read from the intents (as restore reads them), so a block whose outcome was
    never recorded is still known; only what the cluster still has is kept."""
    held: dict[str, list[str]] = {}
    for incident in record.incidents.open_ones():
        for entry in record.actions.for_incident(incident.id):
            if entry.entry != "intent" or entry.action != "block-ip":
                continue
            for block in entry.data.get("blocks") or []:
                if not isinstance(block, dict) or block.get("policy") != BLOCK_POLICY:
                    continue
                if str(block.get("namespace") or namespace) != namespace or not block.get("ip"):
                    continue
                owners = held.setdefault(str(block["ip"]), [])
                if incident.id not in owners:
                    owners.append(incident.id)
    return held


def own_containment(record: Record, namespace: str) -> OwnContainment:
    """The open incidents and the addresses their block-ip put in BLOCK_POLICY here."""
    blocks = open_incident_blocks(record, namespace)
    return OwnContainment(
        incidents=frozenset(i.id for i in record.incidents.open_ones()),
        blocks={ip: tuple(ids) for ip, ids in blocks.items()},
    )


def quarantined_workloads(record: Record) -> dict[str, str]:
    """Workloads (the app isolate was given) an incident still containing them quarantined
    -> that incident. An incident recovered or closed has lifted its isolation."""
    return _containing(record, "isolate")


def mesh_denied_workloads(record: Record) -> dict[str, str]:
    """Workloads (the app mesh-deny was given) an incident still containing them cut off in
    the mesh -> that incident: the mesh refuses their callers on purpose."""
    return _containing(record, "mesh-deny")


def _containing(record: Record, action: str) -> dict[str, str]:
    held: dict[str, str] = {}
    for incident in record.incidents.open_ones():
        if incident.status not in ("open", "contained"):
            continue
        for entry in record.actions.for_incident(incident.id):
            if entry.entry == "intent" and entry.action == action and entry.target:
                held.setdefault(entry.target, incident.id)
    return held


# What the incident's containment actions leave applied until a restore takes them away.
CONTAINMENTS = ("isolate", "mesh-deny", "disable-sa", "block-ip")


def still_applied(record: Record, incident_id: str) -> list[str]:
    """The incident's containments that succeeded and no later successful restore undid, as
    "isolate orchestrator": closing the incident leaves them in the cluster. A restore undoes
    them all but the IP blocks, which go only with its unblock."""
    held: list[str] = []
    for entry in record.actions.for_incident(incident_id):
        if entry.entry != "outcome" or entry.status != "succeeded":
            continue
        if entry.action == "restore":
            unblocked = bool(entry.params.get("unblock"))
            held = [h for h in held if h.startswith("block-ip ") and not unblocked]
        elif entry.action in CONTAINMENTS:
            done = f"{entry.action} {entry.target or ''}".strip()
            if done not in held:
                held.append(done)
    return held
