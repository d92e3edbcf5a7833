"""Plain rows for the NetworkPolicy and Mesh panes, built from the API's JSON objects.

No Textual here: the panes are fed these dataclasses, and a worker builds them
from whatever the cluster answered (tests build them from the drill cluster).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from actions.runbook.checks import EMERGENCY_LABELS, INCIDENT_LABEL

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
    """"" (as desired), "changed", "not desired", "missing" (desired, absent), "?" (unknown)."""
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def yaml(self) -> str:
        return yaml.safe_dump(self.manifest, sort_keys=False, default_flow_style=False)


def selector_text(selector: Mapping[str, Any] | None) -> str:
    """A label selector as kubectl prints it (`app=web,tier in (a,b)`); `<all pods>` when empty."""
    if not selector:
        return "<all pods>"
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        values = ",".join(str(v) for v in expr.get("values") or [])
        parts.append(f"{expr.get('key')} {str(expr.get('operator', '')).lower()} ({values})")
    return ",".join(parts) or "<all pods>"


def _spec_digest(policy: Mapping[str, Any]) -> str:
    return json.dumps(policy.get("spec") or {}, sort_keys=True)


def policy_rows(
    items: Iterable[Mapping[str, Any]], desired: Iterable[Mapping[str, Any]] | None = None
) -> list[PolicyRow]:
    """Rows for live `items`, with drift against `desired` (None: drift unknown)."""
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
            manifest=manifest,
        ))
    for name in sorted(set(wanted or {}) - seen):
        rows.append(PolicyRow(namespace="", name=name, selector="-", types="-", emergency=False,
                              incident=None, drift="missing"))
    rows.sort(key=lambda row: (row.drift != "missing", not row.emergency, row.namespace, row.name))
    return rows


@dataclass(frozen=True, slots=True)
class MeshRow:
    """One line of the Mesh pane: a proxy, an mTLS setting or an AuthorizationPolicy."""

    kind: str  # "proxy", "mtls", "authz"
    name: str
    state: str
    detail: str = ""
    flagged: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


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
        detail = f"{selector_text(spec.get('selector'))}, {len(rules or [])} rule(s)"
        if action == "ALLOW" and not rules:
            detail += ", denies all"
        rows.append(MeshRow("authz", f"{meta.get('namespace')}/{meta.get('name')}", action, detail,
                            flagged=action == "DENY"))
    return rows
