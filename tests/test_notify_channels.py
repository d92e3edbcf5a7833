"""Each alert channel end to end: event -> outbox -> local receiver, in the documented shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actions.config import load_settings
from actions.notify import drain_outbox, escalate, notify_incident_event
from store import Record
from tests.plugins.notify import (
    NotifySecrets,
    ShapeReceiver,
    SmtpServer,
    SyslogListener,
    parse_rfc5424,
)
from tests.plugins.record import FrozenClock

HOSTILE_TITLE = (
    "<!channel> <@U123ABC> <https://evil.example|click here> *bold* _it_ ~s~ `rm -rf` &amp;"
)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


async def test_pagerduty_triggers_acknowledges_and_resolves_one_alert(
    record: Record,
    pagerduty_receiver: ShapeReceiver,
    notify_config: Any,
    notify_secrets: NotifySecrets,
) -> None:
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver))
    incident = record.incidents.open(
        "DNS tunneling from payment-svc", severity="P0", namespace="voicehive"
    )
    first = notify_incident_event(record, settings, incident, "opened")
    assert [(q.channel, q.is_new) for q in first] == [("pagerduty", True)]
    # The same event again (a retried call) queues nothing: it cannot page twice.
    again = notify_incident_event(record, settings, incident, "opened")
    assert [q.is_new for q in again] == [False]
    report = await drain_outbox(record, settings)
    assert [a.channel for a in report.delivered] == ["pagerduty"]

    incident = record.incidents.acknowledge(incident.id, actor="alice")
    notify_incident_event(record, settings, incident, "acknowledged", {"by": "alice"})
    incident = record.incidents.update(incident.id, status="closed")
    notify_incident_event(record, settings, incident, "resolved")
    notify_incident_event(record, settings, incident, "resolved")
    report = await drain_outbox(record, settings)
    assert [a.event for a in report.delivered] == ["acknowledged", "resolved"]
    assert not (await drain_outbox(record, settings)).delivered

    assert not pagerduty_receiver.rejected
    bodies = pagerduty_receiver.bodies()
    assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in bodies} == {incident.id}
    assert {b["routing_key"] for b in bodies} == {notify_secrets.routing_key}
    trigger = bodies[0]["payload"]
    assert trigger["severity"] == "critical"
    assert trigger["summary"] == f"[P0] {incident.id}: DNS tunneling from payment-svc"
    assert trigger["component"] == "voicehive"
    assert trigger["custom_details"]["incident_id"] == incident.id
    assert trigger["custom_details"]["title"] == "DNS tunneling from payment-svc"
    # Nothing to acknowledge or resolve carries a payload (the documented short form).
    assert "payload" not in bodies[1]
    assert "payload" not in bodies[2]
    delivered = record.timeline.for_incident(incident.id, kinds=("notification.delivered",))
    assert len(delivered) == 3


@pytest.mark.parametrize(("severity", "expected"), [("P1", "error"), ("P0", "critical")])
async def test_pagerduty_pages_when_an_incident_is_raised_to_p0_or_p1(
    record: Record,
    pagerduty_receiver: ShapeReceiver,
    notify_config: Any,
    severity: str,
    expected: str,
) -> None:
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver))
    incident = record.incidents.open("Policy drift in voicehive", severity="P2")
    assert notify_incident_event(record, settings, incident, "opened") == []
    # Resolving something never paged sends nothing either.
    incident = record.incidents.update(incident.id, severity=severity)
    notify_incident_event(
        record, settings, incident, "severity-changed", {"from": "P2", "to": severity}
    )
    await drain_outbox(record, settings)
    (body,) = pagerduty_receiver.bodies()
    assert body["event_action"] == "trigger"
    assert body["payload"]["severity"] == expected
    assert "Severity changed P2 -> " + severity in body["payload"]["summary"]


async def test_pagerduty_summary_is_one_line_within_1024_characters(
    record: Record, pagerduty_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver))
    title = "exfil\x1b]52;c;ZXZpbA==\x07 via\r\nDNS " + "x" * 3000
    incident = record.incidents.open(title, severity="P1")
    notify_incident_event(record, settings, incident, "opened")
    await drain_outbox(record, settings)
    assert not pagerduty_receiver.rejected
    (body,) = pagerduty_receiver.bodies()
    summary = body["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("\u2026")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in summary)
    assert "exfil\ufffd]52;c;ZXZpbA==\ufffd via DNS" in summary


async def test_drills_do_not_page_unless_configured(
    record: Record, pagerduty_receiver: ShapeReceiver, slack_receiver: ShapeReceiver,
    notify_config: Any,
) -> None:  # fmt: skip
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver, slack=slack_receiver))
    drill = record.incidents.open("Tabletop: DNS tunneling", severity="P0", drill=True)
    queued = notify_incident_event(record, settings, drill, "opened")
    assert [q.channel for q in queued] == ["slack"]
    await drain_outbox(record, settings)
    (message,) = slack_receiver.bodies()
    assert message["blocks"][0]["text"]["text"].startswith("[DRILL] P0 ")


async def test_slack_gets_block_kit_for_each_incident_event(
    record: Record, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open("Unauthorized access to payments", severity="P3",
                                     namespace="voicehive")  # fmt: skip
    notify_incident_event(record, settings, incident, "opened")
    incident = record.incidents.update(incident.id, severity="P1")
    notify_incident_event(
        record, settings, incident, "severity-changed", {"from": "P3", "to": "P1"}
    )
    notify_incident_event(
        record, settings, incident, "action-taken",
        {"action": "isolate", "target": "payment-svc", "outcome": "succeeded", "action_id": "a1"},
    )  # fmt: skip
    incident = record.incidents.update(incident.id, phase="containment")
    notify_incident_event(record, settings, incident, "phase-changed", {"phase": "containment"})
    incident = record.incidents.update(incident.id, status="closed")
    notify_incident_event(record, settings, incident, "resolved")
    report = await drain_outbox(record, settings)
    assert len(report.delivered) == 5
    assert not report.failed

    assert not slack_receiver.rejected, slack_receiver.rejected
    headers = [m["blocks"][0]["text"]["text"] for m in slack_receiver.bodies()]
    assert headers == [
        f"P3 {incident.id}: Incident opened",
        f"P1 {incident.id}: Severity changed P3 -› P1",
        f"P1 {incident.id}: Action taken: isolate payment-svc (succeeded)",
        f"P1 {incident.id}: Phase changed to Containment",
        f"P1 {incident.id}: Incident resolved",
    ]
    first = slack_receiver.bodies()[0]
    assert first["channel"] == "#security-alerts"
    assert first["text"]  # the notification fallback
    fields = {
        f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in first["blocks"][2]["fields"]
    }
    assert fields["*Severity*"] == "P3"
    assert fields["*Namespace*"] == "voicehive"


async def test_slack_neutralises_mentions_links_and_markup(
    record: Record, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open(HOSTILE_TITLE, severity="P2")
    notify_incident_event(
        record, settings, incident, "action-taken",
        {"action": "block-ip", "target": "<!here> 10.0.0.9 *now*", "action_id": "x"},
    )  # fmt: skip
    await drain_outbox(record, settings)
    assert not slack_receiver.rejected
    (message,) = slack_receiver.bodies()
    texts = strings_in(message)
    # No Slack control sequence survives anywhere: no "<" or ">" at all, "&" only as entities.
    assert not any("<" in t or ">" in t for t in texts), texts
    for text in texts:
        assert "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    section = message["blocks"][1]["text"]["text"]
    assert section == (
        "*Incident:* &lt;!channel&gt; &lt;@U123ABC&gt; &lt;https://evil.example|click here&gt; "
        "＊bold＊ ＿it＿ ～s～ ｀rm -rf｀ &amp;amp;"
    )
    assert "‹!here› 10.0.0.9 *now*" in message["blocks"][0]["text"]["text"]


async def test_slack_respects_block_kit_length_limits(
    record: Record, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open("&" * 5000, severity="P2")
    notify_incident_event(
        record, settings, incident, "action-taken",
        {"action": "isolate", "target": "<" * 4000, "note": "x" * 4000, "action_id": "1"},
    )  # fmt: skip
    report = await drain_outbox(record, settings)
    assert report.delivered, report.failed
    assert not slack_receiver.rejected  # the receiver enforces 150 / 3000 / 2000
    (message,) = slack_receiver.bodies()
    section = message["blocks"][1]["text"]["text"]
    assert len(section) <= 3000
    assert section.endswith("&amp;\u2026")


async def test_email_goes_to_the_team_with_a_subject_that_cannot_add_headers(
    record: Record, smtp_server: SmtpServer, notify_config: Any
) -> None:
    settings = load_settings(notify_config(smtp=smtp_server))
    title = "DNS exfil\r\nBcc: attacker@evil.example\r\n\r\nfake body"
    incident = record.incidents.open(title, severity="P1", namespace="voicehive")
    notify_incident_event(record, settings, incident, "opened")
    report = await drain_outbox(record, settings)
    assert [a.channel for a in report.delivered] == ["email"], report.failed
    (envelope,) = smtp_server.sink.envelopes
    mail_from, recipients, _ = envelope
    assert mail_from == "warroom@example.com"
    assert recipients == ["security-team@example.com"]
    (message,) = smtp_server.sink.messages()
    assert message["Bcc"] is None
    assert message["To"] == "security-team@example.com"
    assert message["Subject"] == (
        f"[warroom][P1] {incident.id}: Incident opened: DNS exfil Bcc: attacker@evil.example "
        "fake body"
    )
    body = message.get_content()
    assert f"Incident:  {incident.id}" in body
    assert "Severity:  P1" in body
    assert message["Message-ID"].startswith("<warroom.")


async def test_email_uses_starttls_and_auth(
    record: Record, smtp_tls_server: SmtpServer, notify_config: Any
) -> None:
    settings = load_settings(notify_config(smtp=smtp_tls_server))
    assert settings.alerting.email is not None
    assert settings.alerting.email.starttls
    incident = record.incidents.open("Failed auth from unknown sources", severity="P1")
    notify_incident_event(record, settings, incident, "opened")
    report = await drain_outbox(record, settings)
    # The server refuses mail before STARTTLS and AUTH: delivery proves both happened.
    assert [a.channel for a in report.delivered] == ["email"], report.failed
    (message,) = smtp_tls_server.sink.messages()
    assert incident.id in message["Subject"]


async def test_a_wrong_smtp_password_is_given_up_without_showing_it(
    record: Record,
    smtp_tls_server: SmtpServer,
    notify_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(notify_config(smtp=smtp_tls_server))
    monkeypatch.setenv("WARROOM_SMTP_PASSWORD", "wrong-password-123456")
    incident = record.incidents.open("Failed auth", severity="P1")
    notify_incident_event(record, settings, incident, "opened")
    report = await drain_outbox(record, settings)
    (failure,) = report.failed
    assert failure.gave_up
    assert "535" in failure.detail
    assert "wrong-password-123456" not in json.dumps(report.to_dict())
    assert not smtp_tls_server.sink.envelopes


async def test_siem_gets_hec_events_with_the_token(
    record: Record, hec_receiver: ShapeReceiver, notify_config: Any, notify_secrets: NotifySecrets
) -> None:
    settings = load_settings(notify_config(hec=hec_receiver))
    incident = record.incidents.open("Suspicious egress", severity="P3", namespace="voicehive")
    notify_incident_event(record, settings, incident, "opened")
    notify_incident_event(
        record, settings, incident, "action-taken",
        {"action": "capture", "outcome": "succeeded", "action_id": "c1"},
    )  # fmt: skip
    report = await drain_outbox(record, settings)
    assert len(report.delivered) == 2, report.failed
    assert not hec_receiver.rejected
    first, second = hec_receiver.received
    assert first.headers["Authorization"] == f"Splunk {notify_secrets.hec_token}"
    assert first.body["host"] == "warroom-test"
    assert first.body["sourcetype"] == "warroom:incident"
    assert first.body["time"] == pytest.approx(incident.opened_at.timestamp())
    assert first.body["event"]["incident_id"] == incident.id
    assert first.body["event"]["event"] == "opened"
    assert second.body["event"]["details"]["action"] == "capture"


async def test_a_wrong_hec_token_is_a_permanent_failure(
    record: Record, hec_receiver: ShapeReceiver, notify_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = load_settings(notify_config(hec=hec_receiver))
    monkeypatch.setenv("WARROOM_SIEM_TOKEN", "not-the-token-0000")
    incident = record.incidents.open("Suspicious egress", severity="P3")
    notify_incident_event(record, settings, incident, "opened")
    (failure,) = (await drain_outbox(record, settings)).failed
    assert failure.gave_up
    assert "HTTP 403" in failure.detail
    (item,) = record.outbox.items()
    assert item.status == "failed"
    assert "HTTP 403" in (item.last_error or "")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_syslog_messages_are_rfc5424_and_cannot_be_forged(
    record: Record,
    syslog_listener: SyslogListener,
    notify_config: Any,
    transport: str,
) -> None:
    port = syslog_listener.udp_port if transport == "udp" else syslog_listener.tcp_port
    settings = load_settings(notify_config(syslog=f"{transport}://127.0.0.1:{port}"))
    title = "exfil\n<13>1 2026-01-01T00:00:00Z forged app - - - injected"
    namespace = 'ns"] [forged@1 x="y'
    incident = record.incidents.open(title, severity="P0", namespace=namespace)
    notify_incident_event(record, settings, incident, "opened")
    report = await drain_outbox(record, settings)
    assert [a.channel for a in report.delivered] == ["siem-syslog"], report.failed
    (raw,) = syslog_listener.wait_for(1)
    assert syslog_listener.transports == [transport]
    assert not syslog_listener.frame_errors
    message = parse_rfc5424(raw)
    assert message.pri == 16 * 8 + 2  # local0, critical
    assert (message.hostname, message.app, message.msgid) == ("warroom-test", "warroom", "opened")
    assert message.sd_id == "warroom@32473"
    assert message.params["incident_id"] == incident.id
    assert message.params["namespace"] == namespace  # escaped on the wire, intact when parsed
    event = json.loads(message.msg)
    assert event["title"] == title
    assert event["severity"] == "P0"
    assert b"\n" not in raw


async def test_escalate_uses_the_matrix_contact_methods(
    record: Record,
    pagerduty_receiver: ShapeReceiver,
    slack_receiver: ShapeReceiver,
    notify_config: Any,
) -> None:
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver, slack=slack_receiver))
    incident = record.incidents.open("Lateral movement", severity="P2")
    result = escalate(record, settings, incident, "security engineer", actor="ic")
    assert result.contact.primary == "John Doe"
    assert [q.channel for q in result.queued] == ["pagerduty", "slack"]
    assert result.manual == []
    network = escalate(record, settings, incident, "Network Engineer")
    assert [q.channel for q in network.queued] == ["pagerduty"]
    assert network.manual == ["phone Bob Johnson (then Alice Brown)"]
    manager = escalate(record, settings, incident, "Security Manager")
    assert manager.not_configured == ["email"]
    with pytest.raises(ValueError, match="no role 'CISO' in the escalation matrix"):
        escalate(record, settings, incident, "CISO")
    entries = record.timeline.for_incident(incident.id, kinds=("incident.escalated",))
    assert [e.data["role"] for e in entries] == ["Security Engineer", "Network Engineer",
                                                 "Security Manager"]  # fmt: skip
    await drain_outbox(record, settings)
    pages = pagerduty_receiver.bodies()
    assert [p["event_action"] for p in pages] == ["trigger", "trigger"]
    assert {p["dedup_key"] for p in pages} == {incident.id}
    assert pages[0]["payload"]["custom_details"]["event_role"] == "Security Engineer"
    (slack,) = slack_receiver.bodies()
    assert "Escalated to Security Engineer" in slack["blocks"][0]["text"]["text"]
    # Resolving now resolves the page the escalation opened.
    incident = record.incidents.update(incident.id, status="closed")
    notify_incident_event(record, settings, incident, "resolved")
    await drain_outbox(record, settings)
    assert pagerduty_receiver.bodies()[-1]["event_action"] == "resolve"


async def test_every_record_entry_goes_to_the_siem_once(
    record: Record,
    clock: FrozenClock,
    hec_receiver: ShapeReceiver,
    syslog_listener: SyslogListener,
    notify_config: Any,
) -> None:
    syslog = f"tcp://127.0.0.1:{syslog_listener.tcp_port}"
    settings = load_settings(notify_config(hec=hec_receiver, syslog=syslog, record_entries=True))
    incident = record.incidents.open("Egress to 203.0.113.9", severity="P2")
    record.timeline.add(incident.id, "note", 'hostile "] [x@1 a="b" \n<13>1 forged', actor="ic")
    report = await drain_outbox(record, settings)
    assert not report.failed
    entries = [e for e in record.timeline.for_incident(incident.id)
               if not e.kind.startswith("notification.")]  # fmt: skip
    assert [e.kind for e in entries] == ["incident.opened", "note"]
    records = [r.body for r in hec_receiver.received if r.body["sourcetype"] == "warroom:record"]
    assert [(b["event"]["seq"], b["event"]["kind"]) for b in records] == [
        (e.seq, e.kind) for e in entries
    ]
    assert records[1]["event"]["summary"] == 'hostile "] [x@1 a="b" \n<13>1 forged'
    assert hec_receiver.hec_requests == 1  # both entries in one request, as JSON lines
    messages = [parse_rfc5424(m) for m in syslog_listener.wait_for(3)]
    # ... and a checkpoint of the chain's head, an anchor kept outside the record.
    assert sorted(m.msgid for m in messages) == ["checkpoint", "record", "record"]
    messages = [m for m in messages if m.msgid == "record"]
    assert [(m.msgid, m.params["kind"]) for m in messages] == [
        ("record", "incident.opened"), ("record", "note"),
    ]  # fmt: skip
    assert json.loads(messages[1].msg)["summary"] == records[1]["event"]["summary"]

    # Deliveries are recorded as entries too, but never forwarded (that would never end).
    clock.advance(minutes=1)
    assert not (await drain_outbox(record, settings)).delivered
    record.timeline.add(incident.id, "note", "second note")
    report = await drain_outbox(record, settings)
    assert sorted((a.channel, a.event) for a in report.delivered) == [
        ("siem-hec", "record-entry"), ("siem-syslog", "record-entry"),
    ]  # fmt: skip


async def test_a_refused_batch_is_retried_event_by_event(
    record: Record, hec_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(hec=hec_receiver, record_entries=True))
    for n in range(3):
        record.incidents.open(f"incident {n}", severity="P3")
    hec_receiver.fail_next(400)
    report = await drain_outbox(record, settings)
    # Three entries and the checkpoint of the record's head, one request each.
    assert len(report.delivered) == 4
    assert not report.failed
    assert hec_receiver.hec_requests == 4


async def test_email_over_implicit_tls_checks_the_certificate(
    record: Record, clock: FrozenClock, smtps_server: SmtpServer, tmp_path: Path
) -> None:
    config = tmp_path / "smtps.toml"
    base = (
        f'[alerting.email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtps_server.port}\n'
        'ssl = true\nto = ["soc@example.com"]\n'
    )
    config.write_text(base)  # no ca_file: the self-signed certificate is not trusted
    incident = record.incidents.open("Service mesh mTLS failures", severity="P0")
    notify_incident_event(record, load_settings(config), incident, "opened")
    (failure,) = (await drain_outbox(record, load_settings(config))).failed
    assert "CERTIFICATE_VERIFY_FAILED" in failure.detail
    assert not failure.gave_up
    config.write_text(base + f'ca_file = "{smtps_server.ca_file}"\n')
    clock.advance(minutes=5)
    report = await drain_outbox(record, load_settings(config))
    assert [a.channel for a in report.delivered] == ["email"]
    (message,) = smtps_server.sink.messages()
    assert message["To"] == "soc@example.com"


async def test_email_refuses_to_send_in_clear_when_starttls_is_required(
    record: Record, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    config = tmp_path / "starttls.toml"
    config.write_text(
        f'[alerting.email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_server.port}\n'
        "starttls = true\n"
    )
    settings = load_settings(config)
    notify_incident_event(record, settings, record.incidents.open("x", severity="P1"), "opened")
    (failure,) = (await drain_outbox(record, settings)).failed
    assert "does not offer STARTTLS" in failure.detail
    assert not smtp_server.sink.envelopes
