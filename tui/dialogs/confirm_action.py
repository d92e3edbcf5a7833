"""The confirmation modal every cluster-changing action goes through.

It shows the cluster context, the exact manifest or patch, the server-side
dry-run result and the RBAC check. When the preview refuses (the action
layer's problem, a failed dry-run, a missing permission) there is nothing to
confirm: the modal says why, offers only "back to the form" and "cancel", and
`y` answers with the reason instead of doing nothing. Dismisses with
`CONFIRM` only on an explicit yes, `BACK` to change the request, `CANCEL`
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui.safe import safe_text
from tui.textual_workarounds import StyledOnce, bindings_for_key

if TYPE_CHECKING:
    from actions.runbook.model import ActionPreview

CONFIRM, BACK, CANCEL = "confirm", "back", "cancel"


@dataclass(frozen=True, slots=True)
class PermissionLine:
    what: str
    allowed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConfirmRequest:
    """What the operator confirms, as text already decided by the action layer."""

    title: str
    context: str | None
    namespace: str | None
    preview: str
    dry_run: str
    dry_run_ok: bool
    permissions: tuple[PermissionLine, ...] = ()
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    no_op: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Reads only (capture): a denied read leaves its piece out, as the action layer notes,
    # instead of refusing the whole capture.
    reads_only: bool = False

    @property
    def blocked(self) -> str | None:
        """Why confirming is refused, or None when it may go ahead."""
        if self.problems:
            return self.problems[0]
        if not self.dry_run_ok:
            return "the server-side dry-run failed"
        denied = [p.what for p in self.permissions if not p.allowed]
        if denied and not self.reads_only:
            return f"not allowed to {denied[0]}"
        return None

    @classmethod
    def from_preview(cls, preview: ActionPreview) -> ConfirmRequest:
        """The request for an action layer preview: manifests as YAML, dry-runs, RBAC answers."""
        documents = []
        dry_runs = []
        for change in preview.changes:
            documents.append(
                f"# {change.verb} {change.kind} {change.namespace or ''}/{change.name}"
                f": {change.summary}"
            )
            documents.append(change.sent_yaml())
            if change.dry_run_error:
                dry_runs.append(f"{change.kind}/{change.name}: {change.dry_run_error}")
            elif change.dry_run is not None:
                dry_runs.append(f"{change.kind}/{change.name}: accepted")
        ok = all(c.dry_run_error is None for c in preview.changes)
        return cls(
            title=f"{preview.request.action} {preview.target or ''}".strip(),
            context=preview.cluster.get("context"),
            namespace=preview.request.namespace,
            preview="\n".join(documents) or "(no change to the cluster)",
            dry_run="\n".join(dry_runs) or "not run",
            dry_run_ok=ok,
            permissions=tuple(
                PermissionLine(p.describe(), p.allowed, p.reason) for p in preview.permissions
            ),
            notes=tuple(preview.notes),
            problems=tuple(p.message for p in preview.problems),
            no_op=preview.no_op,
            reads_only=preview.request.action == "capture",
        )


class ConfirmAction(StyledOnce, ModalScreen[str]):
    """Shows a `ConfirmRequest`; y confirms (when allowed), b goes back to the form, n cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Confirm", id="confirm.yes"),
        Binding("b", "back", "Back to the form", id="confirm.back"),
        Binding("n,escape", "cancel", "Cancel", id="confirm.no"),
        # The preview, then the rest (dry run, RBAC, notes), scroll from the keyboard wherever
        # focus is (it starts on a button): at 80x24 the RBAC lines were out of every key's reach.
        Binding("pagedown", "scroll_preview(1)", "Scroll the preview", show=False,
                id="confirm.page_down"),
        Binding("pageup", "scroll_preview(-1)", "Scroll the preview", show=False,
                id="confirm.page_up"),
        Binding("down", "scroll_preview(1, False)", "Scroll the preview", show=False,
                id="confirm.line_down"),
        Binding("up", "scroll_preview(-1, False)", "Scroll the preview", show=False,
                id="confirm.line_up"),
    ]

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        context = safe_text(request.context or "unknown context")
        where = f"context {context}, namespace {safe_text(request.namespace or '-')}"
        blocked = request.blocked
        title = f"Refused: {safe_text(request.title)}" if blocked else (
            f"Confirm: {safe_text(request.title)}")  # fmt: skip
        with Vertical(classes="dialog confirm-dialog"):
            yield Label(Text(title), classes="dialog-title", markup=False)
            yield Label(Text(where), id="confirm-context", markup=False)
            if blocked:  # the reason first: it is the answer, the rest is why
                yield Static(Text(f"Cannot confirm: {safe_text(blocked)}"), id="confirm-blocked",
                             markup=False)  # fmt: skip
            with VerticalScroll(id="confirm-preview"):
                yield Static(Text(safe_text(request.preview, multiline=True)), markup=False)
            yield Label("Server-side dry-run", classes="section")
            yield Static(
                Text(safe_text(request.dry_run, multiline=True)),
                id="confirm-dry-run",
                classes="-ok" if request.dry_run_ok else "-failed",
                markup=False,
            )
            yield Label("RBAC", classes="section")
            lines = [
                f"{'yes' if p.allowed else 'NO '} {safe_text(p.what)}"
                + (f" ({safe_text(p.reason)})" if p.reason else "")
                for p in request.permissions
            ]
            yield Static(Text("\n".join(lines) or "not checked"), id="confirm-rbac", markup=False)
            for note in (*request.notes, *([request.no_op] if request.no_op else [])):
                yield Static(Text(safe_text(note)), classes="note", markup=False)
            with Horizontal(classes="dialog-buttons"):
                if blocked:
                    yield Button("Back to the form (b)", variant="primary", id="back")
                else:
                    yield Button("Confirm (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#back" if self.request.blocked else "#no", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm" and self.request.blocked is not None:
            return None  # dimmed in the footer; pressing y still says why (_refused_key)
        return True

    @on(Key)
    def _refused_key(self, event: Key) -> None:
        """y on a refused preview says why it cannot confirm instead of staying silent."""
        if self.request.blocked is not None and any(
            binding.action == "confirm"
            for binding in bindings_for_key(self, event.key)
        ):
            event.stop()
            self.action_confirm()

    def action_confirm(self) -> None:
        blocked = self.request.blocked
        if blocked is None:
            self.dismiss(CONFIRM)
            return
        self.notify(
            f"Cannot confirm {safe_text(self.request.title)}: {safe_text(blocked)}. "
            "b goes back to the form, n cancels.",
            title="Refused",
            severity="error",
            markup=False,
        )

    def action_scroll_preview(self, direction: int, by_page: bool = True) -> None:
        """Scroll the preview until its end, then the dialog under it (and back up the other
        way round), a page or a line at a time."""
        preview = self.query_one("#confirm-preview", VerticalScroll)
        dialog = self.query_one(".confirm-dialog", Vertical)
        down = direction > 0
        for part in (preview, dialog) if down else (dialog, preview):
            if part.scroll_y < part.max_scroll_y if down else part.scroll_y > 0:
                if by_page:
                    (part.scroll_page_down if down else part.scroll_page_up)(animate=False)
                else:
                    (part.scroll_down if down else part.scroll_up)(animate=False)
                return

    def action_back(self) -> None:
        self.dismiss(BACK)

    def action_cancel(self) -> None:
        self.dismiss(CANCEL)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.action_cancel()
