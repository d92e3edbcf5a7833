"""The cluster-action keys: form prefilled from the selected alert, preview, confirm, execute.

Real parts throughout: the drill cluster over HTTP through the official client,
the action layer on its own connection to a real record file, the console
driven by Pilot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Select, Static

from actions.drill.server import DrillServerThread
from actions.falco.parse import parse_line
from actions.kube.cluster import Cluster
from actions.runbook import RunbookActions
from store import Incident, Record
from tests.plugins.tui import AppFactory, alert_line, parsed, run_from_palette, until
from tui.dialogs.action_form import ActionForm, prefill
from tui.dialogs.confirm_action import ConfirmAction
from tui.screens.war_room import WarRoomScreen
from tui.views.alert_rows import AlertRow
from tui.widgets.timeline_pane import TimelineList, TimelinePane

NS = "voicehive"
POD = "orchestrator-6f8d9c7b5d-k2x9p"


@pytest.fixture
def actions_record(record_path: Path, clock: Any, record: Record) -> Iterator[Record]:
    """The action layer's own connection to the console's record file."""
    with Record.open(record_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def runbook_actions(actions_record: Record, cluster: Cluster) -> RunbookActions:
    return RunbookActions(actions_record, cluster, actor="ic@example.com")


def isolation_policies(server: DrillServerThread) -> list[dict[str, Any]]:
    return [
        p
        for p in server.state.list("networking.k8s.io/v1", "NetworkPolicy", NS)
        if p["metadata"]["name"].startswith("emergency-isolation")
    ]


def egress_alert() -> Any:
    """A Falco alert about an outbound connection, with the remote address in fd.rip."""
    line = json.loads(
        alert_line(
            1,
            rule="Unexpected outbound connection",
            priority="Critical",
            pod=POD,
            text="connection to 203.0.113.9:443",
        )
    )
    line["output_fields"]["fd.rip"] = "203.0.113.9"
    alert = parse_line(json.dumps(line).encode())
    assert alert is not None
    return alert


SCREEN_WAIT = 30.0  # seconds: a preview is a few HTTP round trips (slow on a loaded machine)


async def until_screen(pilot: Any, kind: type[Screen[Any]]) -> Any:
    """Wait (on the event loop) until the app shows a `kind` screen."""
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), f"a {kind.__name__}",
                within=SCREEN_WAIT)
    screen = pilot.app.screen
    # A click lands where the widget is drawn: wait until the screen has been laid out.
    await until(pilot, lambda: screen.is_mounted and screen.size.area > 0,
                f"{kind.__name__} laid out", within=SCREEN_WAIT)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    return screen


async def select_alert(app: Any, pilot: Any, alert: Any) -> None:
    await app.workers.wait_for_complete()
    app.push_alerts([alert])
    screen = app.screen
    assert isinstance(screen, WarRoomScreen)
    # The pane drains its queue on a timer.
    await until(pilot, lambda: screen.selected_alert is not None, "the pushed alert selected")


async def test_isolate_from_the_keyboard_lands_the_policy_and_the_outcome(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, parsed(alert_line(1, pod=POD)))
        await pilot.press("i")
        form = await until_screen(pilot, ActionForm)
        assert form.query_one("#target", Input).value == "orchestrator"
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        assert confirm.request.context == runbook_actions.cluster.context
        assert "NetworkPolicy" in confirm.request.preview
        assert confirm.request.blocked is None
        await pilot.press("y")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(TimelinePane).query_one(TimelineList)
        kinds = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        notices = [n.message for n in app._notifications]
    (policy,) = isolation_policies(drill_server)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "orchestrator"}}
    entries = record.actions.for_incident(incident.id)
    assert [(e.entry, e.status) for e in entries] == [
        ("intent", "pending"),
        ("outcome", "succeeded"),
    ]
    assert entries[0].actor == "ic@example.com"
    timeline = record.timeline.for_incident(incident.id, kinds=("action.succeeded",))
    assert len(timeline) == 1
    assert any("isolate orchestrator: succeeded" in n for n in notices), notices
    assert "action.succeeded" in kinds  # the timeline pane was refreshed
    tick = record.checklist.state(incident.id)[("containment", "Isolate Affected Services")]
    assert (tick.checked, tick.actor) == (True, "warroom")
    assert (tick.note or "").startswith(f"ticked by warroom from action #{entries[1].id}: isolate")


async def test_declining_the_confirmation_changes_and_records_nothing(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    before = record.timeline.for_incident(incident.id)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, parsed(alert_line(1, pod=POD)))
        await pilot.press("i")
        await until_screen(pilot, ActionForm)
        await pilot.press("enter")
        await until_screen(pilot, ConfirmAction)
        await pilot.press("n")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()
    assert isolation_policies(drill_server) == []
    assert record.actions.for_incident(incident.id) == []
    assert record.timeline.for_incident(incident.id) == before


async def test_block_ip_is_prefilled_from_the_selected_alerts_address(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
) -> None:
    incident = record.incidents.open("Egress to a rare address", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, egress_alert())
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        assert form.query_one("#target", Input).value == "203.0.113.9"
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        assert "203.0.113.9/32" in confirm.request.preview
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()
    assert record.actions.for_incident(incident.id) == []


async def test_a_cluster_key_in_review_mode_is_refused_with_the_reason(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app(mode="review", actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, parsed(alert_line(1, pod=POD)))
        screen = app.screen
        assert screen.check_action("cluster_action", ("isolate",)) is False  # hidden in review
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, WarRoomScreen)  # no form opened
        notices = [n.message for n in app._notifications]
    assert any(n.startswith("review mode") for n in notices), notices
    assert isolation_policies(drill_server) == []
    assert record.actions.for_incident(incident.id) == []


async def test_without_a_cluster_the_keys_say_why(make_app: AppFactory, record: Record) -> None:
    record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, WarRoomScreen)
        notices = [n.message for n in app._notifications]
    assert any("no cluster connection" in n for n in notices), notices


def test_prefill_reads_the_service_account_and_shows_hostile_text_inert() -> None:
    row = AlertRow.of(
        {
            "rule": "K8s token read",
            "output": "token read",
            "output_fields": {
                "k8s.pod.name": "billing-api-7c9d8f6b5a-x1y2z",
                "ka.user.name": "system:serviceaccount:voicehive:billing-sa",
            },
        }
    )
    assert prefill("disable-sa", row) == "billing-sa"
    assert prefill("isolate", row) == "billing-api"
    assert prefill("block-ip", row) == ""  # no address anywhere: nothing guessed
    hostile = AlertRow.of({"output_fields": {"k8s.pod.name": "x\x1b]52;c;aGk=\x07[red]y"}})
    shown = prefill("isolate", hostile)
    assert "\x1b" not in shown
    assert "\x07" not in shown


async def test_the_palette_opens_the_same_form_prefilled(
    make_app: AppFactory, record: Record, runbook_actions: RunbookActions
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, egress_alert())
        await run_from_palette(pilot, "block ip")
        form = await until_screen(pilot, ActionForm)
        assert form.action_spec.name == "block-ip"
        assert form.query_one("#target", Input).value == "203.0.113.9"
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()
    assert record.actions.for_incident(incident.id) == []


# --- the actions' options in the form ------------------------------------------------------------


def egress_policies(server: DrillServerThread) -> list[dict[str, Any]]:
    return [
        p
        for p in server.state.list("networking.k8s.io/v1", "NetworkPolicy", NS)
        if p["metadata"]["name"].startswith("emergency-egress-block")
    ]


def form_error(form: ActionForm) -> str:
    return str(form.query_one(".dialog-error", Static).render())


async def confirm_and_wait(pilot: Any, app: Any) -> None:
    await pilot.press("y")
    await until_screen(pilot, WarRoomScreen)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_block_ip_with_emergency_egress_for_one_app_lands_its_own_policy(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    incident = record.incidents.open("Egress to a rare address", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, egress_alert())
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        assert form.query_one("#target", Input).value == "203.0.113.9"
        service = form.query_one("#service", Input)
        assert service.disabled  # the app only narrows an emergency egress policy
        await pilot.click("#emergency-egress")
        assert not service.disabled
        await pilot.click("#service")
        await pilot.press(*"orchestrator")
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        assert "emergency-egress-block" in confirm.request.preview
        assert confirm.request.blocked is None
        await confirm_and_wait(pilot, app)
        table = app.screen.query_one(TimelinePane).query_one(TimelineList)
        kinds = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
    (policy,) = egress_policies(drill_server)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "orchestrator"}}
    assert policy["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] == ["203.0.113.9/32"]
    intent, outcome = record.actions.for_incident(incident.id)
    assert intent.params["emergency_egress"] is True
    assert intent.params["service"] == "orchestrator"
    assert outcome.status == "succeeded"
    assert "action.succeeded" in kinds


async def incident_that_blocked(
    record: Record, runbook_actions: RunbookActions, address: str
) -> Incident:
    """A drill incident whose block-ip put `address` in an emergency egress policy."""
    from actions.runbook import ActionRequest

    incident = record.incidents.open("Egress to a rare address", severity="P1", drill=True)
    blocked = await runbook_actions.execute(
        await runbook_actions.preview(
            ActionRequest("block-ip", address, incident_id=incident.id, emergency_egress=True)
        )
    )
    assert blocked.status == "succeeded", blocked.message
    return incident


async def test_restore_with_unblock_removes_the_incidents_ip_block(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    incident = await incident_that_blocked(record, runbook_actions, "203.0.113.9")
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("R")
        form = await until_screen(pilot, ActionForm)
        # From the keyboard, as at a terminal: a click raced the form's layout on a loaded
        # machine (it landed before the box had moved to where it is drawn).
        box = form.query_one("#unblock", Checkbox)
        await until(pilot, lambda: box.region.height > 0 and box.display,
                    "the unblock box on screen")
        box.focus()
        await pilot.press("space")
        await until(pilot, lambda: box.value, "space ticking unblock")
        form.query_one("#submit", Button).focus()
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        assert "# delete NetworkPolicy" in confirm.request.preview
        assert "emergency-egress-block" in confirm.request.preview
        await confirm_and_wait(pilot, app)
        table = app.screen.query_one(TimelinePane).query_one(TimelineList)
        rows = [" ".join(map(str, table.get_row_at(i))) for i in range(table.row_count)]
    assert egress_policies(drill_server) == []
    restore_intent = next(
        e
        for e in record.actions.for_incident(incident.id)
        if e.action == "restore" and e.entry == "intent"
    )
    assert restore_intent.params["unblock"] is True
    assert any("restore" in row and "succeeded" in row for row in rows), rows
    assert form.request.action == "restore"


async def test_enter_in_the_restore_form_previews_and_keeps_the_blocks(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    """Restore's form has only checkboxes: it starts on Preview, so enter previews (enter on
    "Also remove the IPs this incident blocked" ticked it: the attacker's IP unblocked by a
    reflex). The preview says how to remove them in the console's words."""
    incident = await incident_that_blocked(record, runbook_actions, "203.0.113.9")
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("R")
        form = await until_screen(pilot, ActionForm)
        await until(pilot, lambda: form.focused is form.query_one("#submit"), "Preview focused")
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        assert "emergency-egress-block" not in confirm.request.preview  # the block stays
        assert any("Also remove the IPs this incident blocked" in note
                   for note in confirm.request.notes)
        await pilot.press("escape")
        await app.workers.wait_for_complete()


async def test_mesh_deny_runs_on_the_mesh_chosen_in_the_form(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    # Both meshes' namespaces exist: the action layer will not guess, the form chooses.
    drill_server.state.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "linkerd"}}
    )
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, parsed(alert_line(1, pod=POD)))
        await pilot.press("m")
        form = await until_screen(pilot, ActionForm)
        assert form.query_one("#target", Input).value == "orchestrator"
        form.query_one("#mesh", Select).focus()
        await pilot.press("enter", "down", "enter")  # auto -> istio
        assert form.query_one("#mesh", Select).value == "istio"
        await pilot.click("#submit")
        confirm = await until_screen(pilot, ConfirmAction)
        assert "AuthorizationPolicy" in confirm.request.preview
        assert "mesh: istio (as asked)" in confirm.request.notes
        await confirm_and_wait(pilot, app)
    (intent, outcome) = record.actions.for_incident(incident.id)
    assert intent.params["mesh"] == "istio"
    assert outcome.status == "succeeded", outcome.message
    denies = drill_server.state.list("security.istio.io/v1", "AuthorizationPolicy", NS)
    assert any(p["metadata"]["name"].startswith("emergency-deny") for p in denies)


async def type_into(pilot: Any, form: ActionForm, field: str, typed: str) -> None:
    """Replace what the field holds with `typed`, from the keyboard."""
    form.query_one(field, Input).value = ""
    await pilot.click(field)
    await pilot.press(*typed)


async def refused_in_form(
    app: Any, pilot: Any, form: ActionForm, wrong: list[tuple[str, str, str]]
) -> None:
    """Each (field, typed, message): saving says what is wrong and stays in the form."""
    # The button says where it leads: the preview, not a saved change.
    assert str(form.query_one("#submit", Button).label) == "Preview"
    for field, typed, said in wrong:
        kept = form.query_one(field, Input).value
        await type_into(pilot, form, field, typed)
        await pilot.click("#submit")
        await pilot.pause()
        assert app.screen is form, f"{typed!r} in {field} was not refused"
        assert said in form_error(form), (typed, form_error(form))
        # The cursor is back in the faulty field, to fix it there.
        assert app.focused is form.query_one(field, Input), (field, app.focused)
        form.query_one(field, Input).value = kept
    await pilot.press("escape")
    await until_screen(pilot, WarRoomScreen)
    await app.workers.wait_for_complete()


async def test_block_ip_form_refuses_bad_addresses_before_the_cluster(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    incident = record.incidents.open("Egress to a rare address", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, egress_alert())
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        await refused_in_form(
            app,
            pilot,
            form,
            [
                ("#target", "1.1.1.300", "is not an IPv4 or IPv6 address or CIDR"),
                ("#target", "::/0", "that is every address"),
                ("#target", "1.1.1.1/8", "has host bits set"),
                ("#protect", "x/33", "is not a CIDR"),
            ],
        )
    assert record.actions.for_incident(incident.id) == []
    assert egress_policies(drill_server) == []


@pytest.mark.parametrize(
    ("key", "wrong"),
    [
        ("i", [("#target", "Bad[red]", "is not a valid name")]),
        (
            "c",
            [
                ("#domain", "a..b", "is not a DNS name"),
                ("#since", "soon", "is not a duration"),
                ("#service", "x;rm", "is not a valid name"),
            ],
        ),
    ],
    ids=["isolate", "capture"],
)
async def test_the_form_says_what_is_wrong_with_a_name_and_sends_nothing(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    key: str,
    wrong: list[tuple[str, str, str]],
) -> None:
    incident = record.incidents.open("Shell in orchestrator", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, parsed(alert_line(1, pod=POD)))
        await pilot.press(key)
        form = await until_screen(pilot, ActionForm)
        await refused_in_form(app, pilot, form, wrong)
    assert record.actions.for_incident(incident.id) == []


# --- prefilled from the right field; a refused preview cannot be confirmed ----------------------


def falco_alert(fields: dict[str, Any]) -> Any:
    rule = "Network Connection outside Local Subnet"
    line = json.loads(alert_line(1, rule=rule, priority="Warning", pod=POD, text="connection"))
    line["output_fields"].update(fields)
    return parse_line(json.dumps(line).encode())


def payments_pod(ip: str) -> dict[str, Any]:
    """A pod whose address the tests know (the seeded pods share one)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "payments-5f6d7c8b9a-q2w3e", "namespace": NS,
                     "labels": {"app": "payments"}},
        "spec": {"serviceAccountName": "payments-sa",
                 "containers": [{"name": "payments", "image": "registry.local/payments:3"}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }  # fmt: skip


def prefill_note(form: ActionForm) -> str:
    return str(form.query_one("#action-prefill", Static).render())


async def test_block_ip_takes_the_remote_end_of_the_connection_not_the_pods_own(
    make_app: AppFactory, record: Record, runbook_actions: RunbookActions
) -> None:
    """`10.42.2.31:32901->203.0.113.66:8443` with its local port: the pod is the client."""
    incident = record.incidents.open("Beacon", severity="P1", drill=True)
    alert = falco_alert({"fd.name": "10.42.2.31:32901->203.0.113.66:8443", "fd.lport": 32901,
                         "fd.rport": 8443, "fd.sip.name": None})  # fmt: skip
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, alert)
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        assert form.query_one("#target", Input).value == "203.0.113.66"
        await until(pilot, lambda: "cluster's own" in prefill_note(form), "the cluster's answer")
        assert prefill_note(form).startswith("the server side of the connection")
        assert form.query_one("#target", Input).value == "203.0.113.66"
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()


async def test_restore_with_an_alert_selected_asks_the_cluster_nothing(
    make_app: AppFactory, record: Record, runbook_actions: RunbookActions
) -> None:
    """Restore has no field an alert fills: its form once said "Asking the cluster about the
    selected alert..." for as long as it stayed open."""
    incident = record.incidents.open("Beacon", severity="P1", drill=True)
    alert = falco_alert({"fd.name": "10.42.2.31:32901->203.0.113.66:8443"})
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, alert)
        await pilot.press("R")
        form = await until_screen(pilot, ActionForm)
        assert form.action_spec.name == "restore"
        notes = [str(note.render()) for note in form.query("#action-prefill").results(Static)]
        assert not [note for note in notes if "Asking the cluster" in note], notes
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()


async def test_block_ip_never_offers_an_address_the_cluster_owns(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    """Both ends private and no direction: the alert alone guesses the pod; the cluster says no."""
    drill_server.state.create(payments_pod("10.42.3.50"))
    incident = record.incidents.open("Inbound probe", severity="P1", drill=True)
    alert = falco_alert({"fd.name": "10.99.0.7:51000->10.42.3.50:8080"})
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, alert)
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        target = form.query_one("#target", Input)
        await until(pilot, lambda: target.value == "10.99.0.7", "the cluster's answer")
        assert "not one of the cluster's own addresses" in prefill_note(form)
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()


async def test_isolate_finds_the_workload_behind_a_dns_alerts_client_ip(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    from actions.sources.dns_detector import DnsDetection
    from actions.sources.dns_follower import detection_alert

    drill_server.state.create(payments_pod("10.42.3.50"))
    detection = DnsDetection(
        domain="cdn-telemetry.example.net", client="10.42.3.50", signals=("long-labels",),
        time_ns=1_773_478_800_000_000_000, log_time=None, queries=40,
        sample=("a1b2.s1.cdn-telemetry.example.net",), counts={},
    )  # fmt: skip
    alert = detection_alert(detection, "coredns-6d4b75cb6d-z9x8c")
    incident = record.incidents.open("DNS tunnel", severity="P0", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, alert)
        await pilot.press("i")
        form = await until_screen(pilot, ActionForm)
        target = form.query_one("#target", Input)
        await until(pilot, lambda: target.value == "payments", "the workload from the pod list")
        assert prefill_note(form) == (
            "the app label of pod voicehive/payments-5f6d7c8b9a-q2w3e, "
            "whose IP 10.42.3.50 the alert names"
        )
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await pilot.press("x")  # the same pod's service account
        form = await until_screen(pilot, ActionForm)
        account = form.query_one("#target", Input)
        await until(pilot, lambda: account.value == "payments-sa", "the pod's service account")
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()


async def test_a_dns_alert_whose_client_no_pod_owns_says_so_not_that_its_pod_is_missing(
    make_app: AppFactory, record: Record, runbook_actions: RunbookActions,
) -> None:
    from actions.sources.dns_detector import DnsDetection
    from actions.sources.dns_follower import detection_alert

    detection = DnsDetection(
        domain="cdn-telemetry.example.net", client="10.42.9.99", signals=("long-labels",),
        time_ns=1_773_478_800_000_000_000, log_time=None, queries=40,
        sample=("a1b2.s1.cdn-telemetry.example.net",), counts={},
    )  # fmt: skip
    incident = record.incidents.open("DNS tunnel", severity="P0", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, detection_alert(detection, "coredns-6d4b75cb6d-z9x8c"))
        await pilot.press("i")
        form = await until_screen(pilot, ActionForm)
        await until(pilot, lambda: "no pod" in prefill_note(form), "what the cluster said")
        assert prefill_note(form) == (
            "the alert names no pod, and no pod in the cluster has its address 10.42.9.99")
        await pilot.press("escape")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()


async def test_a_refused_preview_offers_only_back_and_cancel_and_y_says_why(
    make_app: AppFactory,
    record: Record,
    runbook_actions: RunbookActions,
    drill_server: DrillServerThread,
) -> None:
    from textual.widgets import Button

    incident = record.incidents.open("Beacon", severity="P1", drill=True)
    app = make_app(actions=runbook_actions, incident_id=incident.id)
    async with app.run_test(size=(160, 48)) as pilot:
        await select_alert(app, pilot, egress_alert())
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        await type_into(pilot, form, "#target", "10.42.0.12")  # a pod's own address
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        blocked = confirm.request.blocked
        assert blocked is not None
        assert "cluster's own pod/service addresses 10.42.0.12" in blocked
        assert [b.id for b in confirm.query(Button)] == ["back", "no"]  # no Confirm at all
        assert f"Cannot confirm: {blocked}" in str(confirm.query_one("#confirm-blocked").render())
        await pilot.press("y")
        await until(pilot, lambda: any("Cannot confirm block-ip" in n.message
                                       for n in app._notifications), "y saying why")  # fmt: skip
        assert app.screen is confirm
        await pilot.press("b")
        form = await until_screen(pilot, ActionForm)
        assert form.query_one("#target", Input).value == "10.42.0.12"  # as the operator left it
        await type_into(pilot, form, "#target", "203.0.113.9")
        await pilot.press("enter")
        confirm = await until_screen(pilot, ConfirmAction)
        assert confirm.request.blocked is None
        assert [b.id for b in confirm.query(Button)] == ["yes", "no"]
        await pilot.press("n")
        await until_screen(pilot, WarRoomScreen)
        await app.workers.wait_for_complete()
    assert record.actions.for_incident(incident.id) == []
    assert egress_policies(drill_server) == []
