"""The drill cluster's objects, logs, RBAC and faults: plain dicts in and out.

`ClusterState` is what the embedded API server serves and what the scenario
engine scripts. It behaves as the real API server's storage layer does: one
global resourceVersion, uid/creationTimestamp/generation/generateName filled
in, schema validation (422), AlreadyExists and Conflict (409), a namespace
that must exist (404), dry runs that change nothing, and a change feed
(`subscribe`) delivered synchronously, in commit order, after every committed
change. It is thread-safe: the server runs on its own event loop thread while
tests and scenarios call it from elsewhere.

Objects are stored once per group + resource and shown at whichever served
version is asked for (Istio v1 and v1beta1 share their objects, as on a real
cluster).
"""

from __future__ import annotations

import builtins
import copy
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import paging, rbac, status, validation
from .commands import ExecRequest, ExecResult
from .controllers import ControllerManager
from .defaults import apply_defaults
from .faults import FaultTable
from .resources import ResourceType, by_kind, split_api_version
from .selectors import field_labels, parse_field_selector, parse_label_selector
from .status import ApiError

__all__ = ["ApiError", "ClusterState", "ListPage", "LogLine", "WatchEvent", "format_timestamp"]

Callback = Callable[[str, dict[str, Any]], None]

# How many committed changes a watch can resume from; older resourceVersions get 410 Expired.
HISTORY_LIMIT = 10_000
# A real cluster's resourceVersions are large; starting above zero keeps "0" meaning "any".
FIRST_RESOURCE_VERSION = 1000
_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphabet


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second, as metadata timestamps are written."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WatchEvent:
    """One committed change, as kept for watches: old is the previous object (MODIFIED)."""

    resource_version: int
    type: str
    resource: ResourceType
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass(frozen=True)
class ListPage:
    """One chunk of a list: items, the version read, and the token for the next chunk."""

    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str | None = None
    remaining_item_count: int | None = None


@dataclass(frozen=True)
class LogLine:
    """One line of a container's log."""

    at: datetime
    container: str
    text: str


LogListener = Callable[[str, str, list[LogLine]], None]
"""(namespace, pod, the lines of one append, all of one container and one time)."""


class ClusterState:
    """In-memory cluster: objects, pod logs, RBAC rules and injected faults."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None,
                 controllers: bool = True) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._resource_version = FIRST_RESOURCE_VERSION
        self._history: deque[WatchEvent] = deque(maxlen=HISTORY_LIMIT)
        self._oldest_resumable = FIRST_RESOURCE_VERSION
        self._subscribers: list[Callback] = []
        self._event_listeners: list[Callable[[WatchEvent], None]] = []
        self._pending: deque[WatchEvent] = deque()
        self._dispatching = False
        self._logs: dict[tuple[str, str], list[LogLine]] = {}
        self._log_listeners: list[LogListener] = []
        self._rules: list[dict[str, Any]] | None = None
        self.faults = FaultTable()
        self.username = rbac.USERNAME
        # istiod /debug/syncz body; raise ApiError in it to answer an error (e.g. 401).
        self.syncz_provider: Callable[[], list[dict[str, Any]]] | None = None
        # (promql, eval unix time) -> Prometheus "data" object; see apiserver/prometheus.py.
        self.metrics_provider: Callable[[str, float], Any] | None = None
        # What `kubectl exec` prints: ExecRequest -> ExecResult (apiserver/remote.py); the
        # scenario's `exec:` scripts (actions/drill/sim/exec_scripts.py). None: nothing scripted.
        self.exec_provider: Callable[[ExecRequest], ExecResult] | None = None
        # Deployments, ReplicaSets, DaemonSets, StatefulSets, nodes, endpoints: see
        # apiserver/controllers.py (its on_pod_replaced is the scenario engine's hook).
        self.controllers = ControllerManager(self) if controllers else None
        # API groups whose CRDs this cluster does not have (a Linkerd cluster has no
        # security.istio.io): asking for them answers 404, as on a cluster without the CRD.
        self.absent_groups: frozenset[str] = frozenset()

    # ----- reading ------------------------------------------------------------------------------

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """Hold it to read-modify-write atomically (the server's PATCH does)."""
        return self._lock

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion (what a list reports)."""
        with self._lock:
            return str(self._resource_version)

    def get(self, api_version: str, kind: str, namespace: str | None,
            name: str) -> dict[str, Any] | None:
        """A copy of one object shown at api_version, or None."""
        resource = _resolve(api_version, kind)
        self._served(resource)
        with self._lock:
            found = self._bucket(resource).get((self._scope(resource, namespace), name))
            return _view(found, api_version) if found else None

    # Below this method, `list` in an annotation would name it: they say `builtins.list`.
    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict[str, Any]]:
        """Copies of the matching objects, ordered by namespace then name (None: all)."""
        return self.list_with_version(api_version, kind, namespace, label_selector=label_selector,
                                      field_selector=field_selector)[0]

    def list_with_version(
        self, api_version: str, kind: str, namespace: str | None = None, *,
        label_selector: str | None = None, field_selector: str | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Like list(), with the resourceVersion the list was read at."""
        page = self.list_page(api_version, kind, namespace, label_selector=label_selector,
                              field_selector=field_selector)
        return page.items, page.resource_version

    def stored(self, api_version: str, kind: str, namespace: str | None,
               name: str) -> dict[str, Any] | None:
        """One stored object itself, for the controllers: never modify it (see peek)."""
        resource = _resolve(api_version, kind)
        with self._lock:
            return self._bucket(resource).get((self._scope(resource, namespace), name))

    def peek(self, api_version: str, kind: str,
             namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """The stored objects themselves, by storage key: for the in-process controllers and
        the drill's policy evaluation, which read far more than they write. Never modify
        them (copy first)."""
        resource = _resolve(api_version, kind)
        self._served(resource)
        with self._lock:
            bucket = self._bucket(resource)
            return [obj for key, obj in sorted(bucket.items(),
                                               key=lambda item: paging.storage_key(item[0], None))
                    if namespace is None or not resource.namespaced or key[0] == namespace]

    def list_page(self, api_version: str, kind: str, namespace: str | None = None, *,
                  label_selector: str | None = None, field_selector: str | None = None,
                  limit: int | None = None, continue_token: str | None = None) -> ListPage:
        """One chunk of a list, as the API server pages with `limit` and `continue`.

        A continue token carries the resourceVersion of the first chunk, and every chunk is
        read at that version (the change history rolled back), so a paged list is one
        consistent snapshot. A token older than the history: 410 Expired; a token that is
        not one of ours: 400 (see paging.py).
        """
        resource = _resolve(api_version, kind)
        self._served(resource)
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, field_labels(resource.group, resource.kind))
        prefix = namespace if namespace is not None and resource.namespaced else None
        start = paging.decode(continue_token, prefix) if continue_token else None
        with self._lock:
            read_at = self._resource_version
            objects = self._bucket(resource)
            if start is not None:
                if start.resource_version < self._oldest_resumable:
                    raise paging.expired()
                if start.resource_version > self._resource_version:
                    raise paging.invalid("incorrect encoded start resourceVersion")
                read_at = start.resource_version
                objects = self._snapshot(resource, read_at)
            keyed = sorted(
                (paging.storage_key(key, prefix), obj) for key, obj in objects.items()
                if prefix is None or key[0] == prefix)
            matching = [(key, obj) for key, obj in keyed
                        if (start is None or key > start.key) and labels(obj) and fields(obj)]
            chunk = matching[:limit] if limit else matching
            token = remaining = None
            if limit and len(matching) > limit:
                token = paging.encode(read_at, chunk[-1][0])
                if not label_selector and not field_selector:
                    remaining = len(matching) - limit
            return ListPage([_view(obj, api_version) for _, obj in chunk], str(read_at), token,
                            remaining)

    def _snapshot(self, resource: ResourceType,
                  resource_version: int) -> dict[tuple[str, str], dict[str, Any]]:
        """The resource's objects as they were at resource_version (history must reach it)."""
        objects = dict(self._bucket(resource))
        for event in reversed(self._history):
            if event.resource_version <= resource_version:
                break
            if (event.resource.group, event.resource.plural) != (resource.group,
                                                                  resource.plural):
                continue
            meta = event.obj["metadata"]
            key = (self._scope(resource, meta.get("namespace")), meta["name"])
            if event.type == "ADDED":
                objects.pop(key, None)
            elif event.old is not None:
                objects[key] = event.old
        return objects

    # ----- writing ------------------------------------------------------------------------------

    def create(self, obj: dict[str, Any], *, dry_run: bool = False,
               field_validation: str = "Strict",
               warnings: builtins.list[str] | None = None,
               validate: bool = True) -> dict[str, Any]:
        """Store a new object; returns it as stored (or as it would be, on a dry run).

        validate=False: the controllers' own writes, built from validated objects, skip the
        schema checks (defaults still apply)."""
        resource, api_version = _resolve_object(obj)
        self._served(resource)
        if not resource.stored:
            raise status.method_not_allowed()
        new = copy.deepcopy(obj)
        metadata = new.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise status.bad_request("metadata must be an object")
        for server_set in ("uid", "resourceVersion", "creationTimestamp", "generation",
                           "deletionTimestamp", "selfLink"):
            metadata.pop(server_set, None)
        if resource.namespaced:
            metadata["namespace"] = metadata.get("namespace") or "default"
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and isinstance(metadata.get("generateName"), str):
            metadata["name"] = metadata["generateName"] + "".join(
                secrets.choice(_GENERATE_NAME_ALPHABET) for _ in range(5))
        with self._lock:
            if resource.namespaced and not self._namespace_exists(metadata["namespace"]):
                raise status.namespace_not_found(metadata["namespace"])
            apply_defaults(resource, new)
            if validate:
                new = validation.check_object(resource, new, field_validation, warnings)
            metadata = new["metadata"]
            key = (self._scope(resource, metadata.get("namespace")), metadata["name"])
            if key in self._bucket(resource):
                raise status.already_exists(resource, metadata["name"])
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = format_timestamp(self.clock())
            metadata["generation"] = 1
            if dry_run:
                return _view(new, api_version)
            self._resource_version += 1
            metadata["resourceVersion"] = str(self._resource_version)
            self._bucket(resource)[key] = new
            self._commit("ADDED", resource, new, None)
            return _view(new, api_version)

    def replace(self, obj: dict[str, Any], *, dry_run: bool = False,
                field_validation: str = "Strict", warnings: builtins.list[str] | None = None,
                keep_status: bool = False, validate: bool = True) -> dict[str, Any]:
        """Replace an existing object; 409 when metadata.resourceVersion is set and stale.

        keep_status: ignore the body's `status` and keep the stored one, as a PUT to the
        main resource does on a real server (the HTTP layer sets it).
        """
        resource, api_version = _resolve_object(obj)
        self._served(resource)
        if not resource.stored:
            raise status.method_not_allowed()
        new = copy.deepcopy(obj)
        metadata = new.setdefault("metadata", {})
        if not isinstance(metadata, dict) or not metadata.get("name"):
            raise status.invalid(resource, "", [("metadata.name", "Required value: name is "
                                                                  "required")])
        name = metadata["name"]
        with self._lock:
            key = (self._scope(resource, metadata.get("namespace")), name)
            existing = self._bucket(resource).get(key)
            if existing is None:
                raise status.not_found(resource, name)
            sent_version = metadata.get("resourceVersion")
            if sent_version and str(sent_version) != existing["metadata"]["resourceVersion"]:
                raise status.conflict(resource, name)
            old_meta = existing["metadata"]
            for field in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                metadata[field] = old_meta[field]
            if resource.namespaced:
                metadata["namespace"] = old_meta["namespace"]
            if keep_status:
                new.pop("status", None)
                if "status" in existing:
                    new["status"] = copy.deepcopy(existing["status"])
            apply_defaults(resource, new)
            if validate:
                new = validation.check_object(resource, new, field_validation, warnings)
            stored_new = _at_storage_version(new, existing)
            if stored_new == existing:
                return _view(existing, api_version)  # no-op: no new version, no event
            if _spec_of(stored_new) != _spec_of(existing):
                stored_new["metadata"]["generation"] = old_meta["generation"] + 1
            if dry_run:
                return _view(stored_new, api_version)
            self._resource_version += 1
            stored_new["metadata"]["resourceVersion"] = str(self._resource_version)
            self._bucket(resource)[key] = stored_new
            self._commit("MODIFIED", resource, stored_new, existing)
            return _view(stored_new, api_version)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create the object, or replace it unconditionally if it exists (for scenarios)."""
        resource, api_version = _resolve_object(obj)
        self._served(resource)
        metadata = obj.get("metadata") or {}
        with self._lock:
            if self.get(api_version, resource.kind, metadata.get("namespace"),
                        str(metadata.get("name"))) is None:
                return self.create(obj)
            unconditional = copy.deepcopy(obj)
            unconditional["metadata"].pop("resourceVersion", None)
            return self.replace(unconditional)

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str, *,
               dry_run: bool = False, precondition_version: str | None = None,
               precondition_uid: str | None = None) -> dict[str, Any]:
        """Delete one object; returns it as it was deleted. A namespace takes its objects along."""
        resource = _resolve(api_version, kind)
        self._served(resource)
        with self._lock:
            key = (self._scope(resource, namespace), name)
            existing = self._bucket(resource).get(key)
            if existing is None:
                raise status.not_found(resource, name)
            meta = existing["metadata"]
            if ((precondition_version and precondition_version != meta["resourceVersion"])
                    or (precondition_uid and precondition_uid != meta["uid"])):
                raise status.conflict(resource, name)
            if dry_run:
                return _view(existing, api_version)
            if resource.kind == "Namespace":
                self._delete_namespace_contents(name)
            return _view(self._remove(resource, key), api_version)

    def delete_collection(self, api_version: str, kind: str, namespace: str | None, *,
                          label_selector: str | None = None, field_selector: str | None = None,
                          dry_run: bool = False) -> builtins.list[dict[str, Any]]:
        """Delete every matching object; returns them as deleted."""
        with self._lock:
            matching = self.list(api_version, kind, namespace, label_selector=label_selector,
                                 field_selector=field_selector)
            return [self.delete(api_version, kind, obj["metadata"].get("namespace"),
                                obj["metadata"]["name"], dry_run=dry_run) for obj in matching]

    def _delete_namespace_contents(self, namespace: str) -> None:
        for bucket in list(self._objects.values()):
            for key, obj in list(bucket.items()):
                if key[0] == namespace:
                    self._remove(_resolve(obj["apiVersion"], obj["kind"]), key)
        self._logs = {key: lines for key, lines in self._logs.items() if key[0] != namespace}

    def _remove(self, resource: ResourceType, key: tuple[str, str]) -> dict[str, Any]:
        existing = self._bucket(resource).pop(key)
        gone = copy.deepcopy(existing)
        self._resource_version += 1
        gone["metadata"]["resourceVersion"] = str(self._resource_version)
        self._commit("DELETED", resource, gone, existing)
        return gone

    # ----- change feed --------------------------------------------------------------------------

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call callback(type, obj) after every committed change; returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def watch_from(self, resource_version: int | None,
                   listener: Callable[[WatchEvent], None]) -> tuple[builtins.list[WatchEvent],
                                                                    Callable[[], None]]:
        """Register a watch listener; returns the events after resource_version and an
        unsubscribe. None: no backlog. Raises 410 Expired when history no longer reaches back.
        """
        with self._lock:
            backlog: list[WatchEvent] = []
            if resource_version is not None:
                if resource_version < self._oldest_resumable:
                    raise status.expired(resource_version, self._oldest_resumable)
                backlog = [e for e in self._history if e.resource_version > resource_version]
            self._event_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._event_listeners:
                    self._event_listeners.remove(listener)

        return backlog, unsubscribe

    def compact(self) -> None:
        """Forget the change history, as etcd compaction does: older watches get 410."""
        with self._lock:
            self._history.clear()
            self._oldest_resumable = self._resource_version

    def _commit(self, event_type: str, resource: ResourceType, obj: dict[str, Any],
                old: dict[str, Any] | None) -> None:
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), event_type, resource,
                           copy.deepcopy(obj), copy.deepcopy(old) if old else None)
        if len(self._history) == self._history.maxlen:
            self._oldest_resumable = self._history[0].resource_version
        self._history.append(event)
        self._pending.append(event)
        if self._dispatching:
            return  # a subscriber wrote from inside its callback: delivered after, in order
        self._dispatching = True
        try:
            while self._pending:
                current = self._pending.popleft()
                for listener in list(self._event_listeners):
                    listener(current)
                for callback in list(self._subscribers):
                    callback(current.type, copy.deepcopy(current.obj))
        finally:
            self._dispatching = False

    # ----- logs ---------------------------------------------------------------------------------

    def append_log(self, namespace: str, pod: str, line: str, *, container: str | None = None,
                   at: datetime | None = None) -> None:
        """Add a line (or several, one per newline) to a pod's container log; followers see
        them at once, in one go."""
        moment = at or self.clock()
        if moment.tzinfo is None:
            raise ValueError("log timestamps must be timezone-aware")
        with self._lock:
            if container is None:
                container = self.default_container(namespace, pod) or ""
            entries = [LogLine(moment, container, text)
                       for text in line.rstrip("\n").split("\n")]
            self._logs.setdefault((namespace, pod), []).extend(entries)
            # One call per append, not per line: a follower hands them on in one write.
            for listener in list(self._log_listeners):
                listener(namespace, pod, entries)

    def logs_of(self, namespace: str, pod: str, container: str | None = None) -> builtins.list[str]:
        """The text of a pod's log lines (one container's when named)."""
        return [entry.text for entry in self.log_lines(namespace, pod, container)]

    def log_lines(
        self, namespace: str, pod: str, container: str | None = None
    ) -> builtins.list[LogLine]:
        with self._lock:
            return [entry for entry in self._logs.get((namespace, pod), [])
                    if container is None or entry.container == container]

    def follow_logs(self, listener: LogListener,
                    namespace: str, pod: str,
                    container: str | None) -> tuple[builtins.list[LogLine], Callable[[], None]]:
        """The lines so far plus a registration for new ones, atomically (no gap, no repeat)."""
        with self._lock:
            lines = self.log_lines(namespace, pod, container)
            self._log_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._log_listeners:
                    self._log_listeners.remove(listener)

        return lines, unsubscribe

    def default_container(self, namespace: str, pod: str) -> str | None:
        """The pod's default container: the kubectl annotation, else the first one."""
        found = self.stored("v1", "Pod", namespace, pod)
        if found is None:
            return None
        annotations = found["metadata"].get("annotations") or {}
        if annotations.get("kubectl.kubernetes.io/default-container"):
            return str(annotations["kubectl.kubernetes.io/default-container"])
        containers = (found.get("spec") or {}).get("containers") or []
        return str(containers[0].get("name")) if containers else None

    # ----- RBAC and faults ----------------------------------------------------------------------

    def set_rbac(self, rules: builtins.list[dict[str, Any]] | None) -> None:
        """None allows everything; else Role-like rules (see apiserver/rbac.py)."""
        with self._lock:
            self._rules = copy.deepcopy(rules) if rules is not None else None

    def allowed(self, verb: str, group: str, resource: str, namespace: str | None,
                name: str | None = None, subresource: str | None = None) -> bool:
        with self._lock:
            return rbac.is_allowed(self._rules, verb, group, resource, namespace, name,
                                   subresource)

    def rules_in(self, namespace: str | None) -> builtins.list[dict[str, Any]]:
        """The rules that apply in namespace (what `kubectl auth can-i --list` shows)."""
        with self._lock:
            return rbac.rules_in(self._rules, namespace)

    def check_allowed(self, verb: str, group: str, resource: str, namespace: str | None,
                      name: str | None = None, subresource: str | None = None) -> None:
        """Raise the real 403 Forbidden unless allowed."""
        if not self.allowed(verb, group, resource, namespace, name, subresource):
            raise rbac.forbidden(verb, group, resource, namespace, name, subresource,
                                 self.username)

    def inject_fault(self, method: str, path_regex: str, code: int, *, message: str = "",
                     times: int | None = None, delay: float = 0.0) -> None:
        """Answer matching HTTP requests with code (0: only delay, then serve normally)."""
        self.faults.add(method, path_regex, code, message=message, times=times, delay=delay)

    def clear_faults(self) -> None:
        self.faults.clear()

    # ----- helpers ------------------------------------------------------------------------------

    def _bucket(self, resource: ResourceType) -> dict[tuple[str, str], dict[str, Any]]:
        return self._objects.setdefault((resource.group, resource.plural), {})

    @staticmethod
    def _scope(resource: ResourceType, namespace: str | None) -> str:
        return (namespace or "default") if resource.namespaced else ""

    def _served(self, resource: ResourceType) -> None:
        if resource.group in self.absent_groups:
            raise status.unknown_resource()

    def _namespace_exists(self, namespace: str) -> bool:
        return ("", namespace) in self._objects.get(("", "namespaces"), {})


def _resolve(api_version: str, kind: str) -> ResourceType:
    resource = by_kind(api_version, kind)
    if resource is None:
        raise status.unknown_resource()
    return resource


def _resolve_object(obj: dict[str, Any]) -> tuple[ResourceType, str]:
    if not isinstance(obj, dict):
        raise status.bad_request("the object must be a JSON object")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise status.bad_request("Object 'Kind' is missing in the request body")
    return _resolve(api_version, kind), api_version


def _view(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    """A copy shown at the requested version (same group, so only apiVersion changes)."""
    shown = copy.deepcopy(obj)
    if split_api_version(api_version)[0] == split_api_version(shown["apiVersion"])[0]:
        shown["apiVersion"] = api_version
    return shown


def _at_storage_version(new: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    stored = copy.deepcopy(new)
    stored["apiVersion"] = existing["apiVersion"]
    return stored


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items()
            if key not in ("metadata", "status", "apiVersion", "kind")}
