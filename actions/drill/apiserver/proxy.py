"""The service proxy: `/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}`.

Two upstreams are played, each only while its Service object exists:
- `istio-system/istiod` port 15014 (or 8080): `debug/syncz`, the body from
  `state.syncz_provider()` (compact JSON array; `?pretty` indents by 4;
  `?namespace=` filters proxies). The provider may raise ApiError to answer an
  error, e.g. the 401 istiod gives a caller it does not trust.
- `monitoring/prometheus` port 9090: `api/v1/query` and `api/v1/query_range`
  (GET or form POST) over `state.metrics_provider` (see prometheus.py).
Without a provider the proxy answers 503 "no endpoints available", as a real
API server does for a Service with no ready pods.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import prometheus, status
from .resources import by_kind
from .responses import json_response

if TYPE_CHECKING:
    from .cluster_state import ClusterState

ISTIOD = ("istio-system", "istiod")
PROMETHEUS = ("monitoring", "prometheus")


def _split_reference(reference: str) -> tuple[str, str | None]:
    """`https:istiod:15014` -> ("istiod", "15014"); `istiod` -> ("istiod", None)."""
    parts = reference.split(":")
    if len(parts) == 3:
        return parts[1], parts[2] or None
    if len(parts) == 2:
        return parts[0], parts[1] or None
    return parts[0], None


def _port_exists(service: dict[str, Any], port: str) -> bool:
    for entry in (service.get("spec") or {}).get("ports") or []:
        if str(entry.get("port")) == port or entry.get("name") == port:
            return True
    return False


def _not_found_page() -> web.Response:
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


async def serve_proxy(state: ClusterState, namespace: str, reference: str, path: str,
                      request: web.Request) -> web.StreamResponse:
    name, port = _split_reference(reference)
    service = state.get("v1", "Service", namespace, name)
    if service is None:
        resource = by_kind("v1", "Service")
        assert resource is not None
        raise status.not_found(resource, name)
    if port is not None and not _port_exists(service, port):
        raise status.service_unavailable(f'no service port "{port}" found for service "{name}"')
    path = path.strip("/")
    if (namespace, name) == ISTIOD:
        return _syncz(state, path, request, name)
    if (namespace, name) == PROMETHEUS:
        return await _prometheus(state, path, request, name)
    raise status.service_unavailable(f'no endpoints available for service "{name}"')


def _syncz(state: ClusterState, path: str, request: web.Request, name: str) -> web.Response:
    provider = state.syncz_provider
    if provider is None:
        raise status.service_unavailable(f'no endpoints available for service "{name}"')
    if request.method != "GET" or path != "debug/syncz":
        return _not_found_page()
    proxies = provider()
    wanted = request.query.get("namespace")
    if wanted:
        proxies = [p for p in proxies if str(p.get("proxy", "")).endswith(f".{wanted}")]
    indent = 4 if "pretty" in request.query else None
    separators = None if indent else (",", ":")
    body = json.dumps(proxies, indent=indent, separators=separators)
    return web.Response(text=body + "\n", content_type="application/json")


async def _prometheus(state: ClusterState, path: str, request: web.Request,
                      name: str) -> web.Response:
    provider = state.metrics_provider
    if provider is None:
        raise status.service_unavailable(f'no endpoints available for service "{name}"')
    if path not in ("api/v1/query", "api/v1/query_range") or request.method not in ("GET",
                                                                                     "POST"):
        return _not_found_page()
    params = dict(request.query)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    try:
        if path == "api/v1/query":
            body = prometheus.instant_query(provider, params, state.clock().timestamp())
        else:
            body = prometheus.range_query(provider, params)
    except prometheus.PrometheusError as error:
        return json_response(error.body(), error.code)
    return json_response(body)
