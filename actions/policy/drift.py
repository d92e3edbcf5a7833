"""NetworkPolicy drift: the namespace's policies against the desired-state file.

The runbook keeps the intended policies in `infra/k8s/security/network-policies.yaml`;
what differs is the P2 "configuration drift": a policy missing from the
cluster, one in the cluster that the file does not have, or one whose spec
differs. Specs are compared after the API server's defaults are applied to
both sides (policyTypes, port protocol), so a file that leaves them out is
not reported as drifted.

What an open incident changed on purpose is not drift either (`OwnContainment`):
its emergency policies (labelled `warroom.io/incident=<ID>`), warroom's
quarantine exclusion in a podSelector and the addresses its block-ip put in an
except list. A policy that differs only by those is reported `contained`
("expected: ..."), which is neither counted as drifted nor alerted; anything
else that differs still is.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# As actions/runbook/isolate.py writes them (docs/containment.md).
INCIDENT_LABEL = "warroom.io/incident"
QUARANTINE_EXCLUSION = {"key": "warroom.io/quarantine", "operator": "DoesNotExist"}
CONTAINED = "contained"
"""A finding that is an open incident's own emergency change, not drift."""


@dataclass(frozen=True)
class OwnContainment:
    """What open incidents changed on purpose (read from the record by the caller)."""

    incidents: frozenset[str] = frozenset()
    """The open (not closed) incidents' IDs."""
    blocks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """An address an open incident's block-ip put in an except list -> those incidents."""


class DesiredStateError(ValueError):
    """The desired-state file cannot be used; the message says why, naming the file."""


@dataclass(frozen=True, slots=True)
class DriftFinding:
    """One difference: `missing` (in the file, not the cluster), `extra`, or `changed`."""

    kind: str
    name: str
    namespace: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "drift", "kind": self.kind, "name": self.name,
                "namespace": self.namespace, "detail": self.detail}


def load_desired(path: Path, namespace: str) -> dict[str, dict[str, Any]]:
    """The NetworkPolicies the file wants in `namespace`, by name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DesiredStateError(f"{path}: no such desired-state file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DesiredStateError(f"{path}: cannot read it ({error})") from None
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise DesiredStateError(f"{path}: not valid YAML: {error}") from None
    wanted: dict[str, dict[str, Any]] = {}
    for doc in documents:
        items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for item in items or []:
            if not isinstance(item, dict) or item.get("kind") != "NetworkPolicy":
                continue
            metadata = item.get("metadata") or {}
            name = metadata.get("name")
            if not isinstance(name, str) or not name:
                raise DesiredStateError(f"{path}: a NetworkPolicy without a name")
            if metadata.get("namespace") not in (None, namespace):
                continue
            if name in wanted:
                raise DesiredStateError(f"{path}: NetworkPolicy {name} is defined twice")
            wanted[name] = item
    return wanted


def normalized_spec(policy: dict[str, Any]) -> dict[str, Any]:
    """The spec as the API server stores it: defaults filled, empty fields dropped."""
    spec = copy.deepcopy(policy.get("spec") or {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    spec["policyTypes"] = sorted(spec["policyTypes"])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    stored: dict[str, Any] = _drop_empty(spec)
    return stored


def _drop_empty(value: Any) -> Any:
    # Only keys whose value is empty are dropped; list elements are kept, because
    # `ingress: [{}]` (allow all) and `ingress: []` (deny all) differ.
    if isinstance(value, dict):
        return {key: _drop_empty(item) for key, item in value.items()
                if item is not None and item != [] and item != {}}
    if isinstance(value, list):
        return [_drop_empty(item) for item in value]
    return value


def without_own(policy: dict[str, Any], own: OwnContainment) -> tuple[dict[str, Any], list[str]]:
    """The policy without open incidents' emergency changes, and those changes in words."""
    kept = copy.deepcopy(policy)
    spec = kept.get("spec") or {}
    said: list[str] = []
    selector = spec.get("podSelector") or {}
    expressions = selector.get("matchExpressions") or []
    if QUARANTINE_EXCLUSION in expressions:
        selector["matchExpressions"] = [e for e in expressions if e != QUARANTINE_EXCLUSION]
        said.append("warroom's quarantine exclusion (an isolation in progress)")
    for rule in spec.get("egress") or []:
        for peer in (rule or {}).get("to") or []:
            block = (peer or {}).get("ipBlock") if isinstance(peer, dict) else None
            if not isinstance(block, dict) or not isinstance(block.get("except"), list):
                continue
            ours = [ip for ip in block["except"] if ip in own.blocks]
            block["except"] = [ip for ip in block["except"] if ip not in own.blocks]
            said += [f"{', '.join(own.blocks[ip])}'s block of {ip}" for ip in ours]
    return kept, said


def compare(desired: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]],
            namespace: str, own: OwnContainment | None = None) -> list[DriftFinding]:
    """Missing, extra, changed (and `contained`: see OwnContainment) policies, by name."""
    own = own or OwnContainment()
    findings: list[DriftFinding] = []
    for name in sorted(set(desired) | set(actual)):
        if name not in actual:
            findings.append(DriftFinding("missing", name, namespace,
                                         "in the desired state, not in the cluster"))
        elif name not in desired:
            labels = (actual[name].get("metadata") or {}).get("labels") or {}
            incident = labels.get(INCIDENT_LABEL)
            if labels.get("emergency") == "true" and incident in own.incidents:
                findings.append(DriftFinding(CONTAINED, name, namespace,
                                             f"expected: emergency policy of {incident}"))
                continue
            why = " (an emergency policy)" if labels.get("emergency") == "true" else ""
            findings.append(DriftFinding("extra", name, namespace,
                                         f"in the cluster, not in the desired state{why}"))
        else:
            stripped, ours = without_own(actual[name], own)
            wanted, found = normalized_spec(desired[name]), normalized_spec(stripped)
            if wanted == found and ours:
                findings.append(DriftFinding(CONTAINED, name, namespace,
                                             f"expected: {', '.join(ours)}"))
            elif wanted != found:
                fields = sorted(key for key in set(wanted) | set(found)
                                if wanted.get(key) != found.get(key))
                findings.append(DriftFinding("changed", name, namespace,
                                             "spec differs in " + ", ".join(fields)))
    return findings
