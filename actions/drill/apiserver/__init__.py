"""The drill cluster's Kubernetes API server, one job per module.

What it serves (checked with kubernetes 37 sync + aio clients and kubectl 1.37):
discovery (`/version`, `/api`, `/apis`, each group/version) and an OpenAPI v3
stub; namespaces, pods (+`log`), events, services (+`proxy`), serviceaccounts,
secrets, networkpolicies, Istio security v1/v1beta1, Linkerd policy kinds,
SelfSubjectAccessReview (JSON and kubectl's protobuf); get, list (label and
field selectors, Tables for kubectl), watch, create, replace, patch (JSON,
merge, strategic for built-ins), delete, deletecollection, dryRun=All,
fieldValidation; errors as Status objects worded as the real server's.

Modules without aiohttp, shared with `cluster_state`: resources, status,
selectors, patch, validation, defaults, rbac, faults, protobuf, prometheus,
tables, paths. HTTP side: app (routing, faults, RBAC, errors), handlers
(verbs), watch, logs, proxy (istiod syncz, Prometheus), discovery, openapi,
options, responses.
"""
