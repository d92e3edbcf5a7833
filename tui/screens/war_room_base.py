"""What every group of war-room keys shares: the screen's state and the refusal helper.

The war-room screen is assembled from key groups (`tui/screens/keys/`), one
module per job: incident keys, cluster actions, checklists, the report, the
drill's facilitator keys, review replay. Each group is a `WarRoomBase`
subclass with its own BINDINGS and actions, and declares which of its
actions write (dimmed in read-only mode) and which need an incident on
screen; `WarRoomScreen` combines them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.message import Message
from textual.screen import Screen

from tui.screens.styled_once import StyledOnce

if TYPE_CHECKING:
    from store import Incident
    from tui.app import WarRoomApp
    from tui.views.alert_rows import AlertRow


class SourceItem(Message):
    """Something a live source handed over that no pane takes directly (a proposal, a score)."""

    def __init__(self, item: object) -> None:
        super().__init__()
        self.item = item


class WarRoomBase(StyledOnce, Screen[None]):
    """The war-room screen's shared state; key groups subclass it."""

    KEY_GROUP: ClassVar[str] = "war room"
    """The heading of this group's keys on the help screen."""
    WRITE_KEYS: ClassVar[frozenset[str]] = frozenset()
    """Actions that change the record or the cluster: dimmed in read-only mode."""
    INCIDENT_KEYS: ClassVar[frozenset[str]] = frozenset()
    """Actions that need an incident on screen."""

    write_actions: ClassVar[frozenset[str]] = frozenset()
    incident_actions: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The combined screen knows every group's write and incident actions.
        cls.write_actions = frozenset().union(
            *(vars(base).get("WRITE_KEYS", ()) for base in cls.__mro__)
        )
        cls.incident_actions = frozenset().union(
            *(vars(base).get("INCIDENT_KEYS", ()) for base in cls.__mro__)
        )

    def __init__(self) -> None:
        super().__init__()
        self.incident: Incident | None = None
        self.selected_alert: AlertRow | None = None

    @property
    def war_app(self) -> WarRoomApp:
        return self.app  # type: ignore[return-value]

    @property
    def actor(self) -> str | None:
        return self.war_app.services.actor

    def why_disabled(self, action: str) -> str | None:
        """Why `action` cannot run now, in words (None when it can)."""
        raise NotImplementedError

    async def refresh_from_record(self) -> None:
        """Reload the incident and its timeline from the record (off the event loop)."""
        raise NotImplementedError

    def incident_timeline(self) -> list[Any]:
        """The shown incident's timeline entries as last read from the record (no disk)."""
        raise NotImplementedError

    def load_cluster(self) -> object:
        """Re-list the cluster's policies and mesh for their panes (in a worker)."""
        raise NotImplementedError

    def _refuse(self, action: str) -> bool:
        """Say why `action` cannot run now, if it cannot."""
        reason = self.why_disabled(action)
        if reason:
            self.notify(reason, title="Not now", severity="warning")
            return True
        return False
