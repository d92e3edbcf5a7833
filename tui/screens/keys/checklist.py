"""The runbook's checklist per phase, ticked items recorded with who and when."""

from __future__ import annotations

from tui.screens.war_room_base import WarRoomBase


class ChecklistKeys(WarRoomBase):
    """The runbook's checklist per phase, ticked items recorded with who and when."""
