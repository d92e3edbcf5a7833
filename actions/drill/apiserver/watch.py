"""`?watch=true` on a list: a chunked stream of JSON events, one per line.

Without a resourceVersion (or with "0") the stream starts with a synthetic
ADDED per existing object; with one, it replays the changes after it, or
sends an ERROR event with a 410 Expired Status when history no longer reaches
back. Objects entering or leaving the selectors become ADDED/DELETED, as the
real watch cache does. `timeoutSeconds` ends the response.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import status, tables
from .paths import Target
from .selectors import field_labels, parse_field_selector, parse_label_selector

if TYPE_CHECKING:
    from .cluster_state import ClusterState, WatchEvent

# A real server closes a watch after 30-60 minutes when no timeoutSeconds is given.
DEFAULT_TIMEOUT = 1800.0
STOP = None  # queued by the server on shutdown


def _start_version(text: str | None) -> int | None:
    if text in (None, "", "0"):
        return None
    try:
        return int(text)
    except ValueError:
        raise status.bad_request(f'invalid resource version "{text}"') from None


def _timeout(text: str | None) -> float:
    if not text:
        return DEFAULT_TIMEOUT
    try:
        return max(0.0, float(text))
    except ValueError:
        raise status.bad_request(f'invalid timeoutSeconds "{text}"') from None


async def serve_watch(state: ClusterState, target: Target, request: web.Request,
                      streams: set[asyncio.Queue[Any]]) -> web.StreamResponse:
    resource = target.resource
    assert resource is not None
    query = request.query
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"),
                                  field_labels(resource.group, resource.kind))
    start = _start_version(query.get("resourceVersion"))
    deadline = time.monotonic() + _timeout(query.get("timeoutSeconds"))
    send_initial = query.get("sendInitialEvents", "").lower() == "true"
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include_object = query.get("includeObject", "Metadata")
    printed_columns = False

    def shown(obj: dict[str, Any]) -> dict[str, Any]:
        """The event's object, as a one-row Table when kubectl asked for tables."""
        nonlocal printed_columns
        if not as_table:
            return obj
        one_row = tables.table(resource, [obj], obj["metadata"]["resourceVersion"],
                               include_object, state.clock())
        if printed_columns:
            # Only the first event carries column definitions, as the real server sends them.
            one_row["columnDefinitions"] = []
        printed_columns = True
        return one_row

    def matches(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if resource.namespaced and target.namespace is not None \
                and obj["metadata"].get("namespace") != target.namespace:
            return False
        return labels(obj) and fields(obj)

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def watched(event: WatchEvent) -> bool:
        return event.resource.group == resource.group and event.resource.plural == resource.plural

    def listener(event: WatchEvent) -> None:
        if watched(event):
            loop.call_soon_threadsafe(queue.put_nowait, event)

    initial: list[dict[str, Any]] = []
    expired: status.ApiError | None = None
    backlog: list[WatchEvent] = []
    unsubscribe = None
    with state.lock:
        if start is None:
            initial = state.list(target.api_version, resource.kind, target.namespace)
            initial = [obj for obj in initial if matches(obj)]
            _, unsubscribe = state.watch_from(None, listener)
        else:
            try:
                changes, unsubscribe = state.watch_from(start, listener)
                # The history holds every resource's changes; this watch replays its own.
                backlog = [event for event in changes if watched(event)]
            except status.ApiError as error:
                expired = error

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    streams.add(queue)
    try:
        await response.prepare(request)
        if expired is not None:
            await _write(response, "ERROR", expired.status)
            return response
        for obj in initial:
            await _write(response, "ADDED", shown(obj))
        if send_initial:
            await _write(response, "BOOKMARK", {
                "kind": resource.kind, "apiVersion": target.api_version,
                "metadata": {"resourceVersion": state.resource_version,
                             "annotations": {"k8s.io/initial-events-end": "true"}}})
        for event in backlog:
            await _send(response, event, target, matches, shown)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                event = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                break
            if event is STOP:
                break
            await _send(response, event, target, matches, shown)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        streams.discard(queue)
        if unsubscribe is not None:
            unsubscribe()
    return response


async def _send(response: web.StreamResponse, event: WatchEvent, target: Target,
                matches: Any, shown: Any) -> None:
    now, before = matches(event.obj), matches(event.old)
    if event.type == "ADDED":
        kind = "ADDED" if now else None
    elif event.type == "DELETED":
        kind = "DELETED" if (now or before) else None
    elif now and before:
        kind = "MODIFIED"
    elif now:
        kind = "ADDED"
    elif before:
        kind = "DELETED"
    else:
        kind = None
    if kind is None:
        return
    obj = dict(event.obj)
    obj["apiVersion"] = target.api_version
    await _write(response, kind, shown(obj))


async def _write(response: web.StreamResponse, kind: str, obj: dict[str, Any]) -> None:
    line = json.dumps({"type": kind, "object": obj}) + "\n"
    await response.write(line.encode())
