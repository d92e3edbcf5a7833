"""The confirmation modal: a real preview from the action layer, refusal when blocked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Static

from actions.kube.cluster import ClusterOptions, connect
from actions.runbook.model import ActionRequest
from actions.runbook.pipeline import RunbookActions
from store import Record
from tests.plugins.tui import HOSTILE, AppFactory
from tui.dialogs.confirm_action import (
    BACK,
    CANCEL,
    CONFIRM,
    ConfirmAction,
    ConfirmRequest,
    PermissionLine,
)


async def _answer(app: Any, pilot: Any, request: ConfirmRequest, *keys: str) -> list[str]:
    answers: list[str] = []
    app.push_screen(ConfirmAction(request), answers.append)
    await pilot.pause()
    await pilot.press(*keys)
    await pilot.pause()
    return answers


async def test_a_real_isolate_preview_is_shown_and_confirmed(
    make_app: AppFactory, record: Record, drill_kubeconfig: Path
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig)))
    try:
        preview = await RunbookActions(record, cluster, actor="ic").preview(
            ActionRequest("isolate", target="orchestrator", namespace="voicehive",
                          incident_id=incident.id)
        )
    finally:
        await cluster.close()
    request = ConfirmRequest.from_preview(preview)
    assert request.blocked is None
    assert "NetworkPolicy" in request.preview
    assert request.dry_run_ok
    assert "accepted" in request.dry_run
    assert request.permissions
    assert all(p.allowed for p in request.permissions)
    assert request.context == cluster.context
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        answers = await _answer(app, pilot, request, "y")
    assert answers == [CONFIRM]


async def test_a_failed_dry_run_cannot_be_confirmed(make_app: AppFactory) -> None:
    request = ConfirmRequest(
        title="block-ip 203.0.113.9", context="prod", namespace="voicehive",
        preview="kind: NetworkPolicy", dry_run="admission webhook denied it", dry_run_ok=False,
        permissions=(PermissionLine("create networkpolicies in voicehive", True),),
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        answers = await _answer(app, pilot, request, "y")
        assert answers == []  # y is refused while the dry-run failed, and says why
        assert isinstance(app.screen, ConfirmAction)
        assert "dry-run failed" in str(app.screen.query_one("#confirm-blocked").render())
        assert any(
            "Cannot confirm block-ip 203.0.113.9: the server-side dry-run failed" in n.message
            for n in app._notifications
        )
        assert not app.screen.query("#yes")  # nothing to confirm is offered
        await pilot.press("b")
        await pilot.pause()
    assert answers == [BACK]


async def test_denied_permission_and_hostile_preview_text(make_app: AppFactory) -> None:
    hostile = " ".join(HOSTILE)
    request = ConfirmRequest(
        title=f"isolate {hostile}", context=f"ctx {hostile}", namespace="voicehive",
        preview=f"metadata:\n  name: {hostile}", dry_run="accepted", dry_run_ok=True,
        permissions=(PermissionLine("patch serviceaccounts in voicehive", False, "RBAC: no"),),
    )
    assert request.blocked == "not allowed to patch serviceaccounts in voicehive"
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        answers = await _answer(app, pilot, request, "y")
        assert answers == []
        shown = str(app.screen.query_one("#confirm-preview Static").render())
        assert "name: [/oops] [red]x" in shown
        assert "\x1b" not in shown
        assert "\x9b" not in shown
        await pilot.press("escape")
        await pilot.pause()
        assert answers == [CANCEL]


def test_a_capture_with_a_denied_read_may_be_confirmed_and_an_isolate_may_not() -> None:
    """The action layer leaves a denied read's piece out of a capture (a note) and refuses a
    denied write (a problem): the console's confirmation follows it, so a commander whose
    RBAC lacks the Prometheus proxy still captures the logs (false-positive drill)."""
    from datetime import UTC, datetime

    from actions.runbook.model import ActionPreview, PermissionCheck

    def preview(action: str) -> ActionPreview:
        denied = PermissionCheck("get", "", "services", "monitoring", None, False, "RBAC: no",
                                 subresource="proxy")
        return ActionPreview(ActionRequest(action, target="orchestrator"), "NSI-1", False, [],
                             [denied], [], [], None, {"context": "drill"}, datetime.now(UTC))

    assert ConfirmRequest.from_preview(preview("capture")).blocked is None
    assert ConfirmRequest.from_preview(preview("isolate")).blocked == (
        "not allowed to get services/proxy in monitoring")


async def test_every_preview_shows_what_is_sent_as_yaml_and_selectors_as_kubectl_does(
    make_app: AppFactory, record: Record, drill_kubeconfig: Path
) -> None:
    """rotate-sa deletes Secrets: the preview showed `null` for the body; block-ip's note showed
    the policy's selector as a Python dict. A reader expects YAML and `app=orchestrator`."""
    incident = record.incidents.open("Beacon from orchestrator", severity="P1", drill=True)
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig)))
    try:
        actions = RunbookActions(record, cluster, actor="ic")
        previews = [
            await actions.preview(ActionRequest(action, target=target, namespace="voicehive",
                                                incident_id=incident.id))
            for action, target in (("rotate-sa", "orchestrator"), ("block-ip", "203.0.113.66"))
        ]
    finally:
        await cluster.close()
    app = make_app()
    shown: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        for preview in previews:
            app.push_screen(ConfirmAction(ConfirmRequest.from_preview(preview)))
            await pilot.pause()
            shown.append("\n".join(str(static.render()) for static in app.screen.query(Static)))
            await pilot.press("n")
            await pilot.pause()
    rotate, block = shown
    assert "null" not in rotate
    assert "kind: DeleteOptions\napiVersion: v1\npreconditions:\n  uid: " in rotate
    assert "- op: add\n  path: /spec/egress/0/to/0/ipBlock/except/-" in block
    assert "selects pods by app=orchestrator: only those pods lose 203.0.113.66/32" in block
    assert "{'" not in block


async def test_page_keys_scroll_a_long_preview_while_a_button_has_focus(
        make_app: AppFactory) -> None:
    request = ConfirmRequest(
        title="isolate orchestrator", context="prod", namespace="voicehive",
        preview="\n".join(f"line {n}" for n in range(200)), dry_run="accepted", dry_run_ok=True,
        permissions=(PermissionLine("create networkpolicies in voicehive", True),),
    )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(ConfirmAction(request))
        await pilot.pause()
        preview = app.screen.query_one("#confirm-preview")
        assert app.focused is not None
        assert app.focused.id == "no"  # Cancel, not the preview
        await pilot.press("pagedown")
        await pilot.pause()
        assert preview.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert preview.scroll_y == 0
        assert isinstance(app.screen, ConfirmAction)  # scrolling answered nothing
