"""The cluster-action keys' form and what it is prefilled with from the selected alert.

`prefill(action, alert)` reads the alert's raw output fields (attacker-controlled:
only ever used as the text of an input the operator sees and may change, and
the action layer validates it again): block-ip's address is the alert's remote
peer, never its own side (`actions.falco.addresses`). What the alert alone
cannot say (the workload behind a DNS alert's client IP, whether an address is
the cluster's own) the console asks the cluster for while the form is open,
and `ActionForm.offer` puts the answer in a field the operator has not touched,
with a line saying where it came from. `ActionForm` asks for the target and each
option `warroom act` offers for that action (block-ip's force, emergency egress,
its app and protected ranges; mesh-deny's mesh; capture's service, domain and
window; restore's unblock and, once the incident re-applied policies, its undo;
reapply-policies' desired-state file), validates the whole request with the action layer's
own `validate_request` (a wrong name, IP or CIDR is refused in the form, never
sent), and dismisses with the `ActionRequest`, or None when cancelled.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widgets import Input, Label, Select, Static

from store.wording import in_sentence, with_article
from tui.dialogs.forms import FormScreen
from tui.safe import safe_text
from tui.views.cluster_actions import CLUSTER_ACTIONS as CLUSTER_ACTIONS
from tui.views.cluster_actions import MESH_CHOICES, ClusterAction
from tui.widgets.toggles import Checkbox  # its state shows without colour

if TYPE_CHECKING:
    from actions.runbook.model import ActionRequest
    from tui.views.alert_rows import AlertRow

STYLES = Path(__file__).parent.parent / "styles" / "action_form.tcss"
_DURATION = re.compile(r"(\d+)([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


# The form's field for each ActionRequest attribute a check can find at fault.
FIELD_IDS = {
    "target": "#target", "service": "#service", "domain": "#domain", "mesh": "#mesh",
    "protected_cidrs": "#protect", "since_seconds": "#since",
}
FORCE_LABELS = {
    "isolate": "Force: isolate even when no pod runs the app now",
    "block-ip": "Force: block even loopback, link-local or the cluster's own ranges",
}

_SA_FIELDS = ("k8s.pod.sa", "k8s.sa.name", "ka.target.name")
_APP_FIELDS = ("k8s.pod.label.app", "k8s.pod.labels.app", "k8s.deployment.name", "k8s.svc.name")
_POD_FIELDS = ("k8s.pod.name", "ka.target.name")
# A Deployment's pod: NAME-<replicaset hash>-<5 chars>; a StatefulSet's: NAME-<ordinal>.
_DEPLOYMENT_POD = re.compile(r"^(?P<app>[a-z0-9][a-z0-9-]*?)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_STATEFUL_POD = re.compile(r"^(?P<app>[a-z0-9][a-z0-9-]*?)-\d+$")
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
    """The alert's remote address (never its pod's own side): `actions.falco.addresses`."""
    from actions.falco.addresses import peers  # with the form: only when one opens

    remote = peers(alert.raw_fields, alert.output).remote
    return remote[0] if remote else None


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


def parse_duration(text: str) -> int | None:
    """Seconds in "90s", "30m", "1h", "2d" or a bare number of seconds; None if not one."""
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) <= 0:
        return None
    return int(match.group(1)) * _SECONDS[match.group(2)]


def duration_text(seconds: int) -> str:
    """The shortest exact way to write `seconds` the way `parse_duration` reads it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def split_cidrs(text: str) -> tuple[str, ...]:
    """The ranges typed as "10.0.0.0/8, 172.16.0.0/12" (commas or spaces)."""
    return tuple(part for part in re.split(r"[\s,]+", text.strip()) if part)


class ActionForm(FormScreen["ActionRequest"]):
    """One cluster action's target and options; the next step is its preview, never the change.

    `request` carries everything the console decided (namespace, incident, actor,
    the configuration's Falco and Prometheus places, the mesh provider) and the
    prefilled target and service; the form lets the operator change the target
    and the action's options and dismisses with the validated request.
    """

    CSS_PATH: ClassVar[str | Path] = STYLES
    # It leads to the preview, not to a saved change: the button and the key say so.
    SUBMIT_LABEL = "Preview"
    # The first text field, else Preview: restore's form has only checkboxes, and enter on
    # the first ("also remove the IPs this incident blocked") ticked it instead of previewing.
    AUTO_FOCUS = "Input, #submit"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Preview", id="form.submit"),
    ]

    def __init__(
        self, action: ClusterAction, request: ActionRequest, where: str = "", hint: str = ""
    ) -> None:
        super().__init__()
        self.action_spec = action
        self.request = request
        self._where = where
        self._hint = hint
        self._initial: dict[str, str] = {}  # each field's value as the console last set it
        self.TITLE_TEXT = action.title

    # --- what the console learns while the form is open ---------------------------------------

    def offer(self, field_id: str, value: str | None, note: str) -> bool:
        """Put `value` in the field `field_id` ("target", "service") unless the operator has
        changed it since the form opened, and say where it came from: None keeps the field,
        "" empties it (what the alert alone suggested was wrong). True when it changed."""
        field = next(iter(self.query(f"#{field_id}").results(Input)), None)
        if field is None or field.value != self._initial.get(field_id, field.value):
            return False
        for line in self.query("#action-prefill").results(Static):
            line.update(Text(safe_text(note)))
        if value is None or field.value == safe_text(value):
            return False
        field.value = self._initial[field_id] = safe_text(value)
        return True

    def on_mount(self) -> None:
        self._initial = {field.id: field.value for field in self.query(Input) if field.id}

    # --- fields ---------------------------------------------------------------------------------

    def compose_fields(self) -> ComposeResult:
        request, options = self.request, self.action_spec.options
        if self._where:
            yield Static(Text(safe_text(self._where)), id="action-where", markup=False)
        if self._hint:  # the console is asking the cluster about the selected alert
            yield Static(Text(safe_text(self._hint)), id="action-prefill", markup=False)
        with Container(classes="action-fields"):
            if self.action_spec.target_label is not None:
                yield Label(Text(self.action_spec.target_label), markup=False)
                yield Input(safe_text(request.target or ""), id="target", compact=True)
            if "protected_cidrs" in options:
                yield Label("Never block (CIDRs)")
                yield Input(
                    ", ".join(request.protected_cidrs),
                    placeholder="the cluster's pod and service ranges, e.g. 10.0.0.0/8",
                    id="protect",
                    compact=True,
                )
            if "force" in options:
                yield Checkbox(
                    FORCE_LABELS[self.action_spec.name],
                    request.force,
                    id="force",
                    compact=True,
                    classes="wide",
                )
            if "emergency_egress" in options:
                yield Checkbox(
                    "Instead, create a dedicated emergency egress policy",
                    request.emergency_egress,
                    id="emergency-egress",
                    compact=True,
                    classes="wide",
                )
            if "service" in options:
                egress = self.action_spec.name == "block-ip"
                yield Label("Only pods with app=" if egress else "Also logs of app=")
                yield Input(
                    safe_text(request.service or ""),
                    placeholder="every pod (empty)" if egress else "no service logs (empty)",
                    id="service",
                    compact=True,
                    disabled=egress and not request.emergency_egress,
                )
            if "mesh" in options:
                yield Label("Mesh")
                yield Select(
                    [(name, name) for name in MESH_CHOICES],
                    value=request.mesh if request.mesh in MESH_CHOICES else "auto",
                    allow_blank=False,
                    id="mesh",
                    compact=True,
                )
            if "domain" in options:
                yield Label("DNS lines naming")
                yield Input(
                    safe_text(request.domain or ""),
                    placeholder="a domain, e.g. evil.example (empty: all lines)",
                    id="domain",
                    compact=True,
                )
            if "since_seconds" in options:
                yield Label("DNS log window")
                yield Input(duration_text(request.since_seconds), id="since", compact=True)
            if "unblock" in options:
                yield Checkbox(
                    "Also remove the IPs this incident blocked",
                    request.unblock,
                    id="unblock",
                    compact=True,
                    classes="wide",
                )
            if "undo_reapply" in options:
                yield Checkbox(
                    "Also put back the policies this incident re-applied, as they were",
                    request.undo_reapply,
                    id="undo-reapply",
                    compact=True,
                    classes="wide",
                )
            if "desired_state_file" in options:
                yield Label("Desired state (YAML)")
                yield Input(
                    safe_text(request.desired_state_file or ""),
                    placeholder="the file `kubectl apply -f` would be given",
                    id="desired-state",
                    compact=True,
                )
        yield Static(
            Text("Preview shows what would change; nothing changes until you confirm."),
            classes="action-hint",
            markup=False,
        )

    @on(Checkbox.Changed, "#emergency-egress")
    def _egress_changed(self, event: Checkbox.Changed) -> None:
        # The app only narrows an emergency egress policy: editable only when there is one.
        self.query_one("#service", Input).disabled = not event.value

    # --- value ----------------------------------------------------------------------------------

    def _text(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def _ticked(self, selector: str) -> bool:
        return self.query_one(selector, Checkbox).value

    def value(self) -> ActionRequest | None:
        from actions.runbook import InvalidRequest, validate_request

        spec = self.action_spec
        changes: dict[str, Any] = {}
        if spec.target_label is not None:
            target = self._text("#target")
            if not target:
                self.error(f"{spec.name} needs {with_article(in_sentence(spec.target_label))}",
                           field="#target")
                return None
            changes["target"] = target
        if "protected_cidrs" in spec.options:
            changes["protected_cidrs"] = split_cidrs(self._text("#protect"))
        if "force" in spec.options:
            changes["force"] = self._ticked("#force")
        if "emergency_egress" in spec.options:
            changes["emergency_egress"] = self._ticked("#emergency-egress")
        if "service" in spec.options:
            service_field = self.query_one("#service", Input)
            changes["service"] = (
                None if service_field.disabled else service_field.value.strip() or None
            )
        if "mesh" in spec.options:
            changes["mesh"] = str(self.query_one("#mesh", Select).value)
        if "domain" in spec.options:
            changes["domain"] = self._text("#domain") or None
        if "since_seconds" in spec.options:
            seconds = parse_duration(self._text("#since"))
            if seconds is None:
                self.error(
                    f"the DNS log window {self._text('#since')!r} is not a duration "
                    "such as 90s, 30m or 1h",
                    field="#since",
                )
                return None
            changes["since_seconds"] = seconds
        if "unblock" in spec.options:
            changes["unblock"] = self._ticked("#unblock")
        if "undo_reapply" in spec.options:
            changes["undo_reapply"] = self._ticked("#undo-reapply")
        if "desired_state_file" in spec.options:
            changes["desired_state_file"] = self._text("#desired-state") or None
        request = replace(self.request, **changes)
        try:
            validate_request(request)
        except InvalidRequest as error:
            self.error(str(error), field=FIELD_IDS.get(error.field or ""))
            return None
        return request
