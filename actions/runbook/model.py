"""The plain dataclasses of the action layer: request, preview, outcome.

A console or the command line builds an `ActionRequest`, gets an
`ActionPreview` (the exact manifests and patches, the server's dry-run answer,
the permission checks, warnings and blocking problems), shows it, and on
confirmation hands that same preview to `execute`, which returns an
`ActionOutcome`. Everything here turns into JSON with `to_dict()`.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTIONS = (
    "isolate",
    "block-ip",
    "disable-sa",
    "mesh-deny",
    "rotate-sa",
    "capture",
    "restore",
    "reapply-policies",
)
MESHES = ("auto", "istio", "linkerd")

# Stands in for the incident ID in a preview when executing will open a new incident;
# execute swaps it for the real ID in every label and annotation before sending.
PENDING_INCIDENT = "pending-incident"


@dataclass(frozen=True)
class ActionRequest:
    """What the operator asked for. `target` is the SERVICE, IP or service account NAME."""

    action: str
    target: str | None = None
    namespace: str = "voicehive"
    incident_id: str | None = None
    actor: str | None = None
    # block-ip
    force: bool = False
    emergency_egress: bool = False
    protected_cidrs: tuple[str, ...] = ()
    # block-ip (emergency egress policy) and capture: the app whose pods are meant
    service: str | None = None
    # mesh-deny
    mesh: str = "auto"
    # capture: what to look for where (the configuration's falco and prometheus sections)
    domain: str | None = None
    since_seconds: int = 3600
    falco_namespace: str = "falco-system"
    falco_selector: str = "app=falco"
    prometheus_service: tuple[str, str, int] = ("monitoring", "prometheus", 9090)
    prometheus_url: str | None = None
    # restore
    unblock: bool = False
    undo_reapply: bool = False
    # reapply-policies: the desired-state file (the configuration's [policies] desired_state_file)
    desired_state_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["protected_cidrs"] = list(self.protected_cidrs)
        out["prometheus_service"] = list(self.prometheus_service)
        return out


FORCE_HINT = "If you are sure, force it (--force, or the form's Force box)"
"""How a refusal that can be overridden says so, from the command line and the console."""


@dataclass(frozen=True)
class Problem:
    """Why an action cannot run: a one-word cause and a message naming it."""

    cause: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"cause": self.cause, "message": self.message}


ReadBackCheck = Callable[[dict[str, Any] | None], str | None]


@dataclass
class Change:
    """One change to the cluster: create a manifest, patch or delete an object.

    `body` is the exact manifest (create) or patch (patch) that will be sent;
    `dry_run` holds the server's answer to the same request with dryRun=All.
    `check` reads the object back after the change and returns a problem or None.
    """

    verb: str  # create | patch | delete
    api_version: str
    kind: str
    namespace: str | None
    name: str
    summary: str
    body: Any = None
    patch_type: str | None = None
    uid: str | None = None
    check: ReadBackCheck | None = None
    dry_run: dict[str, Any] | None = None
    dry_run_error: str | None = None
    # What restore needs to find this object again (create) or undo this change.
    records: dict[str, Any] = field(default_factory=dict)

    def ref(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    def sent(self) -> Any:
        """What the request carries: the manifest, the patch, or a delete's DeleteOptions."""
        from actions.kube.cluster import delete_options

        return delete_options(self.uid) if self.verb == "delete" else self.body

    def sent_yaml(self) -> str:
        """What is sent, as YAML the way `kubectl ... -o yaml` shows a manifest: every
        preview (console and command line) shows a change this way."""
        import yaml  # here: the console's first frame does not wait for it

        return yaml.safe_dump(self.sent(), sort_keys=False, default_flow_style=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            **self.ref(),
            "summary": self.summary,
            "body": copy.deepcopy(self.body),
            "patch_type": self.patch_type,
            "dry_run": "ok" if self.dry_run is not None else None,
            "dry_run_error": self.dry_run_error,
        }


@dataclass(frozen=True)
class PermissionCheck:
    """One SelfSubjectAccessReview answer."""

    verb: str
    group: str
    resource: str
    namespace: str | None
    name: str | None
    allowed: bool
    reason: str = ""
    subresource: str | None = None

    def describe(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        if self.group:
            resource += f".{self.group}"
        where = f" in {self.namespace}" if self.namespace else ""
        name = f" {self.name}" if self.name else ""
        return f"{self.verb} {resource}{name}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace,
            "name": self.name,
            "allowed": self.allowed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CaptureProgress:
    """One piece of a capture: started, stored (with its sha256) or failed."""

    piece: str
    index: int
    total: int
    state: str  # started | stored | failed
    sha256: str | None = None
    size: int | None = None
    message: str = ""


ProgressSink = Callable[[CaptureProgress], Awaitable[None] | None]


@dataclass
class ActionPreview:
    """Everything the operator confirms. Execute it as it is, or not at all."""

    request: ActionRequest
    incident_id: str | None
    opens_incident: bool
    changes: list[Change]
    permissions: list[PermissionCheck]
    notes: list[str]
    problems: list[Problem]
    no_op: str | None
    cluster: dict[str, Any]
    at: datetime
    # Action-specific facts recorded with the intent (planned names, previous state...).
    intent_data: dict[str, Any] = field(default_factory=dict)
    # Capture: the pieces to gather, by name (run at execute, not previewed).
    pieces: list[str] = field(default_factory=list)
    executed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def target(self) -> str | None:
        return self.request.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "preview",
            "action": self.request.action,
            "target": self.request.target,
            "request": self.request.to_dict(),
            "incident_id": self.incident_id,
            "opens_incident": self.opens_incident,
            "cluster": dict(self.cluster),
            "at": self.at.isoformat(),
            "ok": self.ok,
            "no_op": self.no_op,
            "changes": [c.to_dict() for c in self.changes],
            "pieces": list(self.pieces),
            "permissions": [p.to_dict() for p in self.permissions],
            "notes": list(self.notes),
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class ActionOutcome:
    """How an executed action ended, as recorded."""

    action: str
    target: str | None
    status: str  # succeeded | failed | no-op | unknown
    message: str
    incident_id: str | None
    action_id: str | None
    opened_incident: bool = False
    cause: str | None = None
    applied: list[dict[str, Any]] = field(default_factory=list)
    verified: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "no-op")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "outcome",
            "action": self.action,
            "target": self.target,
            "status": self.status,
            "message": self.message,
            "cause": self.cause,
            "incident_id": self.incident_id,
            "opened_incident": self.opened_incident,
            "action_id": self.action_id,
            "applied": self.applied,
            "verified": self.verified,
            "data": self.data,
            "evidence": self.evidence,
            "duration_ms": round(self.duration_ms, 1),
        }
