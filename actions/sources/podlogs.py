"""Following the logs of every pod matching a selector, like `kubectl logs -f` on each.

All matching pods at once, each from the start of its log (not kubectl's 10
lines and 5 pods); new pods picked up, gone ones dropped after their stream
ends (so their last lines are kept); a broken stream resumed from
`sinceTime`, the lines already handed on dropped by a LogCursor. Lines go to
an async callback in the order read; what the follower can see goes to
`on_state` as (state, detail).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from actions.kube.streams import ApiStatusError, Backoff, LineSplitter, iter_body_lines, open_stream
from actions.sources.cursor import LogCursor
from actions.sources.health import (
    ABSENT,
    CONNECTED,
    FORBIDDEN,
    RETRYING,
    STARTING,
    state_for_status,
)
from actions.sources.pods import STREAM_ERRORS, PodInfo, PodWatcher, describe
from store.wording import counted

OnLines = Callable[[str, int, list[bytes]], Awaitable[None]]
"""(pod, line number of the first line, lines with their kubelet timestamps)."""


class PodLogs:
    """`await PodLogs(api, ns, [selector, fallback]).run(on_lines, on_state)` until cancelled."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        selectors: list[str],
        *,
        what: str = "pods",
        container: str | None = None,
        backoff_first: float = 0.5,
        backoff_max: float = 30.0,
        gone_grace_seconds: float = 5.0,
        relist_seconds: int = 60,
        stream_max_seconds: float = 600.0,
        gather_seconds: float = 0.02,
    ) -> None:
        self.api = api
        self.gather_seconds = gather_seconds
        self.namespace = namespace
        self.what = what
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.gone_grace_seconds = gone_grace_seconds
        self.stream_max_seconds = stream_max_seconds
        self.reconnects = 0
        self.watcher = PodWatcher(
            api, namespace, selectors, preferred_container=container,
            relist_seconds=relist_seconds, backoff=Backoff(backoff_first, backoff_max),
        )
        self._on_lines: OnLines | None = None
        self._on_state: Callable[[str, str], None] = lambda _state, _detail: None
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._cursors: dict[str, LogCursor] = {}
        self._gone: set[str] = set()
        self._pod_states: dict[str, tuple[str, str]] = {}
        self._discovery: tuple[str, str] = (STARTING, "listing pods")
        self._stopping = False

    @property
    def matched_selector(self) -> str | None:
        """Which selector found the pods (the configured one or a fallback)."""
        return self.watcher.matched_selector

    @property
    def pods(self) -> list[str]:
        return sorted(self._followers)

    async def run(self, on_lines: OnLines, on_state: Callable[[str, str], None]) -> None:
        self._on_lines, self._on_state = on_lines, on_state
        self._stopping = False
        self._refresh()
        discovery = asyncio.create_task(
            self.watcher.run(self._on_pods, self._on_discovery), name=f"{self.what}-pods")
        try:
            await asyncio.wait([discovery])  # not `await discovery`: see FalcoFollower.run
            discovery.result()
        finally:
            self._stopping = True
            tasks = [discovery, *self._followers.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ----- pods ------------------------------------------------------------------------------

    def _on_discovery(self, state: str, detail: str) -> None:
        self._discovery = (state, detail)
        self._refresh()

    def _on_pods(self, pods: dict[str, PodInfo]) -> None:
        for name, info in pods.items():
            if name not in self._followers:
                self._gone.discard(name)
                self._followers[name] = asyncio.create_task(
                    self._follow(info), name=f"{self.what}-log-{name}")
        for name in list(self._followers):
            if name not in pods and name not in self._gone:
                # The stream normally ends by itself once the pod is gone; the grace
                # period only bounds a stream that hangs, so its last lines are not cut.
                self._gone.add(name)
                asyncio.get_running_loop().call_later(
                    self.gone_grace_seconds, self._drop_pod, name)
        self._refresh()

    def _drop_pod(self, name: str) -> None:
        if name in self._gone and (task := self._followers.get(name)) is not None:
            task.cancel()

    def _forget(self, name: str) -> None:
        self._followers.pop(name, None)
        self._pod_states.pop(name, None)
        self._gone.discard(name)
        self._refresh()

    def _set_pod_state(self, name: str, state: str, detail: str) -> None:
        self._pod_states[name] = (state, detail)
        self._refresh()

    # ----- one pod's log ---------------------------------------------------------------------

    async def _follow(self, info: PodInfo) -> None:
        try:
            await self._follow_stream(info)
        finally:
            self._forget(info.name)

    async def _follow_stream(self, info: PodInfo) -> None:
        assert self._on_lines is not None
        name = info.name
        cursor = self._cursors.setdefault(name, LogCursor())
        backoff = Backoff(self.backoff_first, self.backoff_max)
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}/log"
        while True:
            query: list[tuple[str, Any]] = [("follow", "true"), ("timestamps", "true")]
            if info.container:
                query.append(("container", info.container))
            since = cursor.resume_from()
            if since is not None:
                query.append(("sinceTime", since))
            try:
                response = await open_stream(self.api, path, query, accept="text/plain")
            except ApiStatusError as error:
                if error.status == 404 or name in self._gone:
                    return
                self._set_pod_state(name, state_for_status(error.status),
                                    f"{name}: {error.message}")
                await backoff.sleep()
                continue
            except STREAM_ERRORS as error:
                if name in self._gone:
                    return
                self._set_pod_state(name, RETRYING, f"{name}: {describe(error)}")
                await backoff.sleep()
                continue
            self._set_pod_state(name, CONNECTED, "")
            cursor.begin_connection()
            ended = "ended"
            try:
                # Renewed now and then (resumed, nothing lost): a half-open connection
                # to a quiet pod would otherwise wait forever.
                async with asyncio.timeout(self.stream_max_seconds):
                    async for lines in iter_body_lines(response, LineSplitter(),
                                                       gather_seconds=self.gather_seconds):
                        fresh = cursor.accept(lines)
                        if fresh:
                            await self._on_lines(name, cursor.lines - len(fresh) + 1, fresh)
                        backoff.reset()
            except TimeoutError:
                ended = "renewed"
            except STREAM_ERRORS as error:
                ended = f"broke ({describe(error)})"
            finally:
                response.release()
            if name in self._gone:
                return
            if ended == "renewed":
                continue
            self.reconnects += 1
            resume = cursor.resume_from() or "the start"
            self._set_pod_state(name, RETRYING,
                                f"{name}: log stream {ended}; resuming from {resume}")
            await backoff.sleep()

    # ----- what the follower sees ------------------------------------------------------------

    def _refresh(self) -> None:
        if self._stopping:
            return
        state, detail = self._discovery
        if state != CONNECTED:
            self._on_state(state, detail)
            return
        followed = sorted(self._followers)
        if not followed:
            self._on_state(ABSENT, f"no {self.what} to follow in {self.namespace}")
            return
        problems = {name: s for name, s in self._pod_states.items()
                    if s[0] not in (CONNECTED, STARTING)}
        if problems:
            worst = FORBIDDEN if any(s[0] == FORBIDDEN for s in problems.values()) else RETRYING
            text = "; ".join(problem[1] for _, problem in sorted(problems.items()))
            connected = len(followed) - len(problems)
            self._on_state(
                worst, f"{connected} of {counted(len(followed), 'pod')} connected; {text}")
            return
        self._on_state(
            CONNECTED,
            f"following {counted(len(followed), 'pod')} matching {self.matched_selector} in "
            f"{self.namespace}: " + ", ".join(followed))
