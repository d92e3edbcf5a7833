"""Who may talk to whom: Kubernetes NetworkPolicy, Istio and Linkerd policy, over plain dicts.

Pure functions over the objects a cluster holds; no I/O, no Kubernetes client.
Two users share them, so the drill teaches what the live preview predicts:

- the drill cluster (`actions/drill/sim/traffic.py`, `engine.py`) decides which
  flows pass and which attempts are dropped;
- the runbook's previews (`actions/runbook/isolate.py`, `block_ip.py`,
  `mesh_deny.py`) say what an action will and will not stop, from the objects
  they read through the official client.

Modules: `view` (the objects, cached lists; `ClusterView.of(objects)` for a
preview's snapshot), `endpoints` (a pod or an address, and a verdict),
`networkpolicy`, `istio`, `linkerd` (one rule set each) and `reachability`
(a whole connection, network then mesh, and the questions the previews ask).
Each rule names its upstream source in docs/policy-semantics.md.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actions.policy.endpoints import Endpoint, Verdict
    from actions.policy.reachability import connection_verdict
    from actions.policy.view import ClusterView

# Where each name lives, imported on first use: the console's panes import one small helper
# (`selectors.selector_text`) before their first frame, which need not wait for the rule
# sets (a hundredth of a second; bench/drill_launch.py).
_LAZY = {
    "ClusterView": "actions.policy.view",
    "Endpoint": "actions.policy.endpoints",
    "Verdict": "actions.policy.endpoints",
    "connection_verdict": "actions.policy.reachability",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'actions.policy' has no attribute {name!r}")


__all__ = ["ClusterView", "Endpoint", "Verdict", "connection_verdict"]
