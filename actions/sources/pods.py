"""The pods a source follows: those matching a label selector, with fallbacks, kept current.

Lists with each selector in turn (the first that matches anything wins, and
is reported), then watches that selector so new pods are picked up and gone
ones dropped (a DaemonSet rolling); relists whenever the watch ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from actions.kube.streams import ApiStatusError, Backoff, get_json, watch_objects
from actions.sources.health import ABSENT, CONNECTED, RETRYING, state_for_status

STREAM_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError)
"""What a broken connection or a garbled body raises while reading a stream."""


@dataclass(frozen=True, slots=True)
class PodInfo:
    """What a follower needs of a pod."""

    name: str
    container: str | None
    node: str | None
    phase: str | None


def pod_info(obj: dict[str, Any], preferred_container: str | None) -> PodInfo:
    """The pod's name, the container to read (as kubectl picks it) and where it runs."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or [] if c.get("name")]
    annotated = (metadata.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if preferred_container in names:
        container = preferred_container
    elif annotated in names:
        container = annotated
    else:
        container = names[0] if names else None
    return PodInfo(
        name=str(metadata.get("name")),
        container=container,
        node=spec.get("nodeName"),
        phase=(obj.get("status") or {}).get("phase"),
    )


class PodWatcher:
    """Calls `on_change(pods by name)` whenever the set of matching pods changes."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        selectors: list[str],
        *,
        preferred_container: str | None = None,
        relist_seconds: int = 60,
        absent_retry_seconds: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.selectors = [s for s in selectors if s]
        self.preferred_container = preferred_container
        self.relist_seconds = relist_seconds
        self.absent_retry_seconds = absent_retry_seconds
        self.backoff = backoff or Backoff()
        self.matched_selector: str | None = None
        self.path = f"/api/v1/namespaces/{namespace}/pods"

    async def run(self, on_change: Callable[[dict[str, PodInfo]], None],
                  on_state: Callable[[str, str], None]) -> None:
        """Runs until cancelled; `on_state(state, detail)` says whether it can see the pods."""
        while True:
            try:
                selector, pods, version = await self._resolve()
            except ApiStatusError as error:
                on_state(state_for_status(error.status),
                         f"cannot list pods in {self.namespace}: {error.message}")
                await self.backoff.sleep()
                continue
            except STREAM_ERRORS as error:
                on_state(RETRYING, f"cannot reach the API server: {describe(error)}")
                await self.backoff.sleep()
                continue
            self.backoff.reset()
            self.matched_selector = selector
            on_change(dict(pods))
            if selector is None:
                wanted = " or ".join(self.selectors)
                on_state(ABSENT, f"no pod in {self.namespace} matches {wanted}")
                await asyncio.sleep(self.absent_retry_seconds)
                continue
            on_state(CONNECTED, f"pods matching {selector} in {self.namespace}")
            try:
                await self._watch(selector, version, pods, on_change)
            except ApiStatusError as error:
                if error.status != 410:  # 410: our version is too old, relist at once
                    on_state(state_for_status(error.status),
                             f"watching pods in {self.namespace}: {error.message}")
                    await self.backoff.sleep()
            except STREAM_ERRORS as error:
                on_state(RETRYING, f"pod watch broke: {describe(error)}")
                await self.backoff.sleep()

    async def _resolve(self) -> tuple[str | None, dict[str, PodInfo], str | None]:
        for selector in self.selectors:
            listing = await get_json(self.api, self.path, [("labelSelector", selector)])
            items = listing.get("items") or []
            if items:
                pods = {info.name: info for info in
                        (pod_info(item, self.preferred_container) for item in items)}
                return selector, pods, (listing.get("metadata") or {}).get("resourceVersion")
        return None, {}, None

    async def _watch(self, selector: str, version: str | None, pods: dict[str, PodInfo],
                     on_change: Callable[[dict[str, PodInfo]], None]) -> None:
        query: list[tuple[str, Any]] = [("labelSelector", selector),
                                        ("timeoutSeconds", self.relist_seconds),
                                        ("allowWatchBookmarks", "true")]
        if version:
            query.append(("resourceVersion", version))
        async for kind, obj in watch_objects(self.api, self.path, query):
            if kind == "BOOKMARK":
                continue
            info = pod_info(obj, self.preferred_container)
            if kind == "DELETED":
                if pods.pop(info.name, None) is None:
                    continue
            elif pods.get(info.name) == info:
                continue
            else:
                pods[info.name] = info
            on_change(dict(pods))


def describe(error: BaseException) -> str:
    """A short, one-line description of a connection error."""
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200] if text else type(error).__name__
