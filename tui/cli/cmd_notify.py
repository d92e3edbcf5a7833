"""`warroom notify [--retry] [--json]`: the alert channels' outbox, listed or drained now.

`--retry` sends everything queued at once, backoff or not: it is what an operator
runs after fixing a channel (a notification another warroom is sending at that
very moment is left to it).
"""

from __future__ import annotations

import argparse
from typing import Any

from tui.cli.common import EXIT_FAILED, EXIT_OK, open_record, print_json, read_settings
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retry",
        action="store_true",
        help="send every queued notification now, also those waiting for their backoff "
        "(a channel was just fixed), then show what was delivered, what failed and what "
        "is still queued",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from actions.notify import drain_outbox, item_to_dict

    settings = read_settings(args)
    channels = _configured_channels(settings)
    with open_record(args) as record:
        if not args.retry:
            items = record.outbox.items()
            if args.json:
                print_json({"channels": channels, "items": [item_to_dict(i) for i in items]})
            else:
                _print_listing(channels, items)
            return EXIT_OK
        report = asyncio.run(drain_outbox(record, settings, everything_now=True))
    if args.json:
        print_json({"channels": channels, **report.to_dict()})
    else:
        _print_report(report)
    return EXIT_FAILED if report.failed else EXIT_OK


def _configured_channels(settings: Any) -> list[str]:
    alerting = settings.alerting
    names = []
    for name, section in (
        ("pagerduty", alerting.pagerduty),
        ("slack", alerting.slack),
        ("email", alerting.email),
    ):
        if section is not None and section.enabled:
            names.append(name)
    if alerting.siem is not None and alerting.siem.enabled:
        if alerting.siem.hec_url:
            names.append("siem-hec")
        if alerting.siem.syslog:
            names.append("siem-syslog")
    return names


def _print_listing(channels: list[str], items: list[Any]) -> None:
    print(f"channels: {', '.join(channels) or 'none configured'}")
    if not items:
        print("the outbox is empty")
        return
    for item in items:
        when = ""
        if item.status == "queued" and item.next_attempt_at:
            when = f" next try {item.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
        elif item.status == "delivered" and item.delivered_at:
            when = f" at {item.delivered_at:%Y-%m-%d %H:%M:%S}Z"
        print(safe_text(
            f"#{item.id:<5} {item.status:<9} {item.channel:<11} {item.event:<16} "
            f"{item.incident_id or '-'} attempts {item.attempts}{when}"
        ))
        if item.last_error and item.status != "delivered":
            print(safe_text(f"       last error: {item.last_error}"))  # a receiver's words


def _print_report(report: Any) -> None:
    # A detail is what a receiver answered: safe_text before it reaches the terminal.
    for attempt in report.delivered:
        print(safe_text(
            f"delivered #{attempt.outbox_id} {attempt.channel} {attempt.event}: {attempt.detail}"
        ))
    for attempt in report.failed:
        then = "gave up" if attempt.gave_up else f"retry at {attempt.retry_at:%Y-%m-%d %H:%M:%S}Z"
        print(safe_text(f"failed    #{attempt.outbox_id} {attempt.channel} {attempt.event} "
                        f"({then}): {attempt.detail}"))
    for attempt in report.deferred:
        print(safe_text(
            f"deferred  #{attempt.outbox_id} {attempt.channel} {attempt.event}: {attempt.detail}"
        ))
    print(
        f"{len(report.delivered)} delivered, {len(report.failed)} failed, "
        f"{len(report.queued)} still queued"
    )
