"""Command-palette providers, one per domain, offering what applies to the current selection.

Built from the war room's bindings (`WarRoomBase.key_groups`): an entry runs its
binding's action, names its key, and is offered when `check_action` lets the key run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

if TYPE_CHECKING:
    from tui.screens.war_room import WarRoomScreen

# What the palette calls each key's action, where the footer's word is too short to find it
# by: by binding id. Which entries there are, what they run, their key and whether they
# apply come from the war room's bindings themselves, so the palette and the keys agree.
PALETTE_TITLES: dict[str, str] = {
    "incident.open": "Open incident",
    "incident.acknowledge": "Acknowledge incident",
    "incident.note": "Add note",
    "incident.severity": "Set severity",
    "incident.next_phase": "Next phase",
    "incident.decision": "Decision point",
    "incident.close": "Resolve or close incident",
    "action.isolate": "Isolate service",
    "action.block-ip": "Block IP",
    "action.disable-sa": "Disable service account",
    "action.mesh-deny": "Mesh deny service",
    "action.rotate-sa": "Rotate service account",
    "action.capture": "Capture evidence",
    "action.restore": "Restore",
    "alerting.escalate": "Escalate / notify",
    "alerting.proposal": "Incident proposal",
    "checklist.open": "Checklist",
    "report.open": "Incident report",
    "drill.pause": "Drill: pause / resume",
    "drill.faster": "Drill: faster",
    "drill.slower": "Drill: slower",
    "drill.inject": "Drill: inject next now",
    "drill.score": "Drill: score",
    "drill.review_score": "Drill: score from the record",
    "replay.play": "Replay: play / pause",
    "replay.faster": "Replay: faster",
    "replay.slower": "Replay: slower",
    "replay.goto": "Replay: go to a time",
    "replay.end": "Replay: the end of the recording",
    "pane.zoom": "Zoom or unzoom the focused pane",
    "pane.alerts": "Show Falco alerts",
    "pane.mesh": "Show Mesh",
    "pane.policies": "Show NetworkPolicies",
    "pane.timeline": "Show Timeline",
    "app.help": "Help: every key",
}
PANE_GROUP = "panes"  # the screen's own keys (PaneCommands); the other groups: IncidentCommands


def highlight(matcher: Matcher, title: str) -> Content:
    """`title` with the matched letters styled, never parsed as markup.

    (`Matcher.highlight` parses its candidate as markup, and titles here carry
    rule and pod names from alerts.)
    """
    content = Content(title)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    for offset in offsets:
        content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


def _war_room(provider: Provider) -> WarRoomScreen | None:
    from tui.screens.war_room import WarRoomScreen

    screen = provider.screen
    return screen if isinstance(screen, WarRoomScreen) else None


Command = tuple[str, Callable[[], object], str]


def binding_command(screen: WarRoomScreen, binding: Binding) -> Command:
    """The palette entry of one binding: its title, the binding's own action, its key."""
    title = PALETTE_TITLES.get(binding.id or "", binding.description)
    about = binding.tooltip or binding.description
    if binding.action == "open_incident" and (alert := screen.selected_alert) is not None:
        title = f"Open incident for {alert.rule} on {alert.pod}"
    if binding.action == "end_incident" and screen.incident and not screen.incident.is_open:
        title, about = "Reopen incident", f"{screen.incident.id} is closed: reopen it"
    from tui.dialogs.help import typed  # the help screen's module: not before the first frame

    help_text = f"{about} (key {typed(binding.key)})"
    return title, partial(screen.run_action, binding.action), help_text


def offered(screen: WarRoomScreen, binding: Binding) -> bool:
    """Whether the palette offers a binding now: it applies, and in this mode."""
    action = binding.action.partition("(")[0]
    services = screen.war_app.services
    if action.startswith("drill_") and services.drill is None:
        return False  # the facilitator's keys, only in a drill
    if action.startswith("replay_") and services.mode != "review":
        return False
    return screen.check_action(action, ()) is True


def palette_commands(screen: WarRoomScreen, *, panes: bool) -> list[Command]:
    """The entries of the war room's keys that apply now: its pane keys, or the others."""
    return [
        binding_command(screen, binding)
        for group, bindings in screen.key_groups()
        if (group.KEY_GROUP == PANE_GROUP) == panes
        for binding in bindings
        if offered(screen, binding)
    ]


class IncidentCommands(Provider):
    """The war room's keys that can run now, named after the selected alert."""

    def _commands(self) -> list[Command]:
        screen = _war_room(self)
        return [] if screen is None else palette_commands(screen, panes=False)

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(Content(title), callback, text=title, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, highlight(matcher, title), callback, text=title, help=help_text)


class PaneCommands(IncidentCommands):
    """Jump to a pane, zoom the current one, the help: the screen's own keys."""

    def _commands(self) -> list[Command]:
        screen = _war_room(self)
        return [] if screen is None else palette_commands(screen, panes=True)
