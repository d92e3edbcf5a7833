"""Command-palette providers, one per domain, offering what applies to the current selection."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

if TYPE_CHECKING:
    from tui.screens.war_room import WarRoomScreen

# (action, title, help) for the incident keys; the screen says which apply now.
INCIDENT_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("open_incident", "Open incident", "Open an incident, prefilled from the selected alert"),
    ("acknowledge", "Acknowledge incident", "Record the first acknowledgement (stops MTTD)"),
    ("add_note", "Add note", "Add a note to the incident's timeline"),
    ("set_severity", "Set severity", "Change the incident's severity (P0-P3)"),
    ("next_phase", "Next phase", "Move the incident to the runbook's next phase"),
    ("decision", "Decision point", "False positive, active attack, misconfiguration, escalate"),
    (
        "end_incident",
        "Resolve or close incident",
        "Resolved: service recovered (MTTR stops); closed: over, with why (clocks stop)",
    ),
    ("escalate", "Escalate / notify", "Escalate to a role of the matrix and notify it"),
    ("proposal", "Incident proposal", "Accept or dismiss the incident warroom proposes"),
    (
        "checklist",
        "Checklist",
        "The runbook's checklist of the current phase: tick items, check some against the cluster",
    ),
    (
        "report",
        "Incident report",
        "The markdown report: edit its sections, see the reporting clocks, save it to a file",
    ),
)
# A drill's facilitator controls (only while a drill runs).
DRILL_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("drill_pause", "Drill: pause / resume", "Pause the scenario's clock, or resume it"),
    ("drill_speed(1)", "Drill: faster", "Next speed up to 60x"),
    ("drill_speed(-1)", "Drill: slower", "Next speed down to 0.5x"),
    ("drill_inject", "Drill: inject next now", "Play the next inject now"),
    ("drill_score", "Drill: score", "The score against the answer key"),
)
# Review mode's replay (only in review).
REPLAY_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("replay_play", "Replay: play / pause", "Replay the recorded incident from here"),
    (
        "replay_goto",
        "Replay: go to a time",
        "+12m, +1h5m after detection, 09:42, an ISO time, or end",
    ),
    ("replay_speed(1)", "Replay: faster", "The next replay speed up"),
    ("replay_speed(-1)", "Replay: slower", "The next replay speed down"),
    ("replay_end", "Replay: the end of the recording", "Show the whole incident"),
)
# The runbook's cluster actions in the palette: each opens the same form as its key.
CLUSTER_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("isolate", "Isolate service", "Deny all traffic of the selected alert's service"),
    ("block-ip", "Block IP", "Add the selected alert's remote IP to the egress except list"),
    ("disable-sa", "Disable service account", "Annotate, stop token automount, delete tokens"),
    ("mesh-deny", "Mesh deny service", "Deny the service in Istio or Linkerd"),
    ("rotate-sa", "Rotate service account", "Delete the service account's token secrets"),
    ("capture", "Capture evidence", "Logs, events, Falco alerts and metrics into the record"),
    ("restore", "Restore", "Undo the incident's containment"),
)
PANE_COMMANDS: tuple[tuple[str, str], ...] = (
    ("alerts", "Show Falco alerts"),
    ("mesh", "Show Mesh"),
    ("policies", "Show NetworkPolicies"),
    ("timeline", "Show Timeline"),
)


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


class IncidentCommands(Provider):
    """The incident keys, only those that can run now, named after the selected alert."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        screen = _war_room(self)
        if screen is None:
            return []
        alert = screen.selected_alert
        commands: list[tuple[str, Callable[[], object], str]] = []
        services = screen.war_app.services
        offered = list(INCIDENT_COMMANDS)
        if services.drill is not None:
            offered += DRILL_COMMANDS
        if services.mode == "review":
            offered += REPLAY_COMMANDS
        for action, title, help_text in offered:
            if screen.check_action(action.partition("(")[0], ()) is not True:
                continue
            if action == "open_incident" and alert is not None:
                title = f"Open incident for {alert.rule} on {alert.pod}"
            if action == "end_incident" and screen.incident and not screen.incident.is_open:
                title, help_text = "Reopen incident", f"{screen.incident.id} is closed: reopen it"
            commands.append((title, partial(screen.run_action, action), help_text))
        if screen.check_action("cluster_action", ()) is True:
            for name, title, help_text in CLUSTER_COMMANDS:
                commands.append(
                    (title, partial(screen.run_action, f"cluster_action({name!r})"), help_text)
                )
        return commands

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(Content(title), callback, text=title, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, highlight(matcher, title), callback, text=title, help=help_text)


class PaneCommands(Provider):
    """Jump to a pane, or zoom the current one."""

    def _commands(self) -> list[tuple[str, Callable[[], object]]]:
        screen = _war_room(self)
        if screen is None:
            return []
        commands: list[tuple[str, Callable[[], object]]] = [
            (title, partial(screen.action_show_pane, key)) for key, title in PANE_COMMANDS
        ]
        commands.append(("Zoom or unzoom the focused pane", screen.action_zoom))
        return commands

    async def discover(self) -> Hits:
        for title, callback in self._commands():
            yield DiscoveryHit(Content(title), callback, text=title)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback in self._commands():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, highlight(matcher, title), callback, text=title)
