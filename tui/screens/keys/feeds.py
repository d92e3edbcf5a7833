"""Live feeds that are not alerts, routed to their panes: mesh snapshots, traffic series and
Warning events to the Mesh pane; the policies watch and its drift to the NetworkPolicies pane.

The handler runs on the event loop while thousands of alerts a second stream in:
it only hands each item to its pane (an isinstance check and a table diff). The
sources' types are imported when the first item comes: the sources (and the
HTTP clients they bring) load after the console's first paint.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work

from tui.screens.war_room_base import SourceItem, WarRoomBase
from tui.widgets.mesh_pane import MeshPane
from tui.widgets.policy_pane import PolicyPane


class LiveFeeds(WarRoomBase):
    """Live feeds that are not alerts (mesh sync, traffic series, policies) routed to panes."""

    KEY_GROUP: ClassVar[str] = "live feeds"

    @on(SourceItem)
    def _route_live_item(self, event: SourceItem) -> None:
        from actions.sources.mesh import MeshSnapshot
        from actions.sources.policies import DriftReport, PolicySnapshot
        from actions.sources.traffic import TrafficSample
        from actions.sources.warning_events import WarningEvent

        item = event.item
        if isinstance(item, TrafficSample):
            self.query_one("#mesh", MeshPane).add_traffic(item)
        elif isinstance(item, MeshSnapshot):
            self.query_one("#mesh", MeshPane).show_snapshot(item)
        elif isinstance(item, WarningEvent):
            self.query_one("#mesh", MeshPane).add_event(item)
        elif isinstance(item, PolicySnapshot):
            self.query_one("#policies", PolicyPane).show_snapshot(item)
            # The watch says what changed, not the manifests the YAML view shows: re-list.
            self.refresh_policy_manifests()
        elif isinstance(item, DriftReport):
            self.query_one("#policies", PolicyPane).show_drift(item)

    @work(exclusive=True, group="policy-manifests", exit_on_error=False)
    async def refresh_policy_manifests(self) -> None:
        """List the namespace's NetworkPolicies again for their YAML (a burst lists once)."""
        from tui.views.cluster_loader import load_policies

        services = self.war_app.services
        if services.cluster is None:
            return
        desired = self.war_app.settings.policies.desired_state_file
        rows, error = await load_policies(services.cluster, services.namespace, desired)
        if error is None:
            self.query_one("#policies", PolicyPane).show_policies(rows)
