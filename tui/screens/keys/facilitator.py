"""A drill's facilitator keys: pause, resume, speed, inject the next step, the score."""

from __future__ import annotations

from tui.screens.war_room_base import WarRoomBase


class FacilitatorKeys(WarRoomBase):
    """A drill's facilitator keys: pause, resume, speed, inject the next step, the score."""
