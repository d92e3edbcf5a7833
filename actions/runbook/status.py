"""The runbook's check-mesh-status.sh as one coroutine: `await mesh_status(cluster)`.

- Mesh: Istio proxy sync status from istiod's `/debug/syncz` through the API
  server's service proxy (status derived as istioctl derives it: formats.md
  2.2), else `istioctl proxy-status` when installed; for Linkerd,
  `linkerd check -o json` when installed (its output is a stream of JSON
  documents, one per extension, not one).
- NetworkPolicies in the namespace.
- The last Warning events, newest last.

Reads only. A part that cannot be read is a problem in the result, not an
exception; only a cluster that cannot be reached at all raises ClusterError.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

from actions.kube.cluster import EVENT, NETWORK_POLICY, Cluster, ClusterError
from actions.kube.mesh import detect_mesh
from actions.policy.selectors import format_selector, policy_types
from actions.runbook.checks import EMERGENCY_LABELS, INCIDENT_LABEL

ISTIOD = ("istio-system", "istiod:15014")
# Short names in istioctl's column order, with the syncz key prefix each one reads.
XDS_TYPES = (
    ("CDS", "cluster"),
    ("LDS", "listener"),
    ("EDS", "endpoint"),
    ("RDS", "route"),
    ("ECDS", "extensionconfig"),
)
TYPE_URLS = {
    "CDS": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "LDS": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "EDS": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    "RDS": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "ECDS": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
}
HEALTHY = ("SYNCED", "NOT SENT", "IGNORED")
WARNING_EVENTS = 10
TOOL_TIMEOUT = 60.0
# How long the console waits for a first answer before saying the server does not answer.
FIRST_ANSWER_TIMEOUT = 1.5


def unknown(part: str, why: object) -> str:
    """How a part that could not be read is said, by `warroom status` and the console alike."""
    return f"{part} unknown: {why}"


async def access_problem(
    cluster: Cluster,
    namespace: str | None = None,
    *,
    mesh: str = "auto",
    time_limit: float = FIRST_ANSWER_TIMEOUT,
) -> str | None:
    """Why warroom cannot use this cluster, in the words `warroom status` prints; None if it can.

    The calls status starts with: does the server answer at all (the API groups, within
    `time_limit`), which mesh runs (when `mesh` is "auto"), may we read the namespace's
    NetworkPolicies.
    """
    try:
        await cluster.api_groups(time_limit=time_limit)
        if mesh == "auto":
            await detect_mesh(cluster)
    except ClusterError as error:
        return error.message
    try:
        await cluster.list(NETWORK_POLICY, namespace or cluster.namespace)
    except ClusterError as error:
        return unknown("NetworkPolicies", error)
    return None


@dataclass(frozen=True)
class ProxySync:
    """One proxy as istioctl proxy-status shows it."""

    name: str
    cluster: str
    proxy_type: str
    version: str
    statuses: dict[str, str]

    @property
    def synced(self) -> bool:
        return all(base_status(value) in HEALTHY for value in self.statuses.values())


def base_status(value: str) -> str:
    """`SYNCED (2m10s)` -> `SYNCED`; `NOT_SENT` (istioctl x ps) -> `NOT SENT`."""
    return value.split(" (", 1)[0].replace("_", " ").strip()


@dataclass(frozen=True)
class PolicySummary:
    name: str
    pod_selector: dict[str, Any]
    policy_types: list[str]
    emergency: bool
    incident: str | None
    selector: str = ""
    """The pod selector as kubectl prints it (matchLabels and matchExpressions); "" for all."""

    @property
    def emergency_text(self) -> str:
        """`yes (NSI-...)`, `yes` for one the runbook's script made, else empty."""
        if not self.emergency:
            return ""
        return f"yes ({self.incident})" if self.incident else "yes"


@dataclass(frozen=True)
class WarningEvent:
    last_seen: str
    object: str
    reason: str
    message: str
    count: int


@dataclass
class MeshStatus:
    """Everything check-mesh-status.sh prints, as data."""

    namespace: str
    mesh: str | None = None
    mesh_detail: str = ""
    proxies: list[ProxySync] = field(default_factory=list)
    istioctl_output: str | None = None
    linkerd_checks: list[dict[str, Any]] = field(default_factory=list)
    policies: list[PolicySummary] = field(default_factory=list)
    warnings: list[WarningEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


def xds_status(entry: dict[str, Any], prefix: str, short: str) -> str | None:
    """One type's status as istioctl derives it; None when the proxy does not watch it."""
    resource = (entry.get("resources") or {}).get(TYPE_URLS[short])
    sent, acked = entry.get(f"{prefix}_sent"), entry.get(f"{prefix}_acked")
    if isinstance(resource, dict):
        if resource.get("lastError"):
            return "ERROR"
        sent, acked = resource.get("sent") or sent, resource.get("acked") or acked
    elif entry.get("resources") is not None and not sent:
        return None  # 1.23+: an unwatched type has no entry at all
    if not sent:
        return "IGNORED" if entry.get("proxy_type") == "ztunnel" else "NOT SENT"
    if sent == acked:
        return "SYNCED"
    if not acked:
        return "STALE (Never Acknowledged)"
    return "STALE"


def parse_syncz(body: Any) -> list[ProxySync]:
    """istiod's /debug/syncz array -> one ProxySync per proxy, sorted by name."""
    if not isinstance(body, list):
        raise ValueError("syncz did not answer with a JSON array")
    proxies = []
    for entry in body:
        if not isinstance(entry, dict):
            continue
        statuses = {}
        for short, prefix in XDS_TYPES:
            status = xds_status(entry, prefix, short)
            if status is not None:
                statuses[short] = status
        proxies.append(
            ProxySync(
                name=str(entry.get("proxy") or ""),
                cluster=str(entry.get("cluster_id") or ""),
                proxy_type=str(entry.get("proxy_type") or ""),
                version=str(entry.get("istio_version") or entry.get("proxy_version") or ""),
                statuses=statuses,
            )
        )
    return sorted(proxies, key=lambda p: p.name)


HEADER_COLUMN = re.compile(r"\S+(?: \S+)*")
NOT_TYPES = {"NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"}


def parse_proxy_status(text: str) -> list[ProxySync]:
    """`istioctl proxy-status` text, any version (formats.md 2.1).

    Cells hold spaces (`NOT SENT`, `SYNCED (2m10s)`), so rows are cut at the header's
    column offsets (tabwriter pads each column to its widest cell plus 5 spaces), never
    split on whitespace. 1.27+ prints no per-type columns without -v: no statuses then.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    columns = [(m.start(), m.group()) for m in HEADER_COLUMN.finditer(lines[0])]
    if not columns or columns[0][1] != "NAME":
        raise ValueError("istioctl proxy-status printed no NAME header")
    proxies = []
    for line in lines[1:]:
        cells = {}
        for index, (start, name) in enumerate(columns):
            end = columns[index + 1][0] if index + 1 < len(columns) else len(line)
            cells[name] = line[start:end].strip()
        statuses = {name: value for name, value in cells.items() if name not in NOT_TYPES and value}
        pod_namespace = cells.get("NAME", "")
        proxies.append(
            ProxySync(
                name=pod_namespace,
                cluster=cells.get("CLUSTER", ""),
                proxy_type="",
                version=cells.get("VERSION", ""),
                statuses=statuses,
            )
        )
    return sorted(proxies, key=lambda p: p.name)


def parse_linkerd_check(text: str) -> list[dict[str, Any]]:
    """`linkerd check -o json` prints one JSON document per extension: decode them all."""
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        document, index = decoder.raw_decode(text, index)
        if isinstance(document, dict):
            documents.append(document)


def linkerd_failures(documents: list[dict[str, Any]]) -> list[str]:
    """'category: description: error' for every check that did not succeed."""
    failures = []
    for document in documents:
        for category in document.get("categories") or []:
            for check in category.get("checks") or []:
                if check.get("result") in ("error", "warning"):
                    failures.append(
                        f"{category.get('categoryName')}: {check.get('description')}"
                        f" ({check.get('result')}): {check.get('error') or ''}".rstrip(": ")
                    )
    return failures


async def _run_tool(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, "", f"{argv[0]} did not finish within {TOOL_TIMEOUT:g} s"
    return (
        int(process.returncode or 0),
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def _tool_flags(kubeconfig: str | None, context: str | None) -> list[str]:
    flags = []
    if kubeconfig:
        flags += ["--kubeconfig", kubeconfig]
    if context and context != "in-cluster":
        flags += ["--context", context]
    return flags


async def _istio(cluster: Cluster, result: MeshStatus, kubeconfig: str | None) -> None:
    namespace, service = ISTIOD
    try:
        body = await cluster.service_proxy(namespace, service, "debug/syncz")
        result.proxies = parse_syncz(json.loads(body))
    except (ClusterError, ValueError) as error:
        why = str(error)
        if isinstance(error, ClusterError) and error.cause in ("unauthorized", "forbidden"):
            why = f"istiod refused the debug request (not 'no proxies'): {error}"
        istioctl = shutil.which("istioctl")
        if istioctl is None:
            result.problems.append(unknown("Istio proxy status", why))
            return
        code, out, err = await _run_tool(
            istioctl, "proxy-status", *_tool_flags(kubeconfig, cluster.context)
        )
        result.istioctl_output = out
        if code != 0:
            result.problems.append(f"istioctl proxy-status failed: {err.strip() or code}")
            return
        try:
            result.proxies = parse_proxy_status(out)
        except ValueError as parse_error:
            result.problems.append(f"istioctl proxy-status: {parse_error}")
            return
    for proxy in result.proxies:
        if not proxy.synced:
            bad = ", ".join(
                f"{k} {v}" for k, v in proxy.statuses.items() if base_status(v) not in HEALTHY
            )
            result.problems.append(f"proxy {proxy.name} is out of sync: {bad}")


async def _linkerd(cluster: Cluster, result: MeshStatus, kubeconfig: str | None) -> None:
    linkerd = shutil.which("linkerd")
    if linkerd is None:
        result.mesh_detail += "; the linkerd CLI is not installed, so `linkerd check` was skipped"
        return
    code, out, err = await _run_tool(
        linkerd, "check", "-o", "json", *_tool_flags(kubeconfig, cluster.context)
    )
    try:
        result.linkerd_checks = parse_linkerd_check(out)
    except ValueError:
        result.problems.append(f"linkerd check printed no JSON: {err.strip()[:300]}")
        return
    failures = linkerd_failures(result.linkerd_checks)
    if code != 0 or any(d.get("success") is False for d in result.linkerd_checks):
        result.problems.append("linkerd check failed: " + ("; ".join(failures) or err.strip()))


async def mesh_status(
    cluster: Cluster,
    *,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    mesh: str = "auto",
) -> MeshStatus:
    """Mesh sync, NetworkPolicies and recent Warning events in one namespace.

    mesh: "auto" detects it; "istio", "linkerd" or "none" as configured.
    """
    ns = namespace or cluster.namespace
    result = MeshStatus(namespace=ns)
    if mesh == "auto":
        result.mesh, result.mesh_detail = await detect_mesh(cluster)
    else:
        result.mesh = None if mesh == "none" else mesh
        result.mesh_detail = f"mesh.provider = {mesh} in the configuration"
    if result.mesh == "istio":
        await _istio(cluster, result, kubeconfig)
    elif result.mesh == "linkerd":
        await _linkerd(cluster, result, kubeconfig)
    try:
        for policy in await cluster.list(NETWORK_POLICY, ns):
            meta, spec = policy.get("metadata") or {}, policy.get("spec") or {}
            labels = meta.get("labels") or {}
            result.policies.append(
                PolicySummary(
                    name=str(meta.get("name")),
                    pod_selector=spec.get("podSelector") or {},
                    policy_types=sorted(policy_types(policy)),
                    emergency=all(labels.get(k) == v for k, v in EMERGENCY_LABELS.items()),
                    incident=labels.get(INCIDENT_LABEL),
                    selector=format_selector(spec.get("podSelector")),
                )
            )
    except ClusterError as error:
        result.problems.append(unknown("NetworkPolicies", error))
    try:
        events = await cluster.list(EVENT, ns, field_selector="type=Warning")
    except ClusterError as error:
        result.problems.append(unknown("Warning events", error))
        events = []
    events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    for event in events[-WARNING_EVENTS:]:
        involved = event.get("involvedObject") or {}
        result.warnings.append(
            WarningEvent(
                last_seen=str(event.get("lastTimestamp") or event.get("eventTime") or ""),
                object=f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
                reason=str(event.get("reason") or ""),
                message=str(event.get("message") or ""),
                count=int(event.get("count") or 1),
            )
        )
    return result
