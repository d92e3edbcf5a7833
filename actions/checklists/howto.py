"""How a runbook step is done from the console: the key, or the `warroom` command line.

The console binds these keys (`tui/screens/keys/cluster.py` takes its cluster-action
keys from `ACTION_KEYS`); the drill score and the checklist say them in words when a
step was missed, e.g. "press i on the alert, or `warroom act isolate orchestrator`".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store import PHASE_TITLES

if TYPE_CHECKING:  # named only: the console imports this module before its first frame
    from actions.checklists.model import ChecklistItem

# Runbook action -> (console key, the placeholder of its target on the command line).
ACTION_KEYS: dict[str, tuple[str, str]] = {
    "isolate": ("i", "SERVICE"),
    "block-ip": ("b", "IP"),
    "disable-sa": ("x", "NAME"),
    "mesh-deny": ("m", "SERVICE"),
    "rotate-sa": ("t", "NAME"),
    "capture": ("c", ""),
    "restore": ("R", ""),
    "reapply-policies": ("A", ""),
}
# Actions whose target the selected alert prefills: "on the alert" is worth saying.
_FROM_THE_ALERT = ("isolate", "block-ip", "mesh-deny", "disable-sa", "rotate-sa")


def action_how(action: str, target: str | None = None) -> str:
    """`press i on the alert, or `warroom act isolate orchestrator``."""
    key, placeholder = ACTION_KEYS[action]
    argument = target or placeholder
    command = f"warroom act {action}" + (f" {argument}" if argument else "")
    where = " on the alert" if action in _FROM_THE_ALERT else ""
    return f"press {key}{where}, or `{command}`"


def tick_how(item: ChecklistItem) -> str:
    """`press k, then space on "Review Falco alerts" (Detection & Analysis)`."""
    return f'press k, then space on "{item.text}" ({PHASE_TITLES[item.phase]})'


def item_how(item: ChecklistItem, targets: dict[str, str] | None = None) -> str:
    """How `item` gets done from the console: its action, its capture, its check or a tick.

    `targets`: action -> the target to name (a drill's answer key knows it).
    """
    targets = targets or {}
    ways = []
    for proof in item.proven_by:
        kind, _, rest = proof.partition(":")
        action = rest.partition(":")[0] if kind == "action" else "capture"
        way = action_how(action, targets.get(action))
        if way not in ways:
            ways.append(way)
    if item.verifier:
        ways.append(f"press k, then v in {PHASE_TITLES[item.phase]} (a verified check ticks it)")
    ways.append(tick_how(item))
    return "; ".join(ways)
