"""The report key: `w` opens the incident's report screen (`tui.screens.report`).

Reading the report is allowed in review mode, so `w` is not a write key; the
report screen itself refuses editing sections and marking items issued there.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from tui.screens.war_room_base import WarRoomBase


class ReportKeys(WarRoomBase):
    """w: the markdown report, its free-text sections, its reporting clocks, saved to a file."""

    KEY_GROUP: ClassVar[str] = "report"
    INCIDENT_KEYS: ClassVar[frozenset[str]] = frozenset({"report"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "w",
            "report",
            "Report",
            id="report.open",
            tooltip="The incident report: sections, reporting clocks, save to a file",
        ),
    ]

    def action_report(self) -> None:
        if self._refuse("report") or self.incident is None:
            return
        # A callback, not push_screen_wait: no worker stays parked while the report is open.
        from tui.screens.report import ReportScreen  # with the Markdown parser: only when opened

        self.app.push_screen(ReportScreen(self.incident.id), self._report_closed)

    def _report_closed(self, _result: None) -> None:
        # Sections, saves and issued items are timeline entries: show them.
        self.run_worker(
            self.refresh_from_record(), group="load", exclusive=True, exit_on_error=False
        )
