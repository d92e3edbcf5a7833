"""List, then watch, one kind of object; relist when the watch ends or breaks.

The objects are kept as plain dicts by name; `on_change` is called after the
list and after every watch event, with the current objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.kube.streams import ApiStatusError, Backoff, get_json, watch_objects
from actions.sources.health import CONNECTED, RETRYING, state_for_status
from actions.sources.pods import STREAM_ERRORS, describe

Objects = dict[str, dict[str, Any]]


class ListWatch:
    """Keeps `objects` equal to the server's, for one path and query."""

    def __init__(self, api: Any, path: str, *, what: str,
                 query: list[tuple[str, Any]] | None = None, relist_seconds: int = 300,
                 backoff: Backoff | None = None) -> None:
        self.api = api
        self.path = path
        self.what = what
        self.query = list(query or [])
        self.relist_seconds = relist_seconds
        self.backoff = backoff or Backoff()
        self.objects: Objects = {}

    async def run(self, on_change: Callable[[str, dict[str, Any] | None, Objects], None],
                  on_state: Callable[[str, str], None]) -> None:
        """Runs until cancelled. `on_change(kind, obj, objects)`: kind "LIST" (obj None),
        "ADDED", "MODIFIED" or "DELETED"."""
        while True:
            try:
                listing = await get_json(self.api, self.path, self.query)
                self.objects = {_name(item): item for item in listing.get("items") or []}
                version = (listing.get("metadata") or {}).get("resourceVersion")
                on_state(CONNECTED, f"watching {self.what}")
                self.backoff.reset()
                on_change("LIST", None, self.objects)
                query = [*self.query, ("timeoutSeconds", self.relist_seconds),
                         ("allowWatchBookmarks", "true")]
                if version:
                    query.append(("resourceVersion", version))
                async for kind, obj in watch_objects(self.api, self.path, query):
                    if kind == "BOOKMARK":
                        continue
                    if kind == "DELETED":
                        self.objects.pop(_name(obj), None)
                    else:
                        self.objects[_name(obj)] = obj
                    on_change(kind, obj, self.objects)
            except ApiStatusError as error:
                if error.status == 410:
                    continue  # our resourceVersion is too old: relist now
                on_state(state_for_status(error.status), f"{self.what}: {error.message}")
                await self.backoff.sleep()
            except STREAM_ERRORS as error:
                on_state(RETRYING, f"{self.what}: {describe(error)}")
                await self.backoff.sleep()


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name"))
