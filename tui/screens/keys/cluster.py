"""The runbook's cluster actions from the keyboard: form, preview, confirm, execute, timeline.

Nothing changes on the cluster before the confirmation modal showed the exact
manifest or patch, the server's dry run, the RBAC check and the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType

from tui.safe import safe_text
from tui.screens.action_form import CLUSTER_ACTIONS, MESH_CHOICES, ActionForm, prefill
from tui.screens.confirm_action import ConfirmAction, ConfirmRequest
from tui.screens.war_room_base import WarRoomBase

if TYPE_CHECKING:
    from actions.runbook.model import ActionRequest

# The runbook's cluster actions: (key, action layer name, footer word).
CLUSTER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("i", "isolate", "Isolate"),
    ("b", "block-ip", "Block IP"),
    ("x", "disable-sa", "Disable SA"),
    ("m", "mesh-deny", "Mesh deny"),
    ("t", "rotate-sa", "Rotate SA"),
    ("c", "capture", "Capture"),
    ("R", "restore", "Restore"),
)


class ClusterKeys(WarRoomBase):
    """i b x m t c R: the action layer's runbook actions, each confirmed before it runs."""

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

        services = self.war_app.services
        settings = self.war_app.settings
        alert = self.selected_alert
        provider = settings.mesh.provider
        prometheus = settings.prometheus
        options: dict[str, Any] = {}
        if name == "capture":
            # capture looks at the pods of the selected alert's service
            options["service"] = prefill("isolate", alert) or None
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

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_cluster_action(self, name: str) -> None:
        """Form, preview, confirm, execute one runbook action; the outcome lands in the record."""
        if self._refuse("cluster_action"):
            return
        from actions.cluster import ClusterError
        from actions.runbook import InvalidRequest

        services = self.war_app.services
        spec = CLUSTER_ACTIONS[name]
        where = f"context {services.context or 'unknown'}, namespace {services.namespace}"
        request: ActionRequest | None = await self.app.push_screen_wait(
            ActionForm(spec, self.action_request(name), where)
        )
        if request is None:
            return
        actions = services.actions
        try:
            preview = await actions.preview(request)
        except (InvalidRequest, ClusterError) as error:
            self.notify(
                safe_text(str(error)), title=f"{name} refused", severity="error", markup=False
            )
            return
        if not await self.app.push_screen_wait(ConfirmAction(ConfirmRequest.from_preview(preview))):
            self.notify(f"{name} cancelled: nothing changed", title="Cancelled", markup=False)
            return
        outcome = await actions.execute(preview)
        went_well = outcome.status in ("succeeded", "no-op")
        self.notify(
            safe_text(f"{name} {outcome.target or ''}: {outcome.status}. {outcome.message}"),
            title="Action outcome",
            severity="information" if went_well else "error",
            markup=False,
        )
        await self.refresh_from_record()
        self.load_cluster()  # the policies pane shows what the action changed
