"""Review mode's replay: the recorded incident at a chosen speed, and jump to a time."""

from __future__ import annotations

from tui.screens.war_room_base import WarRoomBase


class ReplayKeys(WarRoomBase):
    """Review mode's replay: the recorded incident at a chosen speed, and jump to a time."""
