"""The cluster-action keys' form and what it is prefilled with from the selected alert.

`prefill(action, alert)` reads the alert's raw output fields (attacker-controlled:
only ever used as the text of an input the operator sees and may change, and
the action layer validates it again). `ActionForm` asks for the target and
dismisses with an `ActionAnswer`, or None when cancelled.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Label, Static

from tui.safe import safe_text
from tui.screens.forms import FormScreen

if TYPE_CHECKING:
    from tui.widgets.alert_rows import AlertRow


@dataclass(frozen=True, slots=True)
class ClusterAction:
    """One runbook action as the console offers it."""

    name: str  # the action layer's name (`ActionRequest.action`)
    title: str
    target_label: str | None  # None: the action takes no target


CLUSTER_ACTIONS: dict[str, ClusterAction] = {
    a.name: a
    for a in (
        ClusterAction("isolate", "Isolate a service (deny all its traffic)", "Service (app label)"),
        ClusterAction("block-ip", "Block an egress IP", "IP address or CIDR"),
        ClusterAction("disable-sa", "Disable a service account", "Service account"),
        ClusterAction("mesh-deny", "Deny a service in the mesh", "Service (app label)"),
        ClusterAction("rotate-sa", "Rotate a service account's tokens", "Service account"),
        ClusterAction("capture", "Capture evidence", None),
        ClusterAction("restore", "Restore (undo the incident's containment)", None),
    )
}

# Falco's remote and server addresses, most specific first.
_IP_FIELDS = ("fd.rip", "fd.sip", "fd.cip", "fd.rip.name")
_SA_FIELDS = ("k8s.pod.sa", "k8s.sa.name", "ka.target.name")
_APP_FIELDS = ("k8s.pod.label.app", "k8s.pod.labels.app", "k8s.deployment.name", "k8s.svc.name")
_POD_FIELDS = ("k8s.pod.name", "ka.target.name")
# A Deployment's pod: NAME-<replicaset hash>-<5 chars>; a StatefulSet's: NAME-<ordinal>.
_DEPLOYMENT_POD = re.compile(r"^(?P<app>[a-z0-9][a-z0-9-]*?)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_STATEFUL_POD = re.compile(r"^(?P<app>[a-z0-9][a-z0-9-]*?)-\d+$")
_IP_IN_TEXT = re.compile(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
_SA_USER = re.compile(r"^system:serviceaccount:[^:]+:(?P<name>[^:]+)$")


def _field(fields: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = fields.get(key)
        if isinstance(value, str) and value.strip() and value != "<NA>":
            return value.strip()
    return None


def app_of(alert: AlertRow) -> str | None:
    """The alert's service: its app label if Falco gave one, else its pod name's owner."""
    fields = alert.raw_fields
    if app := _field(fields, _APP_FIELDS):
        return app
    pod = _field(fields, _POD_FIELDS)
    if pod is None:
        return None
    for pattern in (_DEPLOYMENT_POD, _STATEFUL_POD):
        if match := pattern.match(pod):
            return match.group("app")
    return pod


def ip_of(alert: AlertRow) -> str | None:
    """The alert's remote address: fd.rip/fd.sip, else the first public-looking IP in the text."""
    fields = alert.raw_fields
    candidates = [value for key in _IP_FIELDS if isinstance(value := fields.get(key), str)]
    candidates += _IP_IN_TEXT.findall(str(fields.get("fd.name") or ""))
    candidates += _IP_IN_TEXT.findall(alert.output)
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate.strip())
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified):
            return str(address)
    return None


def service_account_of(alert: AlertRow) -> str | None:
    """The alert's service account: Falco's field, an API user name, else the service's name."""
    fields = alert.raw_fields
    if name := _field(fields, _SA_FIELDS):
        return name
    user = _field(fields, ("ka.user.name",))
    if user and (match := _SA_USER.match(user)):
        return match.group("name")
    return app_of(alert)


def prefill(action: str, alert: AlertRow | None) -> str:
    """What the form's target starts as for `action`, from the selected alert ("" if nothing)."""
    if alert is None:
        return ""
    if action in ("isolate", "mesh-deny"):
        found = app_of(alert)
    elif action == "block-ip":
        found = ip_of(alert)
    elif action in ("disable-sa", "rotate-sa"):
        found = service_account_of(alert)
    else:
        found = None
    return safe_text(found) if found else ""


@dataclass(frozen=True, slots=True)
class ActionAnswer:
    action: str
    target: str | None


class ActionForm(FormScreen[ActionAnswer]):
    """The target of one cluster action; the next step is its preview, never the change."""

    def __init__(self, action: ClusterAction, target: str = "", where: str = "") -> None:
        super().__init__()
        self.action_spec = action
        self._target = target
        self._where = where
        self.TITLE_TEXT = action.title

    def compose_fields(self) -> ComposeResult:
        if self._where:
            yield Static(Text(safe_text(self._where)), id="action-where", markup=False)
        if self.action_spec.target_label is not None:
            yield Label(Text(self.action_spec.target_label), markup=False)
            yield Input(self._target, id="target")
        yield Static(
            Text("Save shows the preview: nothing changes before you confirm it."),
            markup=False,
        )

    def value(self) -> ActionAnswer | None:
        if self.action_spec.target_label is None:
            return ActionAnswer(self.action_spec.name, None)
        target = self.query_one("#target", Input).value.strip()
        if not target:
            self.error(f"{self.action_spec.name} needs a {self.action_spec.target_label.lower()}")
            return None
        return ActionAnswer(self.action_spec.name, target)
