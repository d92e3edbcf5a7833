"""Everything warroom does, headless: no Textual here (import-linter checks it).

One sub-package per product; the console (`tui`) and the commands call them, and they
call the record (`store`). Where to start, by job:

- `kube/`: the one door to a cluster (`connect`, `Cluster`); only it imports kubernetes.
- `runbook/`: the runbook's actions, previewed, confirmed and recorded (`RunbookActions`).
- `sources/`: live sources following a cluster into the record (`LiveSources`).
- `falco/`: Falco output parsed and classified by the runbook's severities.
- `notify/`: alert channels (PagerDuty, Slack, e-mail, SIEM) through the record's outbox.
- `policy/`: who may talk to whom (NetworkPolicy, Istio, Linkerd), pure functions.
- `checklists/`: the runbook's checklist per phase, and the checks behind some items.
- `drill/`: the drill cluster (an API server, a simulated world) and its scenarios and score.
- `config.py`: the settings file; `runtime.py`: the threads, loops and record connections
  one console runs (`ConsoleRuntime`).

docs/architecture.md draws the layers and how an alert and a key travel through them.
"""
