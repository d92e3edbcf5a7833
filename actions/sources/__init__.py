"""Live sources: Falco, Kubernetes events, NetworkPolicies and more, streaming into the record.

Each source is an object with `async run(sink)` that runs until cancelled and
hands plain dataclasses (`AlertBatch`, `SourceHealth`, `WarningEvent`,
`DriftReport`...) to `sink`, a plain callable. Nothing here imports Textual:
the console, `warroom watch` and tests subscribe the same way.
"""
