"""Cluster access: the one package that imports the kubernetes client (import-linter checks it).

`cluster.connect(options)` returns a `Cluster` (kubectl's rules for the kubeconfig and
context; typed errors in `ClusterError`); `streams` holds what every source needs over
`kubernetes.aio` (list-then-watch, logs). Start at `cluster.py`.
"""
