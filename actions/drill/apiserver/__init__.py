"""The drill cluster's Kubernetes API server, one job per module.

What it serves (checked with kubernetes 37 sync + aio clients and kubectl 1.37;
docs/drill-conformance.md has the table): discovery and OpenAPI v3 with the real
schemas; core, apps, discovery and networking kinds, Istio and Linkerd policy kinds,
the self-subject reviews; get, list (label and field selectors, limit/continue,
Tables), watch, create, replace, patch (JSON, merge, strategic), delete,
deletecollection, dryRun, fieldValidation; pods' log, exec (WebSocket), ephemeral
containers; workloads' scale and status; errors as Status objects worded as the
real server's.

Modules without aiohttp, shared with `cluster_state`: resources, status,
selectors, paging, patch, validation, field_checks, cel, defaults, rbac, faults,
protobuf, protobuf_objects, prometheus, tables, paths, workloads, controllers,
endpoints, commands (exec requests and answers).

HTTP side: app (routing, faults, RBAC, errors), handlers (verbs), subresources
(scale, status, ephemeralcontainers), remote (exec, attach, port-forward), watch,
logs, proxy (istiod syncz, Prometheus), discovery, openapi, options, responses.
"""
