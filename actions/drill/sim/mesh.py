"""istiod's view of its proxies: the `/debug/syncz` body the drill cluster answers.

The shape follows istio/istio `pilot/pkg/xds/debug.go` (formats.md 2.2): a
top-level array, one object per proxy, `*_sent`/`*_acked` nonces present only
when sent/acknowledged (omitempty), and since 1.23 a `resources` map keyed by
type URL with `sent`, `acked` and `sentTime`. A scenario moves proxies between
SYNCED, STALE, NOT SENT and NEVER ACKNOWLEDGED; the rest is derived.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# (short name used in the top-level keys, type URL), in the order istiod tracks them.
WATCHED_TYPES = (
    ("cluster", "type.googleapis.com/envoy.config.cluster.v3.Cluster"),
    ("listener", "type.googleapis.com/envoy.config.listener.v3.Listener"),
    ("route", "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"),
    ("endpoint", "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"),
)
ZERO_TIME = "0001-01-01T00:00:00Z"


def _go_time(moment: datetime) -> str:
    """Go's time.Time JSON: RFC 3339 with nanoseconds, trailing zeros trimmed."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


class SynczModel:
    """Sync state per proxy; `body()` is what istiod's /debug/syncz returns."""

    def __init__(self, *, seed: int, istio_version: str, clock: Callable[[], datetime]) -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self._lock = threading.Lock()
        self.istio_version = istio_version
        self._push = 0
        self._proxies: dict[str, dict[str, Any]] = {}

    def _nonce(self) -> str:
        self._push += 1
        stamp = self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{stamp}/{self._push}{uuid.UUID(int=self._rng.getrandbits(128), version=4)}"

    def add_proxy(self, proxy_id: str, proxy_type: str = "sidecar") -> None:
        """A proxy that has connected and acknowledged everything (SYNCED)."""
        with self._lock:
            nonce = self._nonce()
            self._proxies[proxy_id] = {
                "type": proxy_type,
                "status": "SYNCED",
                "sent": nonce,
                "acked": nonce,
                "sent_time": self._clock(),
            }

    def remove_proxy(self, proxy_id: str) -> None:
        """The proxy's pod is gone: istiod forgets its connection."""
        with self._lock:
            self._proxies.pop(proxy_id, None)

    def set_status(self, proxy_id: str, status: str) -> None:
        """Move a proxy to SYNCED, STALE, NOT SENT or NEVER ACKNOWLEDGED."""
        with self._lock:
            proxy = self._proxies.get(proxy_id)
            if proxy is None:
                raise KeyError(
                    f"istiod knows no proxy {proxy_id!r} "
                    f"(known: {', '.join(sorted(self._proxies))})"
                )
            proxy["status"] = status
            if status == "SYNCED":
                nonce = self._nonce()
                proxy.update(sent=nonce, acked=nonce, sent_time=self._clock())
            elif status == "STALE":
                proxy.update(sent=self._nonce(), sent_time=self._clock())
            elif status == "NEVER ACKNOWLEDGED":
                proxy.update(sent=self._nonce(), acked=None, sent_time=self._clock())
            else:
                proxy.update(sent=None, acked=None, sent_time=None)

    def status(self, proxy_id: str) -> str:
        with self._lock:
            return str(self._proxies[proxy_id]["status"])

    def proxies(self) -> list[str]:
        with self._lock:
            return sorted(self._proxies)

    def body(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._entry(proxy_id, proxy) for proxy_id, proxy in sorted(self._proxies.items())
            ]

    def _entry(self, proxy_id: str, proxy: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "cluster_id": "Kubernetes",
            "proxy": proxy_id,
            "proxy_type": proxy["type"],
            "istio_version": self.istio_version,
        }
        resources: dict[str, dict[str, Any]] = {}
        for short, type_url in WATCHED_TYPES:
            resource: dict[str, Any] = {}
            if proxy["sent"]:
                entry[f"{short}_sent"] = proxy["sent"]
                resource["sent"] = proxy["sent"]
            if proxy["acked"]:
                entry[f"{short}_acked"] = proxy["acked"]
                resource["acked"] = proxy["acked"]
            resource["sentTime"] = _go_time(proxy["sent_time"]) if proxy["sent_time"] else ZERO_TIME
            resources[type_url] = resource
        entry["resources"] = dict(sorted(resources.items()))
        return entry
