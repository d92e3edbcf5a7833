"""Live feeds that are not alerts (mesh sync, traffic series) routed to their panes."""

from __future__ import annotations

from tui.screens.war_room_base import WarRoomBase


class LiveFeeds(WarRoomBase):
    """Live feeds that are not alerts (mesh sync, traffic series) routed to their panes."""
