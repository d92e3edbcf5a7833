"""`GET .../pods/{name}/log`: text/plain, chunked, many lines to a write.

Honours container, follow, tailLines, sinceSeconds, sinceTime, timestamps and
limitBytes. With follow the response stays open and appended lines are written
as they arrive, until the client goes away, the pod is deleted or the server
stops. Like a real API server, lines that arrive together leave together: the
API server copies the kubelet's stream to the client with `io.Copy` through a
flushing writer (k8s.io/apiserver handlers/responsewriters `StreamObject`), so a
busy log reaches the client in chunks of up to 32 KiB, not a chunk per line.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import options, status
from .resources import by_kind

if TYPE_CHECKING:
    from .cluster_state import ClusterState, LogLine, WatchEvent

STOP = None
BACKLOG_LINES = 512
"""Lines rendered to one write at most, unless one append brings more (a few tens of KiB,
as io.Copy's 32 KiB)."""


def format_log_timestamp(moment: datetime) -> str:
    """RFC 3339 with nanosecond precision and trailing zeros trimmed (Go RFC3339Nano)."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}000".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _parse_since_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise status.bad_request(f'sinceTime: invalid RFC 3339 time "{text}"') from None
    if moment.tzinfo is None:
        raise status.bad_request(f'sinceTime: "{text}" has no time zone')
    return moment


def _container(pod: dict[str, Any], requested: str | None, state: ClusterState) -> str:
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for key in ("containers", "initContainers", "ephemeralContainers")
             for c in spec.get(key) or [] if isinstance(c, dict)]
    name = pod["metadata"]["name"]
    if requested:
        if names and requested not in names:
            raise status.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = state.default_container(pod["metadata"]["namespace"], name)
    main = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
    if len(main) > 1 and not (pod["metadata"].get("annotations") or {}).get(
            "kubectl.kubernetes.io/default-container"):
        raise status.bad_request(f"a container name must be specified for pod {name}, choose one "
                                 f"of: [{' '.join(main)}]")
    return default or ""


async def serve_logs(state: ClusterState, namespace: str, name: str, request: web.Request,
                     streams: set[asyncio.Queue[Any]]) -> web.StreamResponse:
    query = request.query
    pod = state.get("v1", "Pod", namespace, name)
    if pod is None:
        resource = by_kind("v1", "Pod")
        assert resource is not None
        raise status.not_found(resource, name)
    container = _container(pod, query.get("container"), state)
    if options.is_true(query, "previous"):
        _previous_log(pod, container)
    follow = options.is_true(query, "follow")
    with_timestamps = options.is_true(query, "timestamps")
    tail = options.non_negative_int(query, "tailLines")
    limit = options.non_negative_int(query, "limitBytes")
    since_seconds = options.non_negative_int(query, "sinceSeconds")
    since_time = query.get("sinceTime")
    _validate_options(name, since_seconds, since_time, limit)
    since: datetime | None = None
    if since_seconds is not None:
        since = _seconds_before(state.clock(), since_seconds)
    elif since_time:
        since = _parse_since_time(since_time)

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def on_lines(line_namespace: str, pod_name: str, appended: list[LogLine]) -> None:
        # One append is one container's: one wake-up of the event loop for all its lines.
        if (line_namespace, pod_name) == (namespace, name) and appended[0].container == container:
            loop.call_soon_threadsafe(queue.put_nowait, appended)

    def on_change(event: WatchEvent) -> None:
        if (event.type == "DELETED" and event.resource.kind == "Pod"
                and event.obj["metadata"].get("namespace") == namespace
                and event.obj["metadata"]["name"] == name):
            loop.call_soon_threadsafe(queue.put_nowait, STOP)

    unsubscribers = []
    with state.lock:
        if follow:
            lines, stop_lines = state.follow_logs(on_lines, namespace, name, container)
            _, stop_changes = state.watch_from(None, on_change)
            unsubscribers = [stop_lines, stop_changes]
        else:
            lines = state.log_lines(namespace, name, container)
    if since is not None:
        lines = [line for line in lines if line.at >= since]
    if tail is not None:
        lines = lines[-tail:] if tail else []  # a tail longer than the log is the whole log

    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    written = 0
    streams.add(queue)
    try:
        await response.prepare(request)
        for start in range(0, len(lines), BACKLOG_LINES):
            data = _render(lines[start:start + BACKLOG_LINES], with_timestamps)
            if limit is not None and written + len(data) > limit:
                await response.write(data[:limit - written])
                return response
            written += len(data)
            await response.write(data)
        while follow:
            arrived, stopped = _take_arrived(await queue.get(), queue)
            if since is not None:
                arrived = [line for line in arrived if line.at >= since]
            if arrived:
                await response.write(_render(arrived, with_timestamps))
            if stopped:
                break
        await response.write_eof()
    except ConnectionResetError:
        pass  # the follower went away
    finally:
        streams.discard(queue)
        for unsubscribe in unsubscribers:
            unsubscribe()
    return response


def _seconds_before(now: datetime, seconds: int) -> datetime | None:
    """`seconds` before `now`; None (every line) for a span reaching past the calendar's start,
    which a hostile sinceSeconds can ask for: every line is later than that."""
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        return None


def _validate_options(pod: str, since_seconds: int | None, since_time: str | None,
                      limit: int | None) -> None:
    """pkg/apis/core/validation ValidatePodLogOptions, answered as the log REST answers it."""
    causes: list[tuple[str, str, str]] = []
    for field, value in (("sinceSeconds", since_seconds), ("limitBytes", limit)):
        if value == 0:
            causes.append(("FieldValueInvalid", field, "Invalid value: 0: must be greater than 0"))
    if since_seconds is not None and since_time:
        causes.append(("FieldValueForbidden", "",
                       "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
    if causes:
        texts = [f"{field}: {text}" if field else text for _, field, text in causes]
        joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        raise status.error(422, "Invalid", f'PodLogOptions "{pod}" is invalid: {joined}',
                           name=pod, kind="PodLogOptions",
                           causes=[{"reason": reason, "message": text, "field": field}
                                   for reason, field, text in causes])


def _previous_log(pod: dict[str, Any], container: str) -> None:
    """`previous=true`: the drill keeps no log of a terminated instance, so every container
    answers as the kubelet does for one that never restarted (a 400 through the API server)."""
    name = pod["metadata"]["name"]
    raise status.bad_request(f'previous terminated container "{container}" in pod "{name}" '
                             "not found")


def _take_arrived(first: Any, queue: asyncio.Queue[Any]) -> tuple[list[LogLine], bool]:
    """The lines queued by now (up to about BACKLOG_LINES: a slow reader's backlog goes in
    several writes), in order, and whether the pod is gone after them."""
    arrived: list[LogLine] = []
    item = first
    while True:
        if item is STOP:
            return arrived, True
        arrived.extend(item)
        if queue.empty() or len(arrived) >= BACKLOG_LINES:
            return arrived, False
        item = queue.get_nowait()


def _render(lines: list[LogLine], with_timestamps: bool) -> bytes:
    """The lines as the kubelet writes them; a time shared by consecutive lines formatted once."""
    if not with_timestamps:
        return "".join(f"{line.text}\n" for line in lines).encode("utf-8", "replace")
    parts = []
    moment: datetime | None = None
    stamp = ""
    for line in lines:
        if line.at != moment:
            moment, stamp = line.at, format_log_timestamp(line.at)
        parts.append(f"{stamp} {line.text}\n")
    return "".join(parts).encode("utf-8", "replace")
