"""The Falco pane: streaming alerts, filters, the selected alert's detail and a rate sparkline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Sparkline, Static

from tui.views.alert_buffer import SEVERITY_STEPS
from tui.views.alert_rows import AlertRow
from tui.widgets.alert_list import DEFAULT_CAPACITY, AlertList, Alerts, header_text
from tui.widgets.pane import Pane

SPARK_INTERVAL = 1.0  # the rate sparkline and counters move at 1 Hz, apart from the 10 Hz drain
SPARK_SECONDS = 60


class AlertPane(Pane):
    """Falco alerts, newest on top. Feed it with `push_alerts(batch)`."""

    PANE_TITLE = "Falco alerts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter_text", "Filter", id="alerts.filter", tooltip="Filter by text"),
        Binding(
            "s",
            "cycle_severity",
            "Severity",
            id="alerts.severity",
            tooltip="Show all, P0 only, P0-P1, P0-P2",
        ),
        Binding(
            "r",
            "filter_rule",
            "Rule",
            id="alerts.rule",
            tooltip="Show only the selected alert's rule (again: all rules)",
        ),
        Binding(
            "enter",
            "toggle_detail",
            "Detail",
            id="alerts.detail",
            tooltip="The selected alert's full output and fields",
        ),
        Binding("escape", "clear_filter", "Clear", id="alerts.clear", show=False),
    ]

    class AlertSelected(Message):
        """The selected alert changed (None when nothing is selected)."""

        def __init__(self, row: AlertRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        severity_of: Callable[[Any], str] | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._capacity = capacity
        self._severity_of = severity_of
        self._severity_step = 0
        self._status = ""

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: rule, pod, output text (enter applies, esc clears)",
            id="alert-filter",
        )
        yield Static(header_text(80), id="alert-header", markup=False)
        yield AlertList(capacity=self._capacity, severity_of=self._severity_of, id="alert-list")
        yield Static("", id="alert-detail", markup=False)
        with Widget(id="alert-footer"):
            yield Sparkline([0] * SPARK_SECONDS, id="alert-rate")
            yield Static("", id="alert-status", markup=False)

    def on_mount(self) -> None:
        self.set_interval(SPARK_INTERVAL, self.refresh_counters, name="alert-rate")
        self.refresh_counters()

    @property
    def alert_list(self) -> AlertList:
        return self.query_one(AlertList)

    @property
    def focus_target(self) -> Widget:
        return self.alert_list

    @property
    def selected(self) -> AlertRow | None:
        return self.alert_list.selected

    def push_alerts(self, batch: Alerts) -> None:
        """Queue alerts (oldest first); thread-safe append, drawn at the next 10 Hz tick."""
        self.alert_list.push_alerts(batch)

    def clear_alerts(self) -> None:
        """Empty the window, its counts and the rate sparkline; the filter stays."""
        self.alert_list.clear()
        self.refresh_counters()

    # --- counters -------------------------------------------------------------------------------

    def refresh_counters(self) -> None:
        """Sparkline and status line; each repainted only when it changed, never re-laid out."""
        alerts = self.alert_list
        rates = alerts.rates
        series = [0] * SPARK_SECONDS
        for severity in rates.severities():
            for i, count in enumerate(rates.series(severity, seconds=SPARK_SECONDS)):
                series[i] += count
        sparkline = self.query_one(Sparkline)
        if list(sparkline.data or ()) != series:
            sparkline.data = series
        parts = [f"{alerts.received:,} received", f"{alerts.buffer.visible_count:,} shown"]
        if alerts.filter.active:
            parts.append(f"filter: {alerts.filter.describe()}")
        if alerts.not_shown:
            parts.append(f"+{alerts.not_shown:,} not shown, all recorded")
        parts.append(f"{max(series[-5:], default=0)}/s")
        status = " · ".join(parts)
        if status != self._status:
            self._status = status
            # Fixed size (one line, the footer's free width): a repaint, not a re-layout.
            self.query_one("#alert-status", Static).update(Text(status), layout=False)

    @on(AlertList.Drained)
    def _drained(self, event: AlertList.Drained) -> None:
        event.stop()

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        self.query_one("#alert-header", Static).update(
            header_text(self.alert_list.size.width), layout=False
        )

    # --- selection and detail -------------------------------------------------------------------

    @on(AlertList.AlertSelected)
    def _selected(self, event: AlertList.AlertSelected) -> None:
        event.stop()
        if self.has_class("-detail"):
            self._show_detail(event.row)
        self.post_message(self.AlertSelected(event.row))

    def _show_detail(self, row: AlertRow | None) -> None:
        detail = self.query_one("#alert-detail", Static)
        # Fixed height (panes.tcss): a new selection repaints the detail, never re-lays out.
        detail.update(Text(row.detail_text() if row else "no alert selected"), layout=False)

    def action_toggle_detail(self) -> None:
        reading = not self.has_class("-detail")
        # The class says what is shown (and matches panes.tcss), but re-styling the
        # pane's subtree for it costs a frame or two under a flood: show or hide the
        # detail directly instead, which only re-lays out.
        self.set_class(reading, "-detail", update=False)
        self.query_one("#alert-detail").display = reading
        # While reading an alert the cursor stays on it as newer alerts arrive above.
        self.alert_list.follow = not reading
        if reading:
            self._show_detail(self.selected)
        else:
            self.alert_list.action_newest()

    # --- filters --------------------------------------------------------------------------------

    def _apply(self, **changes: Any) -> None:
        self.alert_list.set_filter(replace(self.alert_list.filter, **changes))
        self.refresh_counters()

    def action_cycle_severity(self) -> None:
        self._severity_step = (self._severity_step + 1) % len(SEVERITY_STEPS)
        self._apply(max_rank=SEVERITY_STEPS[self._severity_step])

    def action_filter_rule(self) -> None:
        if self.alert_list.filter.rule is not None:
            self._apply(rule=None)
        elif (row := self.selected) is not None:
            self._apply(rule=row.rule)

    def action_filter_text(self) -> None:
        self.add_class("-filtering")
        field = self.query_one("#alert-filter", Input)
        field.value = self.alert_list.filter.text
        field.focus()

    def action_clear_filter(self) -> None:
        self._severity_step = 0
        self.remove_class("-filtering")
        self._apply(max_rank=None, rule=None, text="")
        self.alert_list.focus()

    @on(Input.Submitted, "#alert-filter")
    def _text_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-filtering")
        self._apply(text=event.value.strip())
        self.alert_list.focus()
