"""The drill cluster: a Kubernetes API server on 127.0.0.1 playing a scenario, and its score.

Apart from the live action path (import-linter: the emulator never imports `kube`,
`sources`, `runbook` or `notify`): it answers as a cluster, through the same client and
kubectl the live path uses. Where to start: `session.DrillSession` (state, API server,
engine and player together).

- `apiserver/`: the API server (routes, validation, watches, controllers, cluster state).
- `sim/`: the simulated world: the attack, traffic, mesh, Hubble flows, PromQL, reactions.
- `scenario.py` and `scenarios/`: the YAML format and the built-in drills; `player.py` plays
  their injects; `clock.py` the drill's clock; `drill_events.py` what it reports.
- `score.py`, `team_score.py`: the answer key against what the team did.
- `control.py`: the facilitator's controls from another terminal; `control_notes.py`: each
  control on the drill incident's timeline, also one made before it was open; `server.py`, `tls.py`,
  `kubeconfig.py`: serving it; `schemas/`: the real JSON schemas its objects are checked by.
"""
