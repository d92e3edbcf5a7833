"""Plain rows for the NetworkPolicy and Mesh panes, built from the API's JSON objects.

No Textual here: the panes are fed these dataclasses, and a worker builds them
from whatever the cluster answered (tests build them from the drill cluster).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from actions.policy.selectors import selector_text
from store.wording import counted

# yaml and `actions.runbook` (whose package brings the whole action pipeline) are imported
# where they are used: the panes import this module, and the console's first frame should
# not wait for what only the cluster's data, later, needs.

FLAGGED_MTLS = ("PERMISSIVE", "DISABLE")


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One NetworkPolicy: selector, types, emergency flag, drift against the desired state."""

    namespace: str
    name: str
    selector: str
    types: str
    emergency: bool
    incident: str | None
    drift: str
    """"" (as desired), "changed", "extra" ("not desired"), "missing" (desired, absent),
    "?" (unknown: no desired-state file)."""
    manifest: dict[str, Any] = field(default_factory=dict)
    ingress_rules: int = 0
    egress_rules: int = 0
    drift_detail: str = ""
    """What differs, in words (from the drift finding)."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.manifest, sort_keys=False, default_flow_style=False)


def _spec_digest(policy: Mapping[str, Any]) -> str:
    return json.dumps(policy.get("spec") or {}, sort_keys=True)


def policy_rows(
    items: Iterable[Mapping[str, Any]], desired: Iterable[Mapping[str, Any]] | None = None
) -> list[PolicyRow]:
    """Rows for live `items`, with drift against `desired` (None: drift unknown)."""
    from actions.runbook.checks import EMERGENCY_LABELS, INCIDENT_LABEL

    wanted = None
    if desired is not None:
        wanted = {
            str((d.get("metadata") or {}).get("name")): _spec_digest(d)
            for d in desired
            if d.get("kind") == "NetworkPolicy"
        }
    rows = []
    seen = set()
    for item in items:
        meta, spec = item.get("metadata") or {}, item.get("spec") or {}
        labels = meta.get("labels") or {}
        name = str(meta.get("name"))
        seen.add(name)
        emergency = all(labels.get(k) == v for k, v in EMERGENCY_LABELS.items())
        if wanted is None:
            drift = "?"
        elif name in wanted:
            drift = "" if wanted[name] == _spec_digest(item) else "changed"
        else:
            drift = "" if emergency else "not desired"
        manifest = {k: v for k, v in item.items() if k != "status"}
        manifest["metadata"] = {
            k: v for k, v in meta.items() if k not in ("managedFields", "resourceVersion", "uid")
        }
        rows.append(PolicyRow(
            namespace=str(meta.get("namespace") or ""), name=name,
            selector=selector_text(spec.get("podSelector")),
            types=",".join(spec.get("policyTypes") or []) or "Ingress",
            emergency=emergency, incident=labels.get(INCIDENT_LABEL), drift=drift,
            manifest=manifest, ingress_rules=len(spec.get("ingress") or []),
            egress_rules=len(spec.get("egress") or []),
        ))
    for name in sorted(set(wanted or {}) - seen):
        rows.append(PolicyRow(namespace="", name=name, selector="-", types="-", emergency=False,
                              incident=None, drift="missing"))
    rows.sort(key=lambda row: (row.drift != "missing", not row.emergency, row.namespace, row.name))
    return rows


def with_findings(rows: Iterable[PolicyRow], findings: Iterable[Any] | None,
                  namespace: str = "") -> list[PolicyRow]:
    """`rows` with their drift from `actions.policy.drift.DriftFinding`s (None: unknown, "?").

    A policy the desired state wants and the cluster lacks gets a row of its own.
    """
    by_name = {finding.name: finding for finding in findings or ()}
    out = []
    for row in rows:
        if row.drift == "missing":
            continue  # re-derived from the findings below
        found = by_name.get(row.name)
        if found and found.kind == "missing":
            # The cluster lists a policy the last drift check found absent: it was (re)applied
            # since. Unknown until the drift source looks again, and shown once, not twice.
            out.append(replace(row, drift="?", drift_detail="applied since the last drift check"))
            continue
        drift = "?" if findings is None else (found.kind if found else "")
        out.append(replace(row, drift=drift, drift_detail=found.detail if found else ""))
    present = {row.name for row in out}
    for finding in by_name.values():
        if finding.kind == "missing" and finding.name not in present:
            out.append(PolicyRow(namespace=finding.namespace or namespace, name=finding.name,
                                 selector="-", types="-", emergency=False, incident=None,
                                 drift="missing", drift_detail=finding.detail))
    out.sort(key=lambda row: (row.drift != "missing", not row.emergency, row.name))
    return out


def live_policy_rows(snapshot: Any, known: Mapping[str, PolicyRow]) -> list[PolicyRow]:
    """Rows for a live `actions.sources.policies.PolicySnapshot`; manifests kept from `known`."""
    rows = []
    for info in snapshot.policies:
        key = f"{snapshot.namespace}/{info.name}"
        before = known.get(key)
        rows.append(PolicyRow(
            namespace=snapshot.namespace, name=info.name, selector=selector_text(info.pod_selector),
            types=",".join(info.policy_types) or "Ingress", emergency=info.emergency,
            incident=info.incident, drift=before.drift if before else "?",
            manifest=before.manifest if before else {}, ingress_rules=info.ingress_rules,
            egress_rules=info.egress_rules, drift_detail=before.drift_detail if before else ""))
    return rows


@dataclass(frozen=True, slots=True)
class MeshRow:
    """One line of the Mesh pane: a proxy, an mTLS setting or an AuthorizationPolicy."""

    kind: str  # "proxy", "mtls", "authz", "pod", "traffic", "event"...
    name: str
    state: str
    detail: str = ""
    flagged: bool = False
    """Shown in the theme's error colour with a warning sign (STALE, PERMISSIVE, DISABLE)."""
    caution: bool = False
    """Shown in the theme's warning colour (NOT SENT, a pod without a sidecar)."""
    uid: str = ""
    """What tells two rows of the same kind and name apart (events of one object)."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}:{self.uid}" if self.uid else f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class MeshView:
    """What the Mesh pane shows: which mesh, and its rows."""

    mesh: str | None
    detail: str = ""
    rows: tuple[MeshRow, ...] = ()


def mtls_rows(peer_authentications: Iterable[Mapping[str, Any]]) -> list[MeshRow]:
    """One row per PeerAuthentication (namespace-wide, or per workload with a selector)."""
    rows = []
    for item in peer_authentications:
        meta, spec = item.get("metadata") or {}, item.get("spec") or {}
        mode = str((spec.get("mtls") or {}).get("mode") or "UNSET").upper()
        selector = spec.get("selector")
        scope = f"workload {selector_text(selector)}" if selector else "namespace"
        rows.append(MeshRow("mtls", f"{meta.get('namespace')}/{meta.get('name')}", mode, scope,
                            flagged=mode in FLAGGED_MTLS))
        for port, setting in sorted((spec.get("portLevelMtls") or {}).items()):
            port_mode = str((setting or {}).get("mode") or "UNSET").upper()
            rows.append(MeshRow("mtls", f"{meta.get('namespace')}/{meta.get('name')}:{port}",
                                port_mode, f"port {port}", flagged=port_mode in FLAGGED_MTLS))
    return rows


def authz_rows(policies: Iterable[Mapping[str, Any]]) -> list[MeshRow]:
    """One row per Istio AuthorizationPolicy: its action and the workloads it selects."""
    rows = []
    for item in policies:
        meta, spec = item.get("metadata") or {}, item.get("spec") or {}
        action = str(spec.get("action") or "ALLOW")
        rules = spec.get("rules")
        detail = f"{selector_text(spec.get('selector'))}, {counted(len(rules or []), 'rule')}"
        if action == "ALLOW" and not rules:
            detail += ", denies all"
        rows.append(MeshRow("authz", f"{meta.get('namespace')}/{meta.get('name')}", action, detail,
                            flagged=action == "DENY"))
    return rows


# --- live mesh rows: from the mesh monitor's snapshots, traffic samples and Warning events ---

SPARK_BLOCKS = (
    "\N{LOWER ONE EIGHTH BLOCK}\N{LOWER ONE QUARTER BLOCK}\N{LOWER THREE EIGHTHS BLOCK}"
    "\N{LOWER HALF BLOCK}\N{LOWER FIVE EIGHTHS BLOCK}\N{LOWER THREE QUARTERS BLOCK}"
    "\N{LOWER SEVEN EIGHTHS BLOCK}\N{FULL BLOCK}"
)
SPARK_WIDTH = 24  # polls shown per sparkline: 6 minutes at the traffic monitor's 15 s
GOOD_STATES = ("SYNCED", "STRICT", "CONNECTED", "READY")
ROWED_PROBLEMS = ("PeerAuthentication ", "pods without the ")
# Worst first: a proxy's state is the worst of its xDS types' states (IGNORED: ztunnel's).
SYNC_ORDER = ("ERROR", "STALE", "NOT SENT", "SYNCED", "IGNORED")


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """The last `width` values as block characters, scaled to their own maximum; left-padded."""
    shown = list(values)[-width:]
    if not shown:
        return ""
    top = max(shown)
    if top <= 0:
        blocks = SPARK_BLOCKS[0] * len(shown)
    else:
        last = len(SPARK_BLOCKS) - 1
        blocks = "".join(SPARK_BLOCKS[min(last, round(v / top * last))] for v in shown)
    return " " * (width - len(shown)) + blocks


def rate_text(value: float, unit: str) -> str:
    """`1.2 KB/s`, `0.25 req/s`: short, for a table cell."""
    if unit == "B":
        for step, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
            if value >= step:
                return f"{value / step:.1f} {prefix}B/s"
        return f"{value:.0f} B/s"
    return f"{value:.2f} {unit}/s"


def proxy_state(statuses: Mapping[str, str]) -> str:
    """ERROR, STALE, NOT SENT or SYNCED: the worst of a proxy's xDS types' states."""
    from actions.runbook.status import base_status

    states = {base_status(value) for value in statuses.values()}
    for state in SYNC_ORDER:
        if state in states:
            return "SYNCED" if state == "IGNORED" else state
    return min(states) if states else "UNKNOWN"


def snapshot_view(snapshot: Any) -> MeshView:
    """The Mesh pane's rows for one `actions.sources.mesh.MeshSnapshot`."""
    rows: list[MeshRow] = []
    for proxy in sorted(snapshot.proxies, key=lambda p: p.name):
        state = proxy_state(proxy.statuses)
        odd = " ".join(f"{kind} {value}" for kind, value in proxy.statuses.items()
                       if not str(value).startswith("SYNCED"))
        rows.append(MeshRow("proxy", proxy.name, state,
                            f"{proxy.version} {odd}".strip(),
                            flagged=state in ("STALE", "ERROR"), caution=state == "NOT SENT"))
    for pa in snapshot.peer_authentications:
        where = (f"workload {selector_text({'matchLabels': pa.selector})}" if pa.selector
                 else pa.scope)
        mode = pa.mode.upper()
        rows.append(MeshRow("mtls", f"{pa.namespace}/{pa.name}", mode, where,
                            flagged=mode in FLAGGED_MTLS))
        for port, port_mode in sorted(pa.port_modes.items()):
            rows.append(MeshRow("mtls", f"{pa.namespace}/{pa.name}:{port}", port_mode.upper(),
                                f"{where}, port {port}",
                                flagged=port_mode.upper() in FLAGGED_MTLS))
    if snapshot.mesh == "istio" and not any(pa.scope in ("namespace", "mesh") and
                                            pa.mode != "UNSET"
                                            for pa in snapshot.peer_authentications):
        rows.append(MeshRow("mtls", f"{snapshot.namespace} (default)", "PERMISSIVE",
                            "no PeerAuthentication: Istio's default", flagged=True))
    for policy in snapshot.authorization_policies:
        selector = selector_text({"matchLabels": policy.selector} if policy.selector else None)
        detail = f"{selector}, {policy.action} with {counted(policy.rules, 'rule')}"
        state = "DENIES ALL" if policy.denies_all else policy.action
        rows.append(MeshRow("authz", f"{policy.namespace}/{policy.name}", state, detail,
                            flagged=policy.action == "DENY" or policy.denies_all))
    for pod in snapshot.workloads:
        if not pod.injected:
            rows.append(MeshRow("pod", f"{pod.namespace}/{pod.name}", "NO SIDECAR",
                                "outside the mesh: no proxy, no mTLS", caution=True))
    for pod in snapshot.control_plane:
        rows.append(MeshRow("control", f"{pod.namespace}/{pod.name}",
                            "READY" if pod.ready else "NOT READY", "", flagged=not pod.ready))
    for check in snapshot.linkerd_checks:
        for category in check.get("categories") or []:
            for item in category.get("checks") or []:
                result = str(item.get("result") or "").upper()
                if result and result != "SUCCESS":
                    rows.append(MeshRow("check", str(item.get("description") or ""), result,
                                        str(item.get("error") or ""),
                                        flagged=result == "ERROR", caution=result == "WARNING"))
    for number, problem in enumerate(snapshot.problems):
        # Flagged PeerAuthentications and sidecar-less pods have rows of their own above.
        if not problem.startswith(ROWED_PROBLEMS):
            what, _, why = problem.partition(": ")
            rows.append(MeshRow("problem", what, "PROBLEM", why or problem, caution=True,
                                uid=str(number)))
    how = f"detected: {snapshot.mesh_detail}" if snapshot.mesh_detail else ""
    return MeshView(snapshot.mesh, how, tuple(rows))


@dataclass(frozen=True, slots=True)
class TrafficRow:
    """One line of the Mesh pane's traffic table: a workload's rate now and its sparkline."""

    kind: str  # "received" (bytes/s per workload), "mtls-fail" (503 UF/URX per service)
    name: str
    rate: str
    spark: str
    plaintext: str = ""
    flagged: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


def traffic_rows(received: Mapping[str, Sequence[float]],
                 mtls_failures: Mapping[str, Sequence[float]],
                 plaintext: Mapping[str, float]) -> list[TrafficRow]:
    """One row per workload (bytes/s received) and per service failing mTLS, with sparklines."""
    rows = []
    for key in sorted(received):
        points = received[key]
        plain = plaintext.get(key, 0.0)
        rows.append(TrafficRow("received", key, rate_text(points[-1] if points else 0.0, "B"),
                               sparkline(points),
                               f"plaintext {rate_text(plain, 'req')}" if plain > 0 else "",
                               flagged=plain > 0))
    for key in sorted(mtls_failures):
        points = mtls_failures[key]
        if not any(points):
            continue  # a service that never failed is not news
        now = points[-1] if points else 0.0
        rows.append(TrafficRow("mtls-fail", f"{key} mTLS", rate_text(now, "req"), sparkline(points),
                               "503 UF/URX: mTLS failing", flagged=now > 0))
    return rows


def event_rows(events: Iterable[Any]) -> list[MeshRow]:
    """Warning events (`actions.sources.warning_events.WarningEvent`), newest first."""
    rows = []
    for event in sorted(events, key=lambda e: e.last_seen, reverse=True):
        count = f" (x{event.count})" if event.count > 1 else ""
        rows.append(MeshRow("event", event.object, event.reason,
                            f"{event.last_seen[11:19]} {event.message}{count}", caution=True,
                            uid=event.uid or f"{event.namespace}/{event.name}"))
    return rows
