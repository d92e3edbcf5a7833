"""Which incident an alert recorded without one belongs to, and how the link is chained.

The rule (README, "Alerts belong to their incident"): an alert recorded with no
incident is linked to an open incident when it was one of the alerts of the
proposal the incident was accepted from, or when it is about the same subject
as one of those: the same runbook class (the rule family: its `category`), the
same namespace and the same workload. An alert that names no workload is never
linked by its subject. A link is a chained `alert_links` entry (written by
`Alerts.link_keys` / `Alerts.link_subjects`); the alert row then carries the
incident in `incident_id` and keeps the hash it was chained with
(`content_at_arrival`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

POD_FIELDS = ("k8s.pod.name", "k8s_pod_name")
WORKLOAD_FIELDS = ("k8s.deployment.name",)  # also the mesh's refused caller (traffic.py)
NAMESPACE_FIELDS = ("k8s.ns.name", "k8s_ns_name", "k8s_ns")
CONTAINER_FIELDS = ("container.name", "container_name")
# Kubernetes generates name suffixes from this alphabet (no vowels, no 0, 1, 3):
# kubernetes/apimachinery pkg/util/rand/rand.go `alphanums`. A ReplicaSet's pods are
# `<deployment>-<pod-template-hash>-<5>`; DaemonSet and Job pods `<owner>-<5>`;
# StatefulSet pods `<set>-<ordinal>`.
_GENERATED = "[bcdfghjklmnpqrstvwxz2456789]"
_OWNED_POD_NAMES = (
    re.compile(rf"(.+)-{_GENERATED}{{6,10}}-{_GENERATED}{{5}}"),
    re.compile(rf"(.+)-{_GENERATED}{{5}}"),
    re.compile(r"(.+)-\d+"),
)
_NOT_A_NAME = ("", "<NA>", "host", "null")
# Kubernetes names are at most 253 characters; a longer one in an alert is cut here, so a
# hostile alert cannot make every proposal and link entry carry megabytes.
MAX_NAME = 253
LINK_BY_PROPOSAL = "proposal"
LINK_BY_SUBJECT = "subject"
LINK_BASES = (LINK_BY_PROPOSAL, LINK_BY_SUBJECT)
# An incident opened by hand from an alert (`o`): the timeline entry names its subject, so
# later alerts about it are linked as a proposal's are (actions/sources/detection.py).
OPENED_FROM_ALERT_KIND = "incident.opened-from-alert"


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """What an alert is about, as the link rule compares it."""

    category: str
    """The runbook class (the rule family)."""
    namespace: str
    """'' when the alert names none."""
    workload: str
    """The pod's owner (`orchestrator` for `orchestrator-6f8d9c7b5d-k2x9p`), else the pod,
    Deployment or container name, else `client <IP>` for a DNS detection."""

    def to_list(self) -> list[str]:
        return [self.category, self.namespace, self.workload]

    @classmethod
    def from_list(cls, value: object) -> AlertSubject | None:
        """The subject as `to_list` wrote it (None for anything else: a hostile record)."""
        if isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value):
            return cls(*value)
        return None


def _field(fields: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = fields.get(name)
        if isinstance(value, str) and value not in _NOT_A_NAME:
            return value
    return ""


def workload_of(pod: str) -> str:
    """The workload a pod belongs to, from its generated name (the pod's own name otherwise)."""
    for pattern in _OWNED_POD_NAMES:
        if match := pattern.fullmatch(pod):
            return match.group(1)
    return pod


def alert_subject(category: str | None, output_fields: object) -> AlertSubject | None:
    """The alert's subject, or None when it names no workload (never linked by subject)."""
    if not category or not isinstance(output_fields, dict):
        return None
    namespace = _field(output_fields, NAMESPACE_FIELDS)
    workload = ""
    if pod := _field(output_fields, POD_FIELDS):
        workload = workload_of(pod[:MAX_NAME])
    elif deployment := _field(output_fields, WORKLOAD_FIELDS):
        workload = deployment
    elif container := _field(output_fields, CONTAINER_FIELDS):
        workload = container
    elif client := _field(output_fields, ("client",)):  # a DNS detection: the querier's IP
        workload = f"client {client}"
    if not workload:
        return None
    return AlertSubject(category[:MAX_NAME], namespace[:MAX_NAME], workload[:MAX_NAME])


def row_subject(category: str | None, output_fields: str | None) -> AlertSubject | None:
    try:
        fields = json.loads(output_fields) if output_fields else None
    except ValueError:
        return None
    return alert_subject(category, fields)


def content_at_arrival(
    conn: sqlite3.Connection, seq: int, content: dict[str, Any]
) -> dict[str, Any] | None:
    """The content an alert row was chained with, if it was linked to its incident later.

    An alert recorded with no incident was hashed without one; linking sets
    `incident_id` and adds a chained `alert_links` entry naming the alert's chain
    position and the incident. So when a row's hash does not hold with its
    `incident_id`, and such an entry exists for exactly that incident, the content
    as chained is the same without it (None otherwise: the row was edited).
    `verify` checks the link entry itself where it sits in the chain.
    """
    incident_id = content.get("incident_id")
    if incident_id is None:
        return None
    linked = conn.execute(
        "SELECT 1 FROM alert_links WHERE alert_seq = ? AND incident_id = ?",
        (seq, incident_id),
    ).fetchone()
    if linked is None:
        return None
    return {**content, "incident_id": None}
