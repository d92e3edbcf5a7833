"""Delivery through failures: retries with backoff, permanent refusals, outages, restarts."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.config import load_settings
from actions.notify import drain_outbox, notify_incident_event, run_drainer
from store import Record
from tests.plugins.notify import NotifySecrets, ShapeReceiver
from tests.plugins.record import FrozenClock


def open_p1(record: Record, title: str = "Unauthorized inter-service traffic") -> Any:
    return record.incidents.open(title, severity="P1", namespace="voicehive")


async def test_a_500_is_retried_after_a_backoff_and_delivered_once(
    record: Record, clock: FrozenClock, pagerduty_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver))
    notify_incident_event(record, settings, open_p1(record), "opened")
    pagerduty_receiver.fail_next(500)
    report = await drain_outbox(record, settings, rng=random.Random(7))
    (failure,) = report.failed
    assert not failure.gave_up
    assert failure.detail.startswith("PagerDuty: HTTP 500")
    # First retry: base 30 s with equal jitter, so between 15 and 30 s from now.
    assert failure.retry_at is not None
    assert timedelta(seconds=15) <= failure.retry_at - clock.now <= timedelta(seconds=30)
    (item,) = report.queued
    assert item.attempts == 1
    assert item.last_error == failure.detail

    # Not due yet: a drain now sends nothing.
    assert not (await drain_outbox(record, settings)).delivered
    assert pagerduty_receiver.hits == 1
    clock.advance(seconds=31)
    report = await drain_outbox(record, settings)
    assert [a.channel for a in report.delivered] == ["pagerduty"]
    assert len(pagerduty_receiver.received) == 1
    (item,) = record.outbox.items()
    assert item.status == "delivered"
    assert item.attempts == 2
    assert item.last_error is None


async def test_backoff_grows_and_honours_retry_after(
    record: Record, clock: FrozenClock, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    notify_incident_event(record, settings, open_p1(record), "opened")
    waits = []
    for _ in range(4):
        slack_receiver.fail_next(503)
        (failure,) = (await drain_outbox(record, settings)).failed
        assert failure.retry_at is not None
        waits.append((failure.retry_at - clock.now).total_seconds())
        clock.now = failure.retry_at
    assert 15 <= waits[0] <= 30
    assert 30 <= waits[1] <= 60
    assert 60 <= waits[2] <= 120
    assert 120 <= waits[3] <= 240
    slack_receiver.fail_next(429, retry_after=900)
    (failure,) = (await drain_outbox(record, settings)).failed
    assert failure.retry_at is not None
    assert failure.retry_at - clock.now == timedelta(seconds=900)
    clock.now = failure.retry_at
    assert len((await drain_outbox(record, settings)).delivered) == 1
    assert len(slack_receiver.received) == 1


async def test_a_4xx_refusal_is_given_up_with_the_reason(
    record: Record, slack_receiver: ShapeReceiver, notify_config: Any,
    notify_secrets: NotifySecrets,
) -> None:  # fmt: skip
    settings = load_settings(notify_config(slack=slack_receiver))
    notify_incident_event(record, settings, open_p1(record), "opened")
    slack_receiver.fail_next(404)
    report = await drain_outbox(record, settings)
    (failure,) = report.failed
    assert failure.gave_up
    assert failure.detail.startswith("gave up: Slack webhook: HTTP 404")
    assert report.queued == []
    (item,) = record.outbox.items()
    assert item.status == "failed"
    assert item.last_error == failure.detail
    assert notify_secrets.slack_path not in json.dumps(report.to_dict())
    assert not (await drain_outbox(record, settings)).failed  # never tried again


async def test_timeouts_and_refused_connections_are_retried(
    record: Record, clock: FrozenClock, pagerduty_receiver: ShapeReceiver, notify_config: Any,
) -> None:  # fmt: skip
    settings = load_settings(notify_config(pagerduty=pagerduty_receiver, timeout=0.3))
    notify_incident_event(record, settings, open_p1(record), "opened")
    pagerduty_receiver.hang(1.0)
    (failure,) = (await drain_outbox(record, settings)).failed
    assert failure.detail.startswith("PagerDuty: timed out")
    assert not failure.gave_up
    pagerduty_receiver.hang(0)
    pagerduty_receiver.stop()
    clock.advance(minutes=5)
    (failure,) = (await drain_outbox(record, settings)).failed
    assert "ConnectError" in failure.detail
    assert not failure.gave_up
    pagerduty_receiver.start()
    clock.advance(minutes=5)
    assert len((await drain_outbox(record, settings)).delivered) == 1
    # The hung request may still have been answered late; PagerDuty folds it by dedup_key.
    assert {b["dedup_key"] for b in pagerduty_receiver.bodies()} == {record.incidents.list()[0].id}


async def test_a_missing_secret_waits_for_it_and_names_the_variable(
    record: Record, clock: FrozenClock, slack_receiver: ShapeReceiver, notify_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = load_settings(notify_config(slack=slack_receiver))
    monkeypatch.delenv("WARROOM_SLACK_WEBHOOK_URL")
    notify_incident_event(record, settings, open_p1(record), "opened")
    (failure,) = (await drain_outbox(record, settings)).failed
    assert "export WARROOM_SLACK_WEBHOOK_URL" in failure.detail
    assert not failure.gave_up
    monkeypatch.setenv("WARROOM_SLACK_WEBHOOK_URL", slack_receiver.url)
    clock.advance(minutes=1)
    assert len((await drain_outbox(record, settings)).delivered) == 1


async def test_a_secret_can_come_from_a_file(
    record: Record, tmp_path: Path, pagerduty_receiver: ShapeReceiver,
    notify_secrets: NotifySecrets,
) -> None:  # fmt: skip
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pd").write_text(notify_secrets.routing_key + "\n")
    config = tmp_path / "file-secret.toml"
    config.write_text(
        f'[alerting.pagerduty]\nevents_url = "{pagerduty_receiver.url}"\n'
        'routing_key_file = "secrets/pd"\n'
    )
    settings = load_settings(config)
    notify_incident_event(record, settings, open_p1(record), "opened")
    assert len((await drain_outbox(record, settings)).delivered) == 1
    assert pagerduty_receiver.bodies()[0]["routing_key"] == notify_secrets.routing_key


async def test_notifications_failing_past_the_patience_are_given_up(
    record: Record, clock: FrozenClock, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(
        notify_config(slack=slack_receiver, extra="[alerting.retry]\ngive_up_after_hours = 2\n")
    )
    notify_incident_event(record, settings, open_p1(record), "opened")
    slack_receiver.stop()
    report = await drain_outbox(record, settings)
    assert not report.failed[0].gave_up
    clock.advance(hours=2, seconds=1)
    (failure,) = (await drain_outbox(record, settings)).failed
    assert failure.gave_up
    assert failure.detail.startswith(
        "gave up after 2 attempts over 2 h: Slack webhook: ConnectError"
    )


async def test_a_failing_channel_keeps_its_order_and_others_carry_on(
    record: Record, clock: FrozenClock, slack_receiver: ShapeReceiver,
    pagerduty_receiver: ShapeReceiver, notify_config: Any,
) -> None:  # fmt: skip
    settings = load_settings(notify_config(slack=slack_receiver, pagerduty=pagerduty_receiver))
    incident = open_p1(record)
    notify_incident_event(record, settings, incident, "opened")
    incident = record.incidents.update(incident.id, phase="containment")
    notify_incident_event(record, settings, incident, "phase-changed", {"phase": "containment"})
    incident = record.incidents.update(incident.id, status="closed")
    notify_incident_event(record, settings, incident, "resolved")
    slack_receiver.fail_next(500)
    report = await drain_outbox(record, settings)
    assert [a.channel for a in report.delivered] == ["pagerduty", "pagerduty"]
    assert [a.event for a in report.failed] == ["opened"]
    assert [a.event for a in report.deferred] == ["phase-changed", "resolved"]
    clock.advance(minutes=2)
    report = await drain_outbox(record, settings)
    assert [a.event for a in report.delivered] == ["opened", "phase-changed", "resolved"]
    headers = [m["blocks"][0]["text"]["text"] for m in slack_receiver.bodies()]
    assert [h.split(": ", 1)[1] for h in headers] == [
        "Incident opened", "Phase changed to Containment", "Incident resolved",
    ]  # fmt: skip


async def test_two_drainers_at_once_send_each_notification_once(
    record_path: Path, clock: FrozenClock, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    with Record.open(record_path, clock=clock) as record:
        for n in range(6):
            notify_incident_event(record, settings, open_p1(record, f"incident {n}"), "opened")
    with Record.open(record_path, clock=clock) as one, Record.open(record_path, clock=clock) as two:
        reports = await asyncio.gather(drain_outbox(one, settings), drain_outbox(two, settings))
    assert sum(len(r.delivered) for r in reports) == 6
    titles = [m["blocks"][1]["text"]["text"] for m in slack_receiver.bodies()]
    assert sorted(titles) == sorted(f"*Incident:* incident {n}" for n in range(6))


async def test_an_outage_across_a_restart_loses_nothing_and_sends_nothing_twice(
    record_path: Path,
    clock: FrozenClock,
    pagerduty_receiver: ShapeReceiver,
    slack_receiver: ShapeReceiver,
    hec_receiver: ShapeReceiver,
    notify_config: Any,
) -> None:
    settings = load_settings(
        notify_config(
            pagerduty=pagerduty_receiver,
            slack=slack_receiver,
            hec=hec_receiver,
            record_entries=True,
        )
    )
    for receiver in (pagerduty_receiver, slack_receiver, hec_receiver):
        receiver.stop()
    expected: dict[str, list[str]] = {}
    with Record.open(record_path, clock=clock) as record:
        for n, severity in enumerate(("P0", "P1", "P2")):
            incident = record.incidents.open(f"outage test {n}", severity=severity)
            notify_incident_event(record, settings, incident, "opened")
            incident = record.incidents.update(incident.id, status="closed")
            notify_incident_event(record, settings, incident, "resolved")
            expected[incident.id] = ["opened", "resolved"]
        # P0 and P1 page (trigger + resolve); every incident goes to Slack and the SIEM.
        assert len(record.outbox.items()) == 2 * 2 + 3 * 2 + 3 * 2
        entries = record.query("SELECT seq FROM timeline ORDER BY seq")
        for _ in range(3):  # the outage: every drain fails, nothing is lost
            report = await drain_outbox(record, settings)
            assert not report.delivered
            # ... and the record's entries joined the queue for the SIEM, with one
            # checkpoint of its head (nothing changed after it: no second one).
            assert len(report.queued) == 16 + len(entries) + 1
            clock.advance(minutes=10)
        queued = record.outbox.items()
    # warroom restarts; the receivers come back.
    for receiver in (pagerduty_receiver, slack_receiver, hec_receiver):
        receiver.start()
    clock.advance(hours=1)
    with Record.open(record_path, clock=clock) as record:
        report = await drain_outbox(record, settings)
        assert len(report.delivered) == len(queued)
        assert not report.failed
        assert not report.queued
        assert not (await drain_outbox(record, settings)).delivered
        items = record.outbox.items()
        assert {i.status for i in items} == {"delivered"}
        delivered_entries = record.query(
            "SELECT count(*) FROM timeline WHERE kind = 'notification.delivered'"
        )[0][0]
        assert delivered_entries == len(items)
    pages = [(b["dedup_key"], b["event_action"]) for b in pagerduty_receiver.bodies()]
    assert sorted(pages) == sorted(
        (i, action) for i in list(expected)[:2] for action in ("trigger", "resolve")
    )
    slack = [m["blocks"][0]["text"]["text"] for m in slack_receiver.bodies()]
    assert len(slack) == len(set(slack)) == 6
    hec = [
        (r.body["event"]["incident_id"], r.body["event"]["event"])
        for r in hec_receiver.received
        if r.body["sourcetype"] == "warroom:incident"
    ]
    assert sorted(hec) == sorted((i, e) for i, events in expected.items() for e in events)
    forwarded = [
        r.body["event"]["seq"]
        for r in hec_receiver.received
        if r.body["sourcetype"] == "warroom:record"
    ]
    assert sorted(forwarded) == [row[0] for row in entries]
    # Sent in batches (JSON lines), not one request per event.
    assert hec_receiver.hec_requests < len(hec_receiver.received)


async def test_the_background_drainer_sends_until_stopped(
    record: Record, slack_receiver: ShapeReceiver, notify_config: Any
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    notify_incident_event(record, settings, open_p1(record), "opened")
    stop, delivered = asyncio.Event(), asyncio.Event()
    reports: list[Any] = []

    def on_report(report: Any) -> None:
        reports.append(report)
        if report.delivered:
            delivered.set()

    task = asyncio.create_task(
        run_drainer(record, settings, stop, interval=0.05, on_report=on_report)
    )
    await asyncio.wait_for(delivered.wait(), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [a.channel for r in reports for a in r.delivered] == ["slack"]
    assert len(slack_receiver.received) == 1


async def test_a_channel_that_is_down_does_not_hold_back_the_others(
    record: Record, slack_receiver: ShapeReceiver, hec_receiver: ShapeReceiver,
    notify_config: Any,
) -> None:  # fmt: skip
    # More SIEM items than one claim round (100) come first in the outbox ...
    siem_only = load_settings(notify_config(hec=hec_receiver))
    for n in range(101):
        notify_incident_event(
            record, siem_only, record.incidents.open(f"incident {n}", severity="P3"), "opened"
        )
    settings = load_settings(notify_config(slack=slack_receiver, hec=hec_receiver))
    late = record.incidents.open("the one that matters", severity="P0")
    notify_incident_event(record, settings, late, "opened")
    # ... and the SIEM is down: Slack still gets its message in the same drain.
    hec_receiver.stop()
    report = await drain_outbox(record, settings)
    assert [(a.channel, a.incident_id) for a in report.delivered] == [("slack", late.id)]
    assert len(report.failed) + len(report.deferred) == 102
