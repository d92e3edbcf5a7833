"""The runbook's cluster actions from the keyboard: form, preview, confirm, execute, timeline.

Nothing changes on the cluster before the confirmation modal showed the exact
manifest or patch, the server's dry run, the RBAC check and the context. The
form opens at once with what the selected alert says; while it is open the
action layer asks the cluster what the alert alone cannot say (the workload
behind a DNS alert's client IP, whether an address is the cluster's own:
`actions.runbook.alert_targets`), off the event loop. A refused preview goes
back to the form with the request as it was. The action layer ticks the checklist
items a succeeded action proves (`actions.checklists.tick_proven`).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType

from actions.checklists.howto import ACTION_KEYS
from tui.safe import safe_text
from tui.screens.war_room_base import WarRoomBase
from tui.views.cluster_actions import CLUSTER_ACTIONS, MESH_CHOICES

if TYPE_CHECKING:
    from actions.runbook import RunbookActions
    from actions.runbook.model import ActionRequest
    from tui.dialogs.action_form import ActionForm
    from tui.views.alert_rows import AlertRow

# The runbook's cluster actions: (key, action layer name, footer word); the keys are the ones
# the drill score and the checklist name (actions.checklists.howto.ACTION_KEYS).
CLUSTER_KEYS: tuple[tuple[str, str, str], ...] = tuple(
    (ACTION_KEYS[name][0], name, word)
    for name, word in (
        ("isolate", "Isolate"),
        ("block-ip", "Block IP"),
        ("disable-sa", "Disable SA"),
        ("mesh-deny", "Mesh deny"),
        ("rotate-sa", "Rotate SA"),
        ("capture", "Capture"),
        ("restore", "Restore"),
        ("reapply-policies", "Re-apply policies"),
    )
)
ASK_CLUSTER_SECONDS = 5.0  # how long the open form waits for the cluster's answer


class ClusterKeys(WarRoomBase):
    """i b x m t c R A: the action layer's runbook actions, each confirmed before it runs."""

    KEY_GROUP: ClassVar[str] = "cluster actions"
    WRITE_KEYS: ClassVar[frozenset[str]] = frozenset({"cluster_action"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            key,
            f"cluster_action({name!r})",
            word,
            id=f"action.{name}",
            tooltip=CLUSTER_ACTIONS[name].title,
        )
        for key, name, word in CLUSTER_KEYS
    ]

    def action_request(self, name: str) -> ActionRequest:
        """What the form starts from: where, which incident, who, the configuration's places,
        and the target (and capture's service) prefilled from the selected alert."""
        from actions.runbook import ActionRequest
        from tui.dialogs.action_form import prefill

        services = self.war_app.services
        settings = self.war_app.settings
        alert = self.selected_alert
        provider = settings.mesh.provider
        prometheus = settings.prometheus
        options: dict[str, Any] = {}
        if name == "capture":
            # capture looks at the pods of the selected alert's service
            options["service"] = prefill("isolate", alert) or None
        if name == "reapply-policies":  # `kubectl apply -f` of the desired state (a drill's own)
            options["desired_state_file"] = str(settings.policies.desired_state_file)
        return ActionRequest(
            name,
            target=prefill(name, alert) or None,
            namespace=services.namespace,
            incident_id=self.incident.id if self.incident else None,
            actor=self.actor,
            mesh=provider if provider in MESH_CHOICES else "auto",
            falco_namespace=settings.falco.namespace,
            falco_selector=settings.falco.selector,
            prometheus_service=(prometheus.namespace, prometheus.service, prometheus.port),
            prometheus_url=prometheus.url,
            **options,
        )

    def reapplied(self) -> bool:
        """Whether the incident's timeline shows a succeeded re-apply (restore can undo it)."""
        return any(
            entry.kind == "action.succeeded" and entry.data.get("action") == "reapply-policies"
            for entry in self.incident_timeline()
        )

    def initial_hint(self, name: str, alert: AlertRow | None, request: ActionRequest) -> str:
        """The form's line about its prefilled field, before the cluster answers."""
        field = request.service if name == "capture" else request.target
        if alert is None or not _has_alert_field(name):
            return ""  # restore: nothing in the form comes from the alert
        if field:
            return "From the selected alert; checking it against the cluster\N{HORIZONTAL ELLIPSIS}"
        return "Asking the cluster about the selected alert\N{HORIZONTAL ELLIPSIS}"

    async def _ask_cluster(
        self, actions: RunbookActions, form: ActionForm, request: ActionRequest, alert: AlertRow
    ) -> None:
        """Refine the open form's field from the cluster (the action layer, off the loop)."""
        from actions.kube.cluster import ClusterError
        from actions.runbook.alert_targets import alert_target

        field_id = "service" if request.action == "capture" else "target"
        try:
            found = await asyncio.wait_for(
                alert_target(actions, request, alert.raw_fields, alert.output),
                ASK_CLUSTER_SECONDS,
            )  # fmt: skip
        except (ClusterError, TimeoutError) as error:
            why = "no answer in time" if isinstance(error, TimeoutError) else error.message
            form.offer(field_id, None, f"From the selected alert only: the cluster could not "
                                       f"be asked ({why})")  # fmt: skip
            return
        if form.is_attached:
            form.offer(field_id, found.value, found.note)

    async def fill_form(
        self, name: str, request: ActionRequest, where: str, *, ask: bool = True
    ) -> ActionRequest | None:
        """The form for `request` (the operator's request, or None when cancelled); while it is
        open the cluster is asked about the selected alert (`ask`: not when the operator comes
        back to what they typed)."""
        # The form's module: imported when a key first opens it, or by the warm-up after the
        # first frame (tui/warmup.py), not with the war room.
        from tui.dialogs.action_form import ActionForm

        alert = self.selected_alert if ask else None
        spec = CLUSTER_ACTIONS[name]
        if name == "restore" and not self.reapplied():
            spec = replace(spec, options=tuple(o for o in spec.options if o != "undo_reapply"))
        form = ActionForm(spec, request, where, hint=self.initial_hint(name, alert, request))
        asking = None
        actions = self.war_app.services.actions
        if (
            alert is not None
            and actions is not None
            and _has_alert_field(name)
        ):
            asking = asyncio.create_task(self._ask_cluster(actions, form, request, alert))
        try:
            return await self.app.push_screen_wait(form)
        finally:
            if asking is not None:
                asking.cancel()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_cluster_action(self, name: str) -> None:
        """Form, preview, confirm, execute one runbook action; the outcome lands in the record."""
        if self._refuse("cluster_action"):
            return
        from actions.kube.cluster import ClusterError
        from actions.runbook import InvalidRequest
        from tui.dialogs.confirm_action import BACK, CONFIRM, ConfirmAction, ConfirmRequest

        services = self.war_app.services
        where = f"context {services.context or 'unknown'}, namespace {services.namespace}"
        asked, first = self.action_request(name), True
        while True:
            request = await self.fill_form(name, asked, where, ask=first)
            if request is None:
                return
            actions = services.actions
            if actions is None:  # refused above (`why_disabled`): the keys need a connection
                return
            try:
                preview = await actions.preview(request)
            except (InvalidRequest, ClusterError) as error:
                self.notify(
                    safe_text(str(error)), title=f"{name} refused", severity="error", markup=False
                )
                return
            answer = await self.app.push_screen_wait(
                ConfirmAction(ConfirmRequest.from_preview(preview))
            )
            if answer == BACK:
                asked, first = request, False  # the form again, as the operator left it
                continue
            if answer != CONFIRM:
                self.notify(f"{name} cancelled: nothing changed", title="Cancelled", markup=False)
                return
            break
        # Waited for here too, so whoever waits for this key's worker sees the outcome.
        await self.execute_cluster_action(name, preview).wait()

    @work(group="cluster-execute", exit_on_error=False)
    async def execute_cluster_action(self, name: str, preview: Any) -> None:
        """Run a confirmed action to its outcome. Its own worker: the "action" group is
        exclusive, and a key pressed meanwhile (k, n, d...) would cancel it half done."""
        actions = self.war_app.services.actions
        if actions is None:  # refused before the form (`why_disabled`): it needs a connection
            return
        outcome = await actions.execute(preview)
        went_well = outcome.status in ("succeeded", "no-op")
        what = f"{name} {outcome.target}" if outcome.target else name  # "restore: ...", no gap
        self.notify(
            safe_text(f"{what}: {outcome.status}. {outcome.message}"),
            title="Action outcome",
            severity="information" if went_well else "error",
            markup=False,
        )
        await self.refresh_from_record()
        self.load_cluster()  # the policies pane shows what the action changed


def _has_alert_field(name: str) -> bool:
    """Whether the action's form has a field the selected alert can fill (its target, or
    capture's service)."""
    return CLUSTER_ACTIONS[name].target_label is not None or name == "capture"
