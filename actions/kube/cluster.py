"""Connecting to a cluster like kubectl does, and talking to it through the official client.

`connect(ClusterOptions(...))` resolves the kubeconfig (`--kubeconfig`, else
`$KUBECONFIG`, a list merged like kubectl merges it, else `~/.kube/config`,
else the in-cluster service account), the context and the namespace
(`--namespace`, else the context's namespace, else the configured default,
`voicehive`) and returns a
`Cluster` holding a `kubernetes.aio` ApiClient.

`Cluster` sends plain JSON through that client's own transport
(`param_serialize` + `call_api`): the exact manifest we previewed is the exact
body sent, with no model round trip that could drop a misspelt field before
the server's `fieldValidation=Strict` can reject it. Every failure becomes a
`ClusterError` whose `cause` is one word (forbidden, not-found, conflict,
invalid, timeout, refused...) and whose message names it in plain words.

aiohttp and kubernetes are imported where a call needs them: importing them
takes half a second, and the console imports this module (for its types and
kinds) before its first paint, long before it connects.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

DEFAULT_NAMESPACE = "voicehive"
DEFAULT_TIMEOUT = 10.0
IN_CLUSTER_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
KUBECONFIG_SEPARATOR = ";" if os.name == "nt" else ":"

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def delete_options(uid: str | None) -> dict[str, Any]:
    """The body of a DELETE: DeleteOptions, with the uid as a precondition when it is known
    (the object deleted is the one previewed, not a namesake created since)."""
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if uid:
        body["preconditions"] = {"uid": uid}
    return body


@dataclass(frozen=True)
class ClusterOptions:
    """The cluster options every command takes, with kubectl's meaning."""

    context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    # Used when neither --namespace nor the context names one (the configuration's).
    default_namespace: str = DEFAULT_NAMESPACE


@dataclass(frozen=True)
class Kind:
    """Where one kind of object lives in the API."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None, name: str | None = None) -> str:
        prefix = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{quote(namespace, safe='')}"
        path = f"{prefix}/{self.plural}"
        return f"{path}/{quote(name, safe='')}" if name else path

    def describe(self, name: str | None = None, namespace: str | None = None) -> str:
        """`networkpolicy emergency-isolation-1 in voicehive`, as a user reads it."""
        text = self.kind.lower()
        if self.group:
            text += f".{self.group}"
        if name:
            text += f" {name}"
        if namespace and self.namespaced:
            text += f" in {namespace}"
        return text


NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
POD = Kind("v1", "Pod", "pods")
EVENT = Kind("v1", "Event", "events")
SERVICE = Kind("v1", "Service", "services")
SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts")
SECRET = Kind("v1", "Secret", "secrets")
NETWORK_POLICY = Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")
ISTIO_AUTHORIZATION_POLICY = Kind(
    "security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies"
)
ISTIO_PEER_AUTHENTICATION = Kind(
    "security.istio.io/v1", "PeerAuthentication", "peerauthentications"
)
LINKERD_SERVER = Kind("policy.linkerd.io/v1beta3", "Server", "servers")
LINKERD_SERVER_AUTHORIZATION = Kind(
    "policy.linkerd.io/v1beta1", "ServerAuthorization", "serverauthorizations"
)
LINKERD_AUTHORIZATION_POLICY = Kind(
    "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "authorizationpolicies"
)
LINKERD_MESH_TLS_AUTHENTICATION = Kind(
    "policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "meshtlsauthentications"
)
KINDS: tuple[Kind, ...] = (
    NAMESPACE,
    POD,
    EVENT,
    SERVICE,
    SERVICE_ACCOUNT,
    SECRET,
    NETWORK_POLICY,
    ISTIO_AUTHORIZATION_POLICY,
    ISTIO_PEER_AUTHENTICATION,
    LINKERD_SERVER,
    LINKERD_SERVER_AUTHORIZATION,
    LINKERD_AUTHORIZATION_POLICY,
    LINKERD_MESH_TLS_AUTHENTICATION,
)


def kind_of(api_version: str, kind: str) -> Kind:
    """The Kind for an object's apiVersion and kind (any served version of a known group)."""
    for known in KINDS:
        if known.api_version == api_version and known.kind == kind:
            return known
    group = api_version.rpartition("/")[0]
    for known in KINDS:
        if known.group == group and known.kind == kind:
            return Kind(api_version, kind, known.plural, known.namespaced)
    raise ValueError(f"warroom does not know the kind {kind} ({api_version})")


# ----- errors ------------------------------------------------------------------------------------

CAUSE_WORDS = {
    "bad-request": "rejected as malformed",
    "unauthorized": "not authenticated (401): the credentials were refused",
    "forbidden": "forbidden (403)",
    "not-found": "not found (404)",
    "conflict": "conflict (409)",
    "already-exists": "already exists (409)",
    "gone": "expired (410)",
    "invalid": "invalid (422)",
    "server-error": "the API server failed",
    "unavailable": "the API server is unavailable",
    "timeout": "timed out",
    "refused": "connection refused",
    "unreachable": "cluster unreachable",
    "config": "no usable cluster configuration",
}


class ClusterError(Exception):
    """A cluster call that failed, with a one-word cause and a message a user can act on."""

    def __init__(
        self,
        cause: str,
        message: str,
        *,
        code: int | None = None,
        status: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        self.code = code
        self.status = dict(status or {})

    def __str__(self) -> str:
        return self.message


def _cause_for(code: int, reason: str) -> str:
    if code == 409:
        return "already-exists" if reason == "AlreadyExists" else "conflict"
    return {
        400: "bad-request",
        401: "unauthorized",
        403: "forbidden",
        404: "not-found",
        410: "gone",
        422: "invalid",
        429: "unavailable",
        503: "unavailable",
        504: "timeout",
    }.get(code, "server-error" if code >= 500 else "bad-request")


def http_error(code: int, body: bytes, doing: str) -> ClusterError:
    """The ClusterError for a non-2xx answer, using the Status object when there is one."""
    status: dict[str, Any] = {}
    try:
        decoded = json.loads(body.decode("utf-8", "replace")) if body else {}
        if isinstance(decoded, dict):
            status = decoded
    except ValueError:
        pass
    reason = str(status.get("reason") or "")
    cause = _cause_for(code, reason)
    detail = str(status.get("message") or body.decode("utf-8", "replace")[:300] or "no detail")
    causes = (
        (status.get("details") or {}).get("causes")
        if isinstance(status.get("details"), dict)
        else None
    )
    if cause == "invalid" and isinstance(causes, list):
        # Field errors, and the JSON patch failure apimachinery tucks into a cause.
        fields = [
            f"{c.get('field')}: {c.get('message')}" if c.get("field") else str(c.get("message"))
            for c in causes
            if isinstance(c, dict) and (c.get("field") or c.get("message"))
        ]
        extra = [f for f in fields if f not in detail]
        if extra:
            detail += " [" + "; ".join(extra) + "]"
    words = CAUSE_WORDS.get(cause, cause)
    if code not in (401,) and f"({code})" not in words:
        words = f"{words} ({code})"
    return ClusterError(cause, f"{doing}: {words}: {detail}", code=code, status=status)


def transport_error(error: BaseException, doing: str, server: str, timeout: float, *,
                    writes: bool = True) -> ClusterError:
    """The ClusterError for a call that got no HTTP answer at all (`writes`: it could change
    something, so a timeout leaves the change unknown)."""
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        unknown_change = " (a change may or may not have been applied)" if writes else ""
        return ClusterError(
            "timeout",
            f"{doing}: timed out: the API server at {server} did not answer within "
            f"{timeout:g} s{unknown_change}",
        )
    import aiohttp  # here, not at the top: see the module's last paragraph

    if isinstance(error, aiohttp.ClientConnectorError) and isinstance(
        error.os_error, ConnectionRefusedError
    ):
        return ClusterError(
            "refused", f"{doing}: connection refused: nothing is listening at {server}"
        )
    if isinstance(error, ConnectionRefusedError):
        return ClusterError(
            "refused", f"{doing}: connection refused: nothing is listening at {server}"
        )
    return ClusterError("unreachable", f"{doing}: cannot reach the API server at {server}: {error}")


# ----- connecting --------------------------------------------------------------------------------


def kubeconfig_paths(options: ClusterOptions) -> list[str]:
    """The kubeconfig files kubectl would read, in order: flag, $KUBECONFIG, ~/.kube/config."""
    if options.kubeconfig:
        return [options.kubeconfig]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(KUBECONFIG_SEPARATOR) if p]
    return [str(Path.home() / ".kube" / "config")]


def _existing(paths: list[str]) -> list[str]:
    return [p for p in paths if Path(p).expanduser().exists()]


def _in_cluster_namespace() -> str | None:
    if IN_CLUSTER_NAMESPACE_FILE.exists():
        return IN_CLUSTER_NAMESPACE_FILE.read_text().strip() or None
    return None


def _first_current_context(paths: list[str]) -> str | None:
    """kubectl takes current-context from the first file that sets it (the client: the last)."""
    for path in paths:
        with open(Path(path).expanduser(), encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        if isinstance(document, dict) and document.get("current-context"):
            return str(document["current-context"])
    return None


async def connect(options: ClusterOptions) -> Cluster:
    """A Cluster for these options; raises ClusterError("config") when none can be made."""
    from kubernetes.aio.client import ApiClient, Configuration
    from kubernetes.aio.config import ConfigException
    from kubernetes.aio.config.kube_config import KubeConfigLoader, KubeConfigMerger

    configuration = Configuration()
    paths = kubeconfig_paths(options)
    existing = _existing(paths)
    if options.kubeconfig and not existing:
        raise ClusterError("config", f"kubeconfig {options.kubeconfig} does not exist")
    context_name: str | None = None
    namespace = options.namespace
    if existing:
        try:
            # kubernetes.aio.config ships no annotations (its client does): hence the ignores.
            merged = KubeConfigMerger(  # type: ignore[no-untyped-call]
                KUBECONFIG_SEPARATOR.join(existing)
            )
            loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
                config_dict=merged.config,
                active_context=options.context or _first_current_context(existing),
                config_base_path=None,
            )
            await loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, KeyError, TypeError, ValueError, OSError, yaml.YAMLError) as error:
            raise ClusterError(
                "config", f"cannot use kubeconfig {', '.join(existing)}: {error}"
            ) from error
        current = loader.current_context
        context_name = str(current.get("name") or "") or None
        namespace = namespace or (current.get("context") or {}).get("namespace")
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        from kubernetes.aio.config import load_incluster_config

        try:
            load_incluster_config(  # type: ignore[no-untyped-call]  # kubernetes.aio.config
                client_configuration=configuration
            )
        except ConfigException as error:
            raise ClusterError("config", f"cannot use the in-cluster config: {error}") from error
        namespace = namespace or _in_cluster_namespace()
        context_name = "in-cluster"
    else:
        raise ClusterError(
            "config",
            f"no kubeconfig at {', '.join(paths)} and not running in a cluster: "
            "pass --kubeconfig or set KUBECONFIG",
        )
    client = ApiClient(configuration=configuration)
    return Cluster(
        client,
        namespace=namespace or options.default_namespace,
        context=context_name,
        server=str(configuration.host),
        timeout=options.timeout,
    )


# ----- talking -----------------------------------------------------------------------------------


class Cluster:
    """One cluster through one `kubernetes.aio` ApiClient. Close it (or use `async with`)."""

    def __init__(
        self,
        client: Any,
        *,
        namespace: str,
        context: str | None,
        server: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.context = context
        self.server = server
        self.timeout = timeout

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def describe(self) -> dict[str, Any]:
        return {"context": self.context, "server": self.server, "namespace": self.namespace}

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        time_limit: float | None = None,
    ) -> bytes:
        """One HTTP call through the official client; the body of a 2xx answer, else raises."""
        import aiohttp  # loaded with the client by now: a lookup in sys.modules

        limit = time_limit or self.timeout
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        try:
            async with asyncio.timeout(limit):
                _, url, headers, body, _ = await self.client.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=params,
                    header_params=headers,
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = await self.client.call_api(method, url, header_params=headers, body=body)
                data = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise transport_error(error, doing, self.server, limit,
                                  writes=method not in ("GET", "HEAD")) from error
        if not 200 <= response.status <= 299:
            raise http_error(response.status, data, doing)
        return bytes(data)

    async def request(self, method: str, path: str, *, doing: str, **kwargs: Any) -> Any:
        """Like request_bytes, decoding the JSON answer."""
        data = await self.request_bytes(method, path, doing=doing, **kwargs)
        try:
            return json.loads(data) if data else None
        except ValueError as error:
            raise ClusterError("server-error", f"{doing}: the answer is not JSON") from error

    async def request_object(
        self, method: str, path: str, *, doing: str, **kwargs: Any
    ) -> dict[str, Any]:
        """Like request, for an answer that must be one object (what a GET, create or patch of
        an object answers): anything else is the server's error, not a crash further on."""
        answer = await self.request(method, path, doing=doing, **kwargs)
        if not isinstance(answer, dict):
            raise ClusterError("server-error", f"{doing}: the answer is not a Kubernetes object")
        return answer

    # --- objects -----------------------------------------------------------------------------

    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or self.namespace
        return await self.request_object(
            "GET", kind.path(ns, name), doing=f"read {kind.describe(name, ns)}"
        )

    async def get_or_none(
        self, kind: Kind, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return await self.get(kind, name, namespace)
        except ClusterError as error:
            if error.cause == "not-found":
                return None
            raise

    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        all_namespaces: bool = False,
    ) -> list[dict[str, Any]]:
        ns = None if all_namespaces else (namespace or self.namespace)
        where = "in all namespaces" if all_namespaces else f"in {ns}"
        answer = await self.request(
            "GET",
            kind.path(ns),
            doing=f"list {kind.plural} {where}",
            query={"labelSelector": label_selector, "fieldSelector": field_selector},
        )
        items = (answer or {}).get("items") or []
        for item in items:
            # A list's items carry no apiVersion/kind on a real server.
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items

    async def create(self, manifest: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        kind = kind_of(manifest["apiVersion"], manifest["kind"])
        meta = manifest.get("metadata") or {}
        ns = meta.get("namespace") or self.namespace
        return await self.request_object(
            "POST",
            kind.path(ns),
            body=manifest,
            content_type="application/json",
            query={"fieldValidation": "Strict", "dryRun": "All" if dry_run else None},
            doing=f"{'dry-run ' if dry_run else ''}create {kind.describe(meta.get('name'), ns)}",
        )

    async def patch(
        self,
        kind: Kind,
        name: str,
        patch: Any,
        *,
        patch_type: str,
        namespace: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        ns = namespace or self.namespace
        return await self.request_object(
            "PATCH",
            kind.path(ns, name),
            body=patch,
            content_type=patch_type,
            query={"fieldValidation": "Strict", "dryRun": "All" if dry_run else None},
            doing=f"{'dry-run ' if dry_run else ''}patch {kind.describe(name, ns)}",
        )

    async def delete(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        uid: str | None = None,
    ) -> Any:
        ns = namespace or self.namespace
        return await self.request(
            "DELETE",
            kind.path(ns, name),
            body=delete_options(uid),
            content_type="application/json",
            query={"dryRun": "All" if dry_run else None},
            doing=f"{'dry-run ' if dry_run else ''}delete {kind.describe(name, ns)}",
        )

    async def can_i(
        self,
        verb: str,
        group: str,
        resource: str,
        namespace: str | None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> tuple[bool, str]:
        """A SelfSubjectAccessReview: (allowed, the reason the authorizer gave)."""
        attributes = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        if subresource:
            attributes["subresource"] = subresource
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        answer = await self.request(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body=review,
            content_type="application/json",
            query={"fieldValidation": "Strict"},
            doing=f"ask whether we may {verb} {resource}",
        )
        status = (answer or {}).get("status") or {}
        return bool(status.get("allowed")), str(
            status.get("reason") or status.get("evaluationError") or ""
        )

    async def api_groups(self, *, time_limit: float | None = None) -> set[str]:
        """The API groups the server serves (for detecting Istio or Linkerd)."""
        answer = await self.request(
            "GET", "/apis", doing="list the API groups", time_limit=time_limit
        )
        return {str(g.get("name")) for g in (answer or {}).get("groups") or []}

    async def pod_log(
        self,
        name: str,
        namespace: str | None = None,
        *,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        container: str | None = None,
    ) -> str:
        ns = namespace or self.namespace
        data = await self.request_bytes(
            "GET",
            POD.path(ns, name) + "/log",
            accept="text/plain",
            query={"tailLines": tail_lines, "sinceSeconds": since_seconds, "container": container},
            doing=f"read the log of pod {name} in {ns}",
        )
        return data.decode("utf-8", "replace")

    async def service_proxy(
        self, namespace: str, service: str, path: str, *, query: Mapping[str, Any] | None = None
    ) -> bytes:
        """GET through the API server's service proxy (`services/NAME[:PORT]/proxy/PATH`)."""
        resource = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe=':')}/proxy/{path.lstrip('/')}"
        )
        return await self.request_bytes(
            "GET",
            resource,
            query=query,
            accept="*/*",
            doing=f"read {path} from service {service} in {namespace} through the API proxy",
        )
