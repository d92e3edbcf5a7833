"""`warroom notify [--retry] [--json]`, and secrets kept out of the record, outputs and logs."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actions.config import load_settings
from actions.notify import drain_outbox, notify_incident_event
from actions.notify.drain import LEASE
from store import Record
from tests.plugins.notify import NotifySecrets, ShapeReceiver
from tests.plugins.record import FrozenClock
from tui.cli import cmd_notify
from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, add_record_options


def run_notify(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="warroom notify")
    add_record_options(parser)
    cmd_notify.add_arguments(parser)
    code = cmd_notify.run(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_notify_lists_then_retries_and_reports(
    record_path: Path,
    slack_receiver: ShapeReceiver,
    pagerduty_receiver: ShapeReceiver,
    notify_config: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The command uses the real clock; a tiny backoff makes the retry due at once.
    config = notify_config(
        slack=slack_receiver,
        pagerduty=pagerduty_receiver,
        extra="[alerting.retry]\nbase_seconds = 0.001\n",
    )
    settings = load_settings(config)
    with Record.open(record_path) as record:
        incident = record.incidents.open("Exfiltration over DNS", severity="P0")
        notify_incident_event(record, settings, incident, "opened")

    code, out, _ = run_notify(["--json"], capsys)
    listing = json.loads(out)
    assert code == EXIT_OK
    assert listing["channels"] == ["pagerduty", "slack"]
    assert [(i["channel"], i["status"]) for i in listing["items"]] == [
        ("pagerduty", "queued"), ("slack", "queued"),
    ]  # fmt: skip

    slack_receiver.fail_next(500)
    code, out, _ = await_free(run_notify, ["--retry", "--json"], capsys)
    report = json.loads(out)
    assert code == EXIT_FAILED
    assert [d["channel"] for d in report["delivered"]] == ["pagerduty"]
    assert [(f["channel"], f["gave_up"]) for f in report["failed"]] == [("slack", False)]
    assert [q["channel"] for q in report["queued"]] == ["slack"]

    code, out, _ = run_notify([], capsys)
    assert code == EXIT_OK
    assert "channels: pagerduty, slack" in out
    assert "delivered pagerduty" in " ".join(out.split())
    assert "last error: Slack webhook: HTTP 500" in out

    code, out, _ = await_free(run_notify, ["--retry", "--config", str(config)], capsys)
    assert code == EXIT_OK
    assert "delivered" in out
    assert "1 delivered, 0 failed, 0 still queued" in out


def await_free(function: Any, *args: Any) -> Any:
    """Run a command that starts its own event loop from inside an async test."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def test_a_bad_config_is_a_usage_error(tmp_path: Path, record_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    bad = tmp_path / "bad.toml"
    bad.write_text('[alerting.slack]\nwebhook_url = "https://hooks.slack.com/services/x"\n')
    with pytest.raises(UsageError, match="alerting.slack.webhook_url") as caught:
        run_notify(["--config", str(bad)], capsys)
    assert "hooks.slack.com" not in str(caught.value)


async def test_secrets_never_reach_the_record_outputs_or_logs(
    record_path: Path,
    clock: FrozenClock,
    slack_receiver: ShapeReceiver,
    pagerduty_receiver: ShapeReceiver,
    hec_receiver: ShapeReceiver,
    notify_config: Any,
    notify_secrets: NotifySecrets,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = load_settings(
        notify_config(slack=slack_receiver, pagerduty=pagerduty_receiver, hec=hec_receiver)
    )
    outputs = []
    with Record.open(record_path, clock=clock) as record:
        incident = record.incidents.open("Routing key leak attempt", severity="P1")
        notify_incident_event(record, settings, incident, "opened")
        # Failures whose answers echo the request (routing key, token) must be scrubbed.
        for receiver in (pagerduty_receiver, slack_receiver, hec_receiver):
            receiver.fail_next(500)
        outputs.append(json.dumps((await drain_outbox(record, settings)).to_dict()))
        pagerduty_receiver.fail_next(400)  # permanent: its error is kept in the record
        slack_receiver.stop()  # refused: httpx's error would name the webhook URL
        clock.advance(hours=1)
        outputs.append(json.dumps((await drain_outbox(record, settings)).to_dict()))
        slack_receiver.start()
        clock.advance(hours=1)
        outputs.append(json.dumps((await drain_outbox(record, settings)).to_dict()))
        statuses = sorted(i.status for i in record.outbox.items())
    assert statuses == ["delivered", "delivered", "failed"]
    for argv in ([], ["--json"], ["--retry", "--json"]):
        outputs.append("".join(await_free(run_notify, argv, capsys)[1:]))
    assert any("PagerDuty: HTTP 500" in o for o in outputs)
    assert any("ConnectError" in o for o in outputs)

    stored = b"".join(p.read_bytes() for p in record_path.parent.glob(record_path.name + "*"))
    for secret in notify_secrets.all():
        assert secret.encode() not in stored
        for text in [*outputs, caplog.text]:
            assert secret not in text


def test_config_and_notify_never_import_the_console() -> None:
    # Not "rich": httpx's own command-line module imports it whenever it is installed.
    code = (
        "import sys, actions.config, actions.notify, tui.cli.cmd_notify; "
        "bad = [m for m in ('textual', 'kubernetes') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_retry_sends_at_once_what_waits_for_its_backoff(
    record_path: Path,
    slack_receiver: ShapeReceiver,
    notify_config: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The default backoff: the failed message would wait 15-30 s for its next try.
    config = notify_config(slack=slack_receiver)
    settings = load_settings(config)
    with Record.open(record_path) as record:
        incident = record.incidents.open("Beaconing", severity="P1")
        notify_incident_event(record, settings, incident, "opened")
    slack_receiver.fail_next(500)
    code, out, _ = run_notify(["--retry", "--json"], capsys)
    assert code == EXIT_FAILED
    (failed,) = json.loads(out)["failed"]
    assert failed["retry_at"] is not None  # backing off
    # The operator fixed the channel: --retry drains it now, not at the backoff's time.
    code, out, _ = run_notify(["--retry", "--json"], capsys)
    assert code == EXIT_OK
    report = json.loads(out)
    assert ([d["channel"] for d in report["delivered"]], report["queued"]) == (["slack"], [])
    assert len(slack_receiver.received) == 1


async def test_retry_now_leaves_alone_what_another_warroom_is_sending(
    record: Record,
    clock: FrozenClock,
    slack_receiver: ShapeReceiver,
    notify_config: Any,
) -> None:
    settings = load_settings(notify_config(slack=slack_receiver))
    incident = record.incidents.open("Beaconing", severity="P1")
    notify_incident_event(record, settings, incident, "opened")
    (claimed,) = record.outbox.claim_due(lease=LEASE, now=clock.now)  # a second drainer's
    report = await drain_outbox(record, settings, now=clock.now, everything_now=True)
    assert (report.delivered, slack_receiver.received) == ([], [])
    assert record.outbox.get(claimed.id).status == "queued"
