"""A drill's own folder (its flows, its `hubble`, the desired state) and a console's settings
for it.

Apart from `actions.drill.session`, which imports the whole simulated cluster: `warroom
drill` sets its console up with these before any of that is imported, so the console's
first frame does not wait for the drill (its cluster starts after it).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

HUBBLE_FLOWS = "hubble-flows.json"
DESIRED_STATE = "network-policies.yaml"


def new_runtime_dir() -> Path:
    """A private folder for one drill's own files (flows, `hubble`, desired state)."""
    return Path(tempfile.mkdtemp(prefix="warroom-drill-"))


def drill_settings(settings: Any, runtime_dir: Path) -> Any:
    """The configuration for a console on the drill: the scenario's desired state, not the
    user's (that file describes their real cluster)."""
    policies = dataclasses.replace(
        settings.policies, desired_state_file=runtime_dir / DESIRED_STATE
    )
    return dataclasses.replace(settings, policies=policies)
