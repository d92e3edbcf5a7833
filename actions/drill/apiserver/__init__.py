"""The drill cluster's Kubernetes API server, one job per module.

Modules without aiohttp (resources, status, selectors, patch, validation,
defaults, rbac, faults, protobuf) are shared with `cluster_state`; the HTTP
side lives in `app` and the handler modules it wires up.
"""
