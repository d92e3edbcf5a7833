"""The report screen: the incident's markdown report, its free-text sections, its clocks.

The report is rendered by `store.report.render` (the same function `warroom report`
calls) on the record's thread and shown with Textual's `Markdown` widget;
every value in it was escaped by `store.report.markdown`, so a hostile note shows
as the characters it is. Links are never followed. The screen adds:

- a toggle between the detailed report and the executive summary;
- the free-text sections (`store.report.sections`), edited in a TextArea;
- saving the shown variant to a file, byte for byte what `store.report.render`
  renders, recorded as `report.saved` with its sha256 (saving is not sending:
  no reporting clock stops);
- the runbook's reporting clocks (`store.report.deadlines`), amber and red like the
  header's, and a key that records an item as issued once it was sent.

Review mode reads and saves files but writes nothing to the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key, Resize
from textual.screen import Screen
from textual.widgets import Input, Label, Markdown, OptionList, Select, Static, Tree
from textual.widgets.markdown import MarkdownBlock, MarkdownTableOfContents
from textual.widgets.option_list import Option

from store import Incident
from store.report.deadlines import (
    DETAILED_REPORT,
    DETAILED_REPORT_WITHIN,
    EXECUTIVE_SUMMARY,
    EXECUTIVE_SUMMARY_WITHIN,
    GDPR_NOTIFICATION,
    GDPR_WITHIN,
    LABELS,
    Due,
    due_for,
    last_saved,
    mark_done,
)
from store.report.render import render_executive, render_report
from store.report.sections import SECTIONS, sections, set_section
from tui.dialogs.forms import AskScreen, FormScreen
from tui.dialogs.report_editor import REPORT_STYLES, SectionEditor
from tui.report_file import default_report_path, save_report
from tui.safe import safe_text
from tui.textual_workarounds import StyledOnce, bindings_for_key
from tui.views.clocks import BREACHED, LATE, MET, OK, WARNING, WARNING_SHARE
from tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from store import Record
    from tui.app import WarRoomApp

# The Markdown widget mounts one widget per table cell: a 10,000-entry timeline
# would stall the console. The screen shows this many rows of each table and
# says how many more the saved file has.
MAX_SHOWN_ROWS = 40
NARROW_WIDTH = 120  # below this the contents tree starts hidden (t shows it)
CLOCK_INTERVAL = 1.0
WINDOWS: dict[str, timedelta] = {
    EXECUTIVE_SUMMARY: EXECUTIVE_SUMMARY_WITHIN,
    DETAILED_REPORT: DETAILED_REPORT_WITHIN,
    GDPR_NOTIFICATION: GDPR_WITHIN,
}
DUE_CLASSES = tuple(f"-{state}" for state in (OK, WARNING, BREACHED, MET, LATE))
WRITE_ACTIONS = frozenset({"mark_issued", "edit_section"})


# --- pure parts: the clocks' colours and the shown document ---------------------------------------


def due_state(due: Due, now: datetime) -> str:
    """The header clocks' states for a reporting item: amber in the last 20 % of its window
    (`WARNING_SHARE` of it elapsed), red once overdue, met or late once issued."""
    if due.done:
        late = due.due_at is not None and due.done_at is not None and due.done_at > due.due_at
        return LATE if late else MET
    if due.due_at is None:
        return OK  # the detailed report's clock starts at resolution
    if now > due.due_at:
        return BREACHED
    if due.due_at - now <= WINDOWS[due.kind] * (1 - WARNING_SHARE):
        return WARNING
    return OK


def due_line(due: Due, now: datetime) -> str:
    """One line for the clocks list: what, and when in words and in UTC."""
    text = due.describe(now)
    if due.due_at is not None and not due.done:
        text += f" ({due.due_at:%Y-%m-%d %H:%M} UTC)"
    return text


def next_due(items: list[Due]) -> Due | None:
    """The first item still to issue that has a due time (what a header would show)."""
    return next((item for item in items if not item.done and item.due_at is not None), None)


def bounded_for_display(markdown: str, max_rows: int = MAX_SHOWN_ROWS) -> str:
    """`markdown` with each table cut to `max_rows` body rows and a line saying what was cut.

    Table rows are the lines that start with "|": `store.report.markdown.escape`
    backslash-escapes a "|" from any value, so no text line can pass for one.
    """
    out: list[str] = []
    seen = hidden = 0  # lines of the current table, rows left out of it

    def close_table() -> None:
        nonlocal seen, hidden
        if hidden:
            out.extend(["", f"*{hidden:,} more rows are in the saved report (s saves it).*"])
        seen = hidden = 0

    for line in markdown.split("\n"):
        if line.startswith("|"):
            seen += 1
            if seen > max_rows + 2:  # the header and its separator line come first
                hidden += 1
                continue
        elif seen:
            close_table()
        out.append(line)
    close_table()
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class ReportView:
    """What the screen shows, read from the record in one call."""

    incident: Incident
    markdown: str
    sections: dict[str, str]
    due: list[Due]


def read_report(record: Record, incident_id: str, executive: bool, now: datetime) -> ReportView:
    """The report as `store.report.render` renders it, the written sections and the clocks."""
    incident = record.incidents.get_required(incident_id)
    render = render_executive if executive else render_report
    return ReportView(
        incident,
        render(record, incident_id),
        sections(record, incident_id),
        due_for(record, incident, now),
    )


def issue(record: Record, incident_id: str, kind: str, note: str | None, actor: str | None) -> int:
    """Record an item as issued; a report item quotes the file last saved for it."""
    saved = last_saved(record, incident_id, kind) if kind != GDPR_NOTIFICATION else None
    data = {key: value for key, value in (saved or {}).items() if key != "item"}
    return mark_done(record, incident_id, kind, actor=actor, note=note or None, data=data)


# --- forms --------------------------------------------------------------------------------------


class SavePathForm(FormScreen[Path]):
    """Where to write the report; an existing folder is required, a file is replaced."""

    TITLE_TEXT = "Save the report to a file"

    def __init__(self, default: Path, what: str) -> None:
        super().__init__()
        self._default = default
        self._what = what

    def compose_fields(self) -> ComposeResult:
        yield Label(Text(f"The {self._what}, as `warroom report` writes it"), markup=False)
        yield Input(str(self._default), id="report-path")

    def value(self) -> Path | None:
        raw = self.query_one("#report-path", Input).value.strip()
        if not raw:
            self.error("name a file to write")
            return None
        path = Path(raw).expanduser()
        if path.is_dir():
            self.error(f"{safe_text(path)} is a folder: name a file in it")
            return None
        if not path.parent.is_dir():
            self.error(f"no folder {safe_text(path.parent)}")
            return None
        return path


@dataclass(frozen=True, slots=True)
class IssuedItem:
    kind: str
    note: str


class MarkIssuedForm(FormScreen[IssuedItem]):
    """Which reporting item was sent, and to whom: stops its clock in the record."""

    TITLE_TEXT = "Record a reporting item as issued (sent to its readers)"

    def __init__(self, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self._choices = choices  # (label, kind)

    def compose_fields(self) -> ComposeResult:
        yield Label("Item")
        yield Select(self._choices, value=self._choices[0][1], allow_blank=False, id="item")
        yield Label("Sent to / how (optional)")
        yield Input(placeholder="e.g. CISO and legal, by email", id="note")

    def value(self) -> IssuedItem | None:
        kind = str(self.query_one("#item", Select).value)
        return IssuedItem(kind, self.query_one("#note", Input).value.strip())


# --- the screen -----------------------------------------------------------------------------------


class ReportScreen(StyledOnce, Screen[None]):
    """One incident's report: rendered, its sections editable, saved to a file."""

    CSS_PATH = REPORT_STYLES
    AUTO_FOCUS = "#report-doc"  # arrows and page keys scroll the report
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,w", "close", "Back", id="report.close"),
        Binding("e", "toggle_variant", "Executive/full", id="report.variant"),
        Binding("s,ctrl+s", "save_file", "Save file", id="report.save"),
        Binding("m", "mark_issued", "Mark sent", id="report.mark_issued",
                tooltip="Record a reporting item as issued: stops its clock"),
        Binding("t", "toggle_contents", "Contents", id="report.contents"),
        Binding("r", "reload", "Refresh", id="report.refresh", show=False),
    ]  # fmt: skip

    def __init__(self, incident_id: str) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.executive = False
        self.view: ReportView | None = None

    @property
    def war_app(self) -> WarRoomApp:
        return self.app  # type: ignore[return-value]

    @property
    def readonly(self) -> bool:
        return self.war_app.services.readonly

    def compose(self) -> ComposeResult:
        services = self.war_app.services
        yield Label(Text(self._title_text()), id="report-title", markup=False)
        if services.readonly:
            yield Label(
                Text(f"{services.readonly_reason}; the report can still be saved to a file"),
                id="report-readonly",
                markup=False,
            )
        markdown = Markdown(id="report-markdown", open_links=False)
        with Horizontal(id="report-body"):
            with Vertical(id="report-side"):
                yield Label("Reporting clocks", classes="report-side-title")
                yield Vertical(id="report-clocks")
                yield Label("Sections (enter edits)", classes="report-side-title")
                yield OptionList(
                    *(Option(Text(f"\N{WHITE CIRCLE} {heading}"), id=name)
                      for name, heading in SECTIONS.items()),
                    id="report-sections",
                )  # fmt: skip
            yield MarkdownTableOfContents(markdown, id="report-contents")
            with VerticalScroll(id="report-doc"):
                yield markdown
        yield KeyFooter()

    def _title_text(self) -> str:
        variant = "Executive summary" if self.executive else "Detailed report"
        incident = self.view.incident if self.view else None
        about = f"{incident.severity} {safe_text(incident.title)}" if incident else ""
        return f" {variant} \N{MIDDLE DOT} {safe_text(self.incident_id)} {about}".rstrip()

    def on_mount(self) -> None:
        self._update_narrow()
        # Empty until the report is read: its tree drew every blank line of its height with
        # its full style, a tenth of the screen's opening (bench/dialogs.py). Shown once filled.
        self._contents_tree().display = False
        self.set_interval(CLOCK_INTERVAL, self._tick, name="report-clocks")
        self.reload()

    def _contents_tree(self) -> Tree[Any]:
        return self.query_one("#report-contents", MarkdownTableOfContents).query_one(Tree)

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        self._update_narrow()

    def _update_narrow(self) -> None:
        self.set_class(self.app.size.width < NARROW_WIDTH, "-narrow")

    # --- reading --------------------------------------------------------------------------------

    @work(exclusive=True, group="report-load", exit_on_error=False)
    async def reload(self) -> None:
        """Render the shown variant from the record (off the event loop) and show it."""
        doc = self.query_one("#report-doc")
        reading = self.focused is doc  # the loading indicator takes focus away: give it back
        doc.loading = True
        try:
            view = await self.war_app.in_record(
                read_report,
                self.war_app.services.record,
                self.incident_id,
                self.executive,
                self.war_app.clock(),
            )
            self.view = view
            self.query_one("#report-title", Label).update(Text(self._title_text()))
            self._show_sections(view.sections)
            await self._show_clocks(view.due)
            await self.query_one("#report-markdown", Markdown).update(
                bounded_for_display(view.markdown)
            )
            self._contents_tree().display = True
        finally:
            doc.loading = False
            if reading and self.is_current:
                doc.focus()

    def _show_sections(self, written: dict[str, str]) -> None:
        options = self.query_one("#report-sections", OptionList)
        for name, heading in SECTIONS.items():
            mark = "\N{BLACK CIRCLE}" if written.get(name) else "\N{WHITE CIRCLE}"
            options.replace_option_prompt(name, Text(f"{mark} {heading}"))

    async def _show_clocks(self, items: list[Due]) -> None:
        box = self.query_one("#report-clocks", Vertical)
        await box.remove_children()
        await box.mount_all(
            Static("", id=f"due-{item.kind}", classes="due", markup=False) for item in items
        )
        self._tick()

    def _tick(self) -> None:
        if self.view is None:
            return
        now = self.war_app.clock()
        for item in self.view.due:
            # None while a reload remounts the lines.
            for line in self.query(f"#due-{item.kind}").results(Static):
                line.update(Text(due_line(item, now)))
                wanted = f"-{due_state(item, now)}"
                if not line.has_class(wanted):  # a class change restyles: only on change
                    line.remove_class(*DUE_CLASSES)
                    line.add_class(wanted)

    @on(Markdown.TableOfContentsUpdated)
    def _contents_updated(self, message: Markdown.TableOfContentsUpdated) -> None:
        message.stop()
        self.query_one(MarkdownTableOfContents).table_of_contents = message.table_of_contents

    @on(Markdown.TableOfContentsSelected)
    def _contents_selected(self, message: Markdown.TableOfContentsSelected) -> None:
        message.stop()
        block = self.query_one(f"#{message.block_id}", MarkdownBlock)
        self.query_one("#report-doc", VerticalScroll).scroll_to_widget(block, top=True)

    @on(Markdown.LinkClicked)
    def _link_clicked(self, message: Markdown.LinkClicked) -> None:
        message.stop()  # the report is data: nothing in it is followed or opened

    # --- keys -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.readonly:
            return None  # dimmed; pressing it says why (on_key)
        return True

    def on_key(self, event: Key) -> None:
        for binding in bindings_for_key(self, event.key):
            if binding.action in WRITE_ACTIONS and self.readonly:
                event.stop()
                self._refuse_readonly()
                return

    def _refuse_readonly(self) -> bool:
        if self.readonly:
            self.notify(
                self.war_app.services.readonly_reason, title="Not available", severity="warning"
            )
            return True
        return False

    def action_close(self) -> None:
        self.dismiss(None)

    def action_toggle_variant(self) -> None:
        self.executive = not self.executive
        self.query_one("#report-title", Label).update(Text(self._title_text()))
        self.reload()

    def action_toggle_contents(self) -> None:
        self.toggle_class("-contents")

    def action_reload(self) -> None:
        self.reload()

    @on(OptionList.OptionSelected, "#report-sections")
    def _section_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id:
            self.edit_section(event.option_id)

    @work(exclusive=True, group="report-action", exit_on_error=False)
    async def edit_section(self, name: str) -> None:
        """Open the editor on section `name`; ctrl+s there saves it through the record."""
        if self._refuse_readonly():
            return
        app, record = self.war_app, self.war_app.services.record
        current = await app.in_record(sections, record, self.incident_id)

        async def save(text: str) -> None:
            actor = app.services.actor
            await app.in_record(set_section, record, self.incident_id, name, text, actor)

        saved = await app.push_screen_wait(
            SectionEditor(SECTIONS[name], current.get(name, ""), save)
        )
        if saved:
            self.notify(f"{SECTIONS[name]} saved in the record", title="Report")
            self.reload()

    @work(exclusive=True, group="report-action", exit_on_error=False)
    async def action_save_file(self) -> None:
        app = self.war_app
        what = LABELS[EXECUTIVE_SUMMARY if self.executive else DETAILED_REPORT]
        path = await app.push_screen_wait(
            SavePathForm(default_report_path(self.incident_id, self.executive), what)
        )
        if path is None:
            return
        if path.exists() and not await app.push_screen_wait(
            AskScreen(f"Replace {safe_text(path)}?", "it exists; y replaces it")
        ):
            return
        try:
            saved = await app.in_record(
                save_report,
                app.services.record,
                self.incident_id,
                self.executive,
                path,
                actor=app.services.actor,
                readonly=self.readonly,
            )
        except OSError as failure:
            self.notify(
                safe_text(f"cannot write {path}: {failure.strerror or failure}"),
                title="Not saved",
                severity="error",
                markup=False,
            )
            return
        recorded = "recorded in the timeline" if saved.recorded else "not recorded (read-only)"
        self.notify(
            f"{safe_text(saved.path.resolve())} ({saved.size:,} bytes)\nsha256 {saved.sha256}\n"
            f"{recorded}; saving does not mark it sent: m does",
            title=f"Saved the {what}",
            markup=False,
            timeout=10,
        )

    @work(exclusive=True, group="report-action", exit_on_error=False)
    async def action_mark_issued(self) -> None:
        if self._refuse_readonly() or self.view is None:
            return
        now = self.war_app.clock()
        choices = [
            (due_line(item, now), item.kind)
            for item in self.view.due
            if not item.done and item.due_at is not None
        ]
        if not choices:
            self.notify(
                "nothing to issue now: every item is done, or the detailed report "
                "waits for the incident's resolution",
                title="Reporting",
            )
            return
        answer = await self.war_app.push_screen_wait(MarkIssuedForm(choices))
        if answer is None:
            return
        app = self.war_app
        await app.in_record(
            issue, app.services.record, self.incident_id, answer.kind, answer.note,
            app.services.actor,
        )  # fmt: skip
        self.notify(f"{LABELS[answer.kind]} recorded as issued", title="Reporting")
        self.reload()
