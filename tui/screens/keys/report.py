"""The report screen: the markdown report, its free-text sections, saved to a file."""

from __future__ import annotations

from tui.screens.war_room_base import WarRoomBase


class ReportKeys(WarRoomBase):
    """The report screen: the markdown report, its free-text sections, saved to a file."""
