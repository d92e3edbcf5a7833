"""The floor for bench/drill_launch.py: a bare Textual app (Header, Footer, a DataTable).

Started the same way as `warroom drill` there (a fresh interpreter in a 160x48
pseudo-terminal), so the ratio of the two first full screens is what warroom adds
to what any Textual app costs on this machine. `q` quits.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header

TITLE = "bare textual"
COLUMNS = ("time", "severity", "rule", "pod")


class BareApp(App[None]):
    TITLE = TITLE
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[str] = DataTable()
        table.add_columns(*COLUMNS)
        for n in range(40):
            table.add_row(f"09:00:{n:02d}", "P2", f"Rule {n}", f"orchestrator-{n}")
        yield table
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
