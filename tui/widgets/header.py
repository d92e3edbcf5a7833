"""The header line: where we are, which mode, which incident, the runbook clocks, source health."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from store import Incident
from tui.safe import safe_text
from tui.widgets.clocks import (
    BREACHED,
    CLOCKS,
    LATE,
    MET,
    OK,
    WARNING,
    clock_states,
    duration,
    since_detection,
)

CLOCK_CLASSES = tuple(f"-{state}" for state in (OK, WARNING, BREACHED, MET, LATE))
HEALTH_MARKS = {
    "connected": "\N{BLACK CIRCLE}",
    "retrying": "\N{CIRCLE WITH UPPER RIGHT QUADRANT BLACK}",
    "forbidden": "\N{BLACK SQUARE}",
    "absent": "\N{WHITE CIRCLE}",
    "starting": "\N{WHITE CIRCLE}",
    "stopped": "\N{WHITE CIRCLE}",
}


class WarRoomHeader(Horizontal):
    """One line; the screen sets the incident, health and time on it (attributes down)."""

    def __init__(self, *, mode: str, context: str | None, namespace: str,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = mode
        self.context = context
        self.namespace = namespace
        self.incident: Incident | None = None
        self.health: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        # Two groups so that a narrow terminal can stack them (see war_room.tcss).
        with Horizontal(id="header-main"):
            yield Label(Text(f" {self.mode.upper()} "), id="mode-badge", classes=f"-{self.mode}",
                        markup=False)
            yield Label(Text(self._where()), id="where", markup=False)
            yield Label(Text("no incident: o opens one"), id="incident", markup=False)
            yield Label(Text("sources: none"), id="health", markup=False)
        with Horizontal(id="header-clocks"):
            yield Label("", id="since", markup=False)
            for key, _label, _field in CLOCKS:
                yield Label("", id=f"clock-{key}", classes="clock", markup=False)

    def _where(self) -> str:
        return f"{safe_text(self.context or 'no context')}/{safe_text(self.namespace)}"

    def set_where(self, context: str | None, namespace: str) -> None:
        """The cluster context and namespace, once known (after connecting)."""
        self.context, self.namespace = context, namespace
        self.query_one("#where", Label).update(Text(self._where()))

    def set_incident(self, incident: Incident | None, now: datetime) -> None:
        self.incident = incident
        label = self.query_one("#incident", Label)
        if incident is None:
            label.update(Text("no incident: o opens one"))
        else:
            label.update(Text(f"{incident.id} {incident.severity} {safe_text(incident.title)}"))
        self.set_class(incident is not None and incident.severity == "P0", "-p0")
        self.tick(now)

    def tick(self, now: datetime) -> None:
        """Redraw the clocks for `now` (the screen calls this at 1 Hz from the injected clock)."""
        incident = self.incident
        since = self.query_one("#since", Label)
        if incident is None:
            since.update("")
            for key, _label, _field in CLOCKS:
                clock = self.query_one(f"#clock-{key}", Label)
                clock.update("")
                if any(clock.has_class(name) for name in CLOCK_CLASSES):
                    clock.remove_class(*CLOCK_CLASSES)
            return
        since.update(Text(f"T+{duration(since_detection(incident, now))}"))
        for state in clock_states(incident, now):
            clock = self.query_one(f"#clock-{state.key}", Label)
            clock.update(Text(state.text()))
            wanted = f"-{state.state}"
            if not clock.has_class(wanted):  # a class change restyles: only when it changes
                clock.remove_class(*CLOCK_CLASSES)
                clock.add_class(wanted)

    def set_health(self, health: Mapping[str, str]) -> None:
        """Source name -> state ("connected", "retrying", "forbidden", "absent"...)."""
        self.health = dict(health)
        label = self.query_one("#health", Label)
        if not health:
            label.update(Text("sources: none"))
        else:
            label.update(Text(" ".join(
                f"{safe_text(name)} {HEALTH_MARKS.get(state, '?')}{safe_text(state)}"
                for name, state in sorted(health.items())
            )))
        label.set_class(any(s in ("forbidden", "retrying") for s in health.values()), "-degraded")
