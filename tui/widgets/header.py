"""The header: where, which mode, which incident and phase, the runbook clocks, source health.

`fit_header(parts, width)` (pure, no screen) decides what each part of the
header says at a given width and whether it takes one row or two; the
widget only applies that to its labels. What always stays: the DRILL/LIVE
badge, the incident ID and severity, the phase and the clocks. What gives
way first: the incident title (it takes what is left), then the health
wording (the coloured marks stay), then the context name, then the namespace.

A closed incident says so where the phase goes ("Closed"), and its clocks and
T+ stop at its closing time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Resize
from textual.widgets import Label

from store import PHASE_TITLES, Incident
from tui.safe import safe_text
from tui.views.clocks import (
    BREACHED,
    CLOCKS,
    LATE,
    MET,
    OK,
    WARNING,
    ClockState,
    clock_states,
    duration,
    since_detection,
)
from tui.widgets.phase_bar import SHORT_TITLES

CLOCK_CLASSES = tuple(f"-{state}" for state in (OK, WARNING, BREACHED, MET, LATE))
HEALTH_MARKS = {
    "connected": "\N{BLACK CIRCLE}",
    "retrying": "\N{CIRCLE WITH UPPER RIGHT QUADRANT BLACK}",
    "forbidden": "\N{BLACK SQUARE}",
    "absent": "\N{WHITE CIRCLE}",
    "starting": "\N{WHITE CIRCLE}",
    "stopped": "\N{BALLOT BOX WITH X}",
}
# Theme variables, resolved when drawn: both themes work and a theme change needs no redraw.
HEALTH_STYLES = {
    "connected": "$text-success",
    "retrying": "$text-warning bold",
    "forbidden": "$text-error bold",
    "stopped": "$text-error bold",
}
SEVERITY_STYLES = {"P0": "$text-error bold reverse", "P1": "$text-error bold",
                   "P2": "$text-warning bold"}
NO_INCIDENT = "no incident: o opens one"
NO_INCIDENT_READ_ONLY = "no incident"  # review opens none
LOADING = "reading the record\N{HORIZONTAL ELLIPSIS}"  # until the screen's first read
CLOSED = "Closed"
TITLE_ROOM = 20  # on one row, the incident title keeps at least this much (else two rows)
MIN_CONTEXT = 8  # an elided context shorter than this says nothing: drop it instead
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
SEPARATOR = 1  # every label has one cell of right padding (war_room.tcss)


@dataclass(frozen=True, slots=True)
class HeaderParts:
    """What the header has to say, before it is fitted to a width."""

    mode: str
    context: str | None
    namespace: str
    incident_id: str | None = None
    severity: str | None = None
    title: str = ""
    phase: str | None = None
    since: str = ""
    clocks: tuple[ClockState, ...] = ()
    health: tuple[tuple[str, str], ...] = ()
    closed: bool = False
    absent: str = NO_INCIDENT
    """What the header says while no incident is shown (loading, none, not opened yet)."""


@dataclass(frozen=True, slots=True)
class HeaderFit:
    """What each label says at one width; "" hides it. `rows` is 1 or 2."""

    rows: int
    badge: str
    incident: str
    phase: str
    since: str
    clocks: tuple[str, ...]
    health: Content
    where: str

    def main_width(self) -> int:
        """Cells the row with the badge, incident, phase and clocks needs (title excluded)."""
        return sum(_cost(text) for text in (self.badge, self.incident, self.phase, self.since,
                                            *self.clocks))

    def side_width(self) -> int:
        return _cost(self.health.plain) + _cost(self.where)


def _cost(text: str) -> int:
    return cell_len(text) + SEPARATOR if text else 0


def elide(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis in the middle (both ends say the most)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    head = text[: (keep + 1) // 2]
    tail = text[len(text) - keep // 2:] if keep // 2 else ""
    while cell_len(head) + cell_len(tail) > keep:  # wide characters: trim until it fits
        if cell_len(head) >= cell_len(tail):
            head = head[:-1]
        else:
            tail = tail[1:]
    return f"{head}{ELLIPSIS}{tail}"


def health_content(health: Sequence[tuple[str, str]], form: str) -> Content:
    """The sources' health, coloured by state: `full` (name, mark, state), `marks` (name and
    mark), `summary` (connected ones counted, the others named), `counts` (all counted)."""
    if not health:
        return Content("sources: none")
    parts: list[str | tuple[str, str]] = []

    def add(text: str, state: str) -> None:
        if parts:
            parts.append(" ")
        parts.append((text, HEALTH_STYLES.get(state, "$text-muted")))

    if form in ("full", "marks"):
        for name, state in health:
            mark = HEALTH_MARKS.get(state, "?")
            add(f"{name} {mark}{state}" if form == "full" else f"{name}{mark}", state)
        return Content.assemble(*parts)
    connected = [name for name, state in health if state == "connected"]
    if connected:
        add(f"{HEALTH_MARKS['connected']}{len(connected)}", "connected")
    others = [(name, state) for name, state in health if state != "connected"]
    if form == "summary":
        for name, state in others:
            add(f"{name}{HEALTH_MARKS.get(state, '?')}", state)
    else:
        counted: dict[str, int] = {}
        for _name, state in others:
            counted[state] = counted.get(state, 0) + 1
        for state, count in counted.items():
            add(f"{HEALTH_MARKS.get(state, '?')}{count}", state)
    return Content.assemble(*parts)


def _where_text(context: str | None, namespace: str, level: str, room: int) -> str | None:
    """`context/namespace` at one level of shortening, in `room` cells; None: it does not fit."""
    context_text = context or "no context"
    if level == "full":
        text = f"{context_text}/{namespace}"
    elif level == "context-elided":
        context_room = room - SEPARATOR - cell_len(namespace) - 1
        if context_room < MIN_CONTEXT:
            return None
        text = f"{elide(context_text, context_room)}/{namespace}"
    elif level == "namespace":
        text = namespace
    elif level == "namespace-elided":
        if room - SEPARATOR < MIN_CONTEXT:
            return None
        text = elide(namespace, room - SEPARATOR)
    else:
        text = ""
    return text if _cost(text) <= room else None


# (health form, where level), wordiest first: the health wording gives way first, then
# the context name, then the namespace. One row is kept down to ONE_ROW_STEPS.
SIDE_LADDER = (
    ("full", "full"), ("marks", "full"), ("marks", "context-elided"), ("marks", "namespace"),
    ("summary", "context-elided"), ("summary", "namespace"),
    ("counts", "namespace"), ("counts", "namespace-elided"), ("counts", "none"),
)
ONE_ROW_STEPS = 6


def _fit_side(parts: HeaderParts, room: int, ladder: Sequence[tuple[str, str]]
              ) -> tuple[Content, str] | None:
    """Health and where in `room` cells: the first step of `ladder` that fits, or None."""
    for form, level in ladder:
        # A review reads the record, no live source: say so, not "sources: none".
        health = (Content("recorded") if parts.mode == "review" and not parts.health
                  else health_content(parts.health, form))
        left = room - _cost(health.plain)
        if left < 0:
            continue
        where = _where_text(parts.context, parts.namespace, level, left)
        if where is not None:
            return health, where
    return None


def fit_header(parts: HeaderParts, width: int) -> HeaderFit:
    """What the header says at `width` cells, and in how many rows."""
    badge = f" {parts.mode.upper()} "
    clock_forms: list[tuple[tuple[str, ...], str]]
    if parts.incident_id is None:
        incident, phases, clock_forms = parts.absent, [""], [((), "")]
    else:
        incident = f"{parts.incident_id} {parts.severity or ''}".strip()
        phase = parts.phase or ""
        phases = (
            [CLOSED]
            if parts.closed
            else [PHASE_TITLES.get(phase, phase), SHORT_TITLES.get(phase, phase)]
        )
        long_clocks = tuple(state.text() for state in parts.clocks)
        short_clocks = tuple(state.text(short=True) for state in parts.clocks)
        # The last resort drops T+: the running clocks say the same time.
        clock_forms = [(long_clocks, parts.since), (short_clocks, parts.since),
                       (short_clocks, "")]
    main = None
    for clocks, since in clock_forms:
        for phase_text in phases:
            main = HeaderFit(1, badge, incident, phase_text, since, clocks, Content(), "")
            if main.main_width() <= width:
                break
        else:
            continue
        break
    assert main is not None
    # One row while the namespace at least still fits beside the health marks; else two.
    title_room = min(cell_len(parts.title), TITLE_ROOM) + SEPARATOR if parts.title else 0
    one_row = _fit_side(parts, width - main.main_width() - title_room,
                        SIDE_LADDER[:ONE_ROW_STEPS])
    if one_row is not None:
        health, where = one_row
        rows = 1
    else:
        health, where = _fit_side(parts, width, SIDE_LADDER) or (Content(""), "")
        rows = 2
    return HeaderFit(rows, main.badge, main.incident, main.phase, main.since, main.clocks,
                     health, where)


class WarRoomHeader(Vertical):
    """One line (two when narrow); the screen sets incident, health and time on it."""

    def __init__(self, *, mode: str, context: str | None, namespace: str,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = mode
        self.context = context
        self.namespace = namespace
        self.incident: Incident | None = None
        self.first_received: datetime | None = None
        self.health: dict[str, str] = {}
        self.clocks: tuple[ClockState, ...] = ()
        self._since = ""
        self.absent = LOADING
        """Said in place of the incident while there is none on screen (`set_incident`)."""
        self._shown: dict[str, Content] = {}
        self.fit: HeaderFit | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="header-main"):
            yield Label(Content(f" {self.mode.upper()} "), id="mode-badge",
                        classes=f"-{self.mode}", markup=False)
            yield Label(Content(LOADING), id="incident", markup=False)
            yield Label("", id="phase", markup=False)
            yield Label("", id="since", markup=False)
            for key, _label, _field in CLOCKS:
                yield Label("", id=f"clock-{key}", classes="clock", markup=False)
            yield Label("", id="title", markup=False)
        with Horizontal(id="header-side"):
            yield Label("", id="health", markup=False)
            yield Label("", id="where", markup=False)

    def on_mount(self) -> None:
        self._refit()

    def parts(self) -> HeaderParts:
        incident = self.incident
        return HeaderParts(
            mode=self.mode, context=safe_text(self.context) if self.context else None,
            namespace=safe_text(self.namespace),
            incident_id=incident.id if incident else None,
            severity=incident.severity if incident else None,
            title=safe_text(incident.title) if incident else "",
            phase=incident.phase if incident else None, since=self._since,
            clocks=self.clocks,
            health=tuple((safe_text(name), state) for name, state in sorted(self.health.items())),
            closed=incident is not None and not incident.is_open,
            absent=safe_text(self.absent),
        )

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _set(self, label_id: str, text: str | Content) -> None:
        """Update one label only when its text or colours changed (an update relayouts)."""
        content = text if isinstance(text, Content) else Content(text)
        if self._shown.get(label_id) == content:
            return
        label = next(iter(self.query(f"#{label_id}").results(Label)), None)
        if label is None:
            # The console is closing and its labels are gone: a source's last health report
            # arrived then, and its NoMatches was recorded as the source's failure.
            return
        self._shown[label_id] = content
        label.update(content)
        label.display = bool(content.plain)

    def _incident_content(self, text: str) -> Content:
        incident = self.incident
        if incident is None or not text.endswith(incident.severity):
            return Content(text)
        ident = text[: -len(incident.severity)]
        return Content.assemble((ident, "bold"),
                                (incident.severity, SEVERITY_STYLES.get(incident.severity, "")))

    def _refit(self) -> None:
        if not self.is_mounted:
            return
        parts = self.parts()
        fit = fit_header(parts, self._width())
        self.fit = fit
        self._set("incident", self._incident_content(fit.incident))
        self._set("phase", fit.phase)
        self._set("since", fit.since)
        for (key, _label, _field), text in zip(CLOCKS, fit.clocks or ("",) * 3, strict=True):
            self._set(f"clock-{key}", text)
        self._set("title", parts.title)
        self._set("health", fit.health)
        self._set("where", fit.where)
        self.set_class(fit.rows == 2, "-two-rows")

    def on_resize(self, event: Resize) -> None:
        self._refit()

    def set_mode(self, mode: str) -> None:
        """The badge, once setup knows better: `live` on warroom's drill cluster is a drill."""
        if mode == self.mode:
            return
        badge = self.query_one("#mode-badge", Label)
        badge.remove_class(f"-{self.mode}")
        badge.add_class(f"-{mode}")
        badge.update(Content(f" {mode.upper()} "))
        self.mode = mode
        self._refit()

    def set_where(self, context: str | None, namespace: str) -> None:
        """The cluster context and namespace, once known (after connecting)."""
        self.context, self.namespace = context, namespace
        self._refit()

    def set_incident(self, incident: Incident | None, now: datetime,
                     absent: str = NO_INCIDENT, first_received: datetime | None = None) -> None:
        """Show `incident`, or say `absent` when there is none on screen. Its clocks count
        from `first_received`, when warroom received its first linked alert, as
        store.response_times defines them."""
        self.incident = incident
        self.absent = absent
        self.first_received = first_received
        self.set_class(incident is not None and incident.severity == "P0", "-p0")
        self.set_class(incident is not None and not incident.is_open, "-closed")
        self.tick(now)

    def tick(self, now: datetime) -> None:
        """Redraw the clocks for `now` (the screen calls this at 1 Hz from the injected clock)."""
        incident = self.incident
        if incident is None:
            self.clocks, self._since = (), ""
        else:
            if incident.closed_at is not None and not incident.is_open:
                now = min(now, incident.closed_at)  # closed: its clocks stopped then
            self.clocks = tuple(clock_states(incident, now, self.first_received))
            self._since = f"T+{duration(since_detection(incident, now, self.first_received))}"
        for key, _label, _field in CLOCKS:
            clock = self.query_one(f"#clock-{key}", Label)
            state = next((s.state for s in self.clocks if s.key == key), None)
            wanted = f"-{state}" if state else None
            if wanted is None or not clock.has_class(wanted):  # a class change restyles
                clock.remove_class(*CLOCK_CLASSES)
                if wanted:
                    clock.add_class(wanted)
        self._refit()

    def set_health(self, health: Mapping[str, str]) -> None:
        """Source name -> state ("connected", "retrying", "forbidden", "absent"...)."""
        self.health = dict(health)
        self._refit()

    def clock_state(self, key: str) -> str | None:
        """The state (ok, warning, breached, met, late) of the clock `key` (mttd, mttc, mttr)."""
        return next((s.state for s in self.clocks if s.key == key), None)
