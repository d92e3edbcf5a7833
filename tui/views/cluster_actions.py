"""The cluster actions the console offers (the keys' titles, the form's fields), as data.

Textual-free, so the war room's keys take their titles from here without importing the
action form (tui/dialogs/action_form.py), which opens only when a key asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

MESH_CHOICES = ("auto", "istio", "linkerd")  # the action layer's MESHES, without importing it


@dataclass(frozen=True, slots=True)
class ClusterAction:
    """One runbook action as the console offers it."""

    name: str  # the action layer's name (`ActionRequest.action`)
    title: str
    target_label: str | None  # None: the action takes no target
    options: tuple[str, ...] = ()  # the `ActionRequest` fields the form asks for


CLUSTER_ACTIONS: dict[str, ClusterAction] = {
    a.name: a
    for a in (
        ClusterAction(
            "isolate", "Isolate a service (deny all its traffic)", "Service (app label)", ("force",)
        ),
        ClusterAction(
            "block-ip",
            "Block an egress IP",
            "IP address or CIDR",
            ("protected_cidrs", "force", "emergency_egress", "service"),
        ),
        ClusterAction("disable-sa", "Disable a service account", "Service account"),
        ClusterAction("mesh-deny", "Deny a service in the mesh", "Service (app label)", ("mesh",)),
        ClusterAction("rotate-sa", "Rotate a service account's tokens", "Service account"),
        ClusterAction("capture", "Capture evidence", None, ("service", "domain", "since_seconds")),
        ClusterAction(
            "restore", "Restore (undo the incident's containment)", None,
            ("unblock", "undo_reapply"),
        ),
        ClusterAction(
            "reapply-policies",
            "Apply corrected network policies (the desired state)",
            None,
            ("desired_state_file",),
        ),
    )
}
