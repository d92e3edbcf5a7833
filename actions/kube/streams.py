"""Small helpers over the official `kubernetes.aio` client that every source needs.

Raw requests through the client's own ApiClient (so kubeconfig auth, TLS and
proxies apply), reading chunked responses (watch and log follow) line by line.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from actions.falco.lines import MAX_LINE_BYTES, OverlongLine

# The client's default is 5 minutes in total, which would cut every follow; a
# stream may stay silent for hours, so only connecting is bounded here (the
# follower renews long streams itself, see FalcoFollower.stream_max_seconds).
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=None)


class ApiStatusError(Exception):
    """The API server answered with an error status (403, 404, 410...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


async def open_stream(api: Any, path: str, query: list[tuple[str, Any]], *,
                      accept: str = "application/json") -> Any:
    """Start a GET whose body is read as it arrives; returns the aiohttp response.

    Raises ApiStatusError for an error answer, with the Status message when there is one.
    """
    params = await api.param_serialize(
        method="GET", resource_path=path, query_params=query,
        header_params={"Accept": accept}, auth_settings=["BearerToken"],
    )
    rest = await api.call_api(*params, _preload_content=False, _request_timeout=STREAM_TIMEOUT)
    response = rest.response
    if response.status >= 400:
        body = await response.read()
        response.release()
        raise ApiStatusError(response.status, status_message(body))
    return response


def status_message(body: bytes) -> str:
    """The `message` of a Kubernetes Status body, else the start of the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])[:300]
    return body[:300].decode("utf-8", "replace")


def api_status(error: BaseException) -> int | None:
    """The HTTP status of an ApiStatusError or a client ApiException, else None."""
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else None


class LineSplitter:
    """Cuts a chunked body into lines (no newline) without trusting their length."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._overlong = 0  # bytes of the current line dropped past the limit

    def feed(self, chunk: bytes) -> list[bytes]:
        if not self._overlong and len(self._buffer) + len(chunk) <= self._max:
            # The common case, in bulk: no line here can be over the limit.
            data = chunk
            if self._buffer:
                data = bytes(self._buffer) + chunk
                self._buffer.clear()
            lines = data.split(b"\n")
            self._buffer += lines.pop()
            if b"\r" in data:
                lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
            return lines
        lines = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end == -1:
                self._keep(chunk[start:])
                return lines
            self._keep(chunk[start:end])
            lines.append(self._take())
            start = end + 1

    @property
    def partial(self) -> bytes:
        """What was read of a line whose newline has not come (yet)."""
        return bytes(self._buffer)

    def _keep(self, piece: bytes) -> None:
        room = self._max - len(self._buffer)
        if len(piece) <= room:
            self._buffer += piece
        else:
            self._buffer += piece[:room]
            self._overlong += len(piece) - room

    def _take(self) -> bytes:
        line = bytes(self._buffer)
        if line.endswith(b"\r"):
            line = line[:-1]
        overlong, self._overlong = self._overlong, 0
        self._buffer.clear()
        return OverlongLine(line, len(line) + overlong) if overlong else line


async def iter_body_lines(response: Any, splitter: LineSplitter, *,
                          gather_seconds: float = 0.0) -> AsyncIterator[list[bytes]]:
    """Lists of complete lines as chunks of the body arrive; ends at the end of the body.

    With `gather_seconds`, waits that long after each read so that a busy
    stream's lines are taken in bulk: an API server sends a followed log line
    by line, and waking up for each of thousands of lines a second costs more
    than the lines' own parsing. A line waits at most that long.
    """
    content = response.content
    while True:
        chunk = await content.readany()
        if not chunk:
            return
        lines = splitter.feed(chunk)
        if lines:
            yield lines
        if gather_seconds:
            await asyncio.sleep(gather_seconds)


async def watch_objects(api: Any, path: str, query: list[tuple[str, Any]]
                        ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(type, object) for each watch event until the server ends the watch.

    An ERROR event (e.g. 410 Expired) is raised as ApiStatusError.
    """
    response = await open_stream(api, path, [*query, ("watch", "true")])
    try:
        splitter = LineSplitter()
        async for lines in iter_body_lines(response, splitter):
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    raise ApiStatusError(int(obj.get("code") or 500), str(obj.get("message")))
                yield kind, obj
    finally:
        response.release()


async def get_json(api: Any, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
    """GET a JSON document (a list, an object) as plain dicts."""
    response = await open_stream(api, path, query or [])
    try:
        return json.loads(await response.read())
    finally:
        response.release()


@dataclass
class Backoff:
    """Exponential reconnect delays with jitter: first, first*2, ... up to `maximum`."""

    first: float = 0.5
    maximum: float = 30.0
    _next: float = 0.0

    def next_delay(self) -> float:
        delay = self._next or self.first
        self._next = min(delay * 2, self.maximum)
        return delay * (0.8 + 0.4 * random.random())  # noqa: S311 - jitter, not security

    def reset(self) -> None:
        self._next = 0.0

    async def sleep(self) -> float:
        delay = self.next_delay()
        await asyncio.sleep(delay)
        return delay
