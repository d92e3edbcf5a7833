"""Incident proposals (accept or dismiss) and escalate/notify through the alert channels."""

from __future__ import annotations

from tui.screens.war_room_base import WarRoomBase


class AlertingKeys(WarRoomBase):
    """Incident proposals (accept or dismiss) and escalate/notify through the alert channels."""
