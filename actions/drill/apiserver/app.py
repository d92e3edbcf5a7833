"""The aiohttp application: routes, injected faults, RBAC, and errors as Status objects.

Every request first meets the fault table (an injected failure changes
nothing), then the path is parsed, the drill's RBAC rules are checked with
the verb the real authorizer would use, and the verb's handler runs. Any
ApiError becomes its Status JSON with the matching HTTP code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import (
    discovery,
    guard,
    handlers,
    logs,
    openapi,
    paths,
    proxy,
    remote,
    status,
    subresources,
    watch,
)
from .responses import error_response, json_response

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from .cluster_state import ClusterState

LOG = logging.getLogger(__name__)
STATE_KEY: web.AppKey[Any] = web.AppKey("state", object)
STREAMS_KEY: web.AppKey[set[asyncio.Queue[Any]]] = web.AppKey("streams", set)
TOKEN_KEY: web.AppKey[str] = web.AppKey("token", str)
NAMES_KEY: web.AppKey[frozenset[str]] = web.AppKey("names", frozenset)


def build_app(state: ClusterState, *, token: str,
              names: frozenset[str] = guard.LOOPBACK_NAMES) -> web.Application:
    """The API server application over one ClusterState; requests need `token` and a `Host`
    among `names` (guard.py)."""
    app = web.Application(middlewares=[_guard, _faults_and_errors],
                          client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = state
    app[TOKEN_KEY] = token
    app[NAMES_KEY] = names
    app[STREAMS_KEY] = set()
    app.router.add_get("/version", _version)
    app.router.add_get("/healthz", _ok)
    app.router.add_get("/livez", _ok)
    app.router.add_get("/readyz", _ok)
    # With or without the trailing slash, as the real server (the official client's
    # ApisApi.get_api_versions asks for /apis/).
    for prefix, discovered in (("/api", _core_versions), ("/apis", _group_list)):
        app.router.add_get(prefix, discovered)
        app.router.add_get(f"{prefix}/", discovered)
    app.router.add_get("/openapi/v3", _openapi_index)
    app.router.add_get("/openapi/v3/{tail:.*}", _openapi_document)
    app.router.add_route("*", "/api/{tail:.*}", _api)
    app.router.add_route("*", "/apis/{tail:.*}", _api)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    app.on_shutdown.append(_stop_streams)
    return app


async def _stop_streams(app: web.Application) -> None:
    """End every watch and log follow so shutdown does not wait on them."""
    streams: set[asyncio.Queue[Any]] = app[STREAMS_KEY]
    for queue in list(streams):
        queue.put_nowait(None)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Its own Host, no browser Origin, the kubeconfig's bearer token: before anything else."""
    refused = guard.refusal(request, request.app[TOKEN_KEY], request.app[NAMES_KEY])
    return refused if refused is not None else await handler(request)


@web.middleware
async def _faults_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    state: ClusterState = request.app[STATE_KEY]
    fault = state.faults.match(request.method, request.path_qs)
    try:
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            injected = fault.error()
            if injected is not None:
                raise injected
        return await handler(request)
    except status.ApiError as error:
        return error_response(error)
    except web.HTTPException:
        raise  # aiohttp's own answers (413 for a body over the size limit)
    except Exception as exc:  # a bug must still answer as an API server does, not a traceback
        LOG.exception("drill API server: %s %s failed", request.method, request.path)
        return error_response(status.error(500, "InternalError",
                                           f"Internal error occurred: {type(exc).__name__}"))


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _version(request: web.Request) -> web.Response:
    return json_response(discovery.version())


async def _core_versions(request: web.Request) -> web.Response:
    return json_response(discovery.core_versions(request.host))


async def _group_list(request: web.Request) -> web.Response:
    return json_response(discovery.group_list(request.app[STATE_KEY].absent_groups))


async def _openapi_index(request: web.Request) -> web.Response:
    return json_response(openapi.index(request.app[STATE_KEY].absent_groups))


async def _openapi_document(request: web.Request) -> web.Response:
    document = openapi.lookup(request.match_info["tail"], request.app[STATE_KEY].absent_groups)
    if document is None:
        raise status.unknown_resource()
    return json_response(document)


async def _not_found(request: web.Request) -> web.Response:
    raise status.unknown_resource()


def _authorize(state: ClusterState, verb: str, target: paths.Target) -> None:
    resource = target.resource
    assert resource is not None
    state.check_allowed(verb, resource.group, resource.plural, target.namespace, target.name,
                        target.subresource)


async def _api(request: web.Request) -> web.StreamResponse:
    state: ClusterState = request.app[STATE_KEY]
    streams = request.app[STREAMS_KEY]
    path = request.path
    if path.startswith("/apis/") and path.count("/") == 2:
        found = discovery.group(path.split("/")[2], state.absent_groups)
        if found is None or request.method != "GET":
            raise status.unknown_resource()
        return json_response(found)
    target = paths.parse(path)
    method = request.method
    if target.resource is None:
        document = discovery.resource_list(target.group, target.version, state.absent_groups)
        if document is None or method != "GET":
            raise status.unknown_resource()
        return json_response(document)
    if target.subresource == "log":
        if method != "GET":
            raise status.method_not_allowed()
        _authorize(state, "get", target)
        assert target.namespace is not None
        assert target.name is not None
        return await logs.serve_logs(state, target.namespace, target.name, request, streams)
    if target.subresource == "proxy":
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method)
        if verb is None or target.namespace is None or target.name is None:
            raise status.method_not_allowed()
        _authorize(state, verb, target)
        return await proxy.serve_proxy(state, target.namespace, target.name,
                                       "/".join(target.rest), request)
    if target.subresource in ("scale", "status", "ephemeralcontainers"):
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(method)
        if verb is None:
            raise status.method_not_allowed()
        _authorize(state, verb, target)
        return await subresources.serve(state, target, request, handlers.read_json)
    if target.subresource in ("exec", "attach", "portforward"):
        _authorize(state, "create", target)
        return await remote.serve(state, target, request)
    if target.name is None:
        return await _collection(state, target, request, streams)
    return await _item(state, target, request)


async def _collection(state: ClusterState, target: paths.Target, request: web.Request,
                      streams: set[asyncio.Queue[Any]]) -> web.StreamResponse:
    resource = target.resource
    assert resource is not None
    method = request.method
    if resource.verbs == ("create",):
        if method != "POST":
            raise status.method_not_allowed()
        return await handlers.create_object(state, target, request)
    if method == "GET":
        if request.query.get("watch", "").lower() in ("true", "1"):
            _authorize(state, "watch", target)
            return await watch.serve_watch(state, target, request, streams)
        _authorize(state, "list", target)
        return handlers.list_objects(state, target, request)
    if method == "POST":
        if resource.namespaced and target.namespace is None:
            raise status.method_not_allowed()
        _authorize(state, "create", target)
        return await handlers.create_object(state, target, request)
    if method == "DELETE":
        _authorize(state, "deletecollection", target)
        return await handlers.delete_collection(state, target, request)
    raise status.method_not_allowed()


async def _item(state: ClusterState, target: paths.Target,
                request: web.Request) -> web.StreamResponse:
    resource = target.resource
    assert resource is not None
    if resource.namespaced and target.namespace is None:
        raise status.unknown_resource()
    if resource.verbs == ("create",):
        raise status.method_not_allowed()
    method = request.method
    if method == "GET":
        _authorize(state, "get", target)
        return handlers.get_object(state, target, request)
    if method == "PUT":
        _authorize(state, "update", target)
        return await handlers.replace_object(state, target, request)
    if method == "PATCH":
        _authorize(state, "patch", target)
        return await handlers.patch_object(state, target, request)
    if method == "DELETE":
        _authorize(state, "delete", target)
        return await handlers.delete_object(state, target, request)
    raise status.method_not_allowed()
