"""The checklist key: `k` opens the runbook's checklist of the incident's current phase.

Reading the checklist is allowed in review mode (it shows the recorded ticks),
so `k` needs an incident but is not a write key: the checklist screen itself
refuses ticking there, with the reason. The last verdict of each verifiable
item is kept here per incident, so reopening the checklist shows it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.binding import Binding, BindingType

from tui.screens.war_room_base import WarRoomBase

if TYPE_CHECKING:
    from actions.checklists import Verdict


class ChecklistKeys(WarRoomBase):
    """k: the runbook's checklist per phase, ticked items recorded with who and when."""

    KEY_GROUP: ClassVar[str] = "checklist"
    INCIDENT_KEYS: ClassVar[frozenset[str]] = frozenset({"checklist"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "k",
            "checklist",
            "Checklist",
            id="checklist.open",
            tooltip="The runbook's checklist of the current phase: tick items, verify some",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checklist_checks: dict[str, dict[str, Verdict]] = {}

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_checklist(self) -> None:
        if self._refuse("checklist") or self.incident is None:
            return
        checks = self.checklist_checks.setdefault(self.incident.id, {})
        from tui.dialogs.checklist import ChecklistScreen  # with the verifiers: only when opened

        await self.app.push_screen_wait(ChecklistScreen(self.incident, checks))
        # Each tick is a timeline entry: show them.
        await self.refresh_from_record()
