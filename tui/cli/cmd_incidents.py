"""`warroom incidents [--json]`: incidents with what is due; `incidents open TITLE` opens one."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from tui.cli.common import EXIT_OK, UsageError, open_record, print_json
from tui.safe import safe_text

SEVERITIES = ("P0", "P1", "P2", "P3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    commands = parser.add_subparsers(dest="incidents_command", metavar="open")
    opener = commands.add_parser("open", help="open an incident and print its ID")
    opener.add_argument("title", help="what is happening, in a few words")
    opener.add_argument(
        "--severity", choices=SEVERITIES, default="P2", help="runbook severity (default P2)"
    )
    opener.add_argument("--drill", action="store_true", help="a drill, kept apart in the metrics")
    opener.add_argument(
        "--data-breach",
        action="store_true",
        help="personal data is involved: starts the GDPR 72 h clock",
    )
    opener.add_argument("--commander", help="the incident commander's name")
    opener.add_argument(
        "--json", action="store_true", dest="open_json", help="print one JSON document"
    )


def run(args: argparse.Namespace) -> int:
    if args.incidents_command == "open":
        return _open(args)
    return _list(args)


def _open(args: argparse.Namespace) -> int:
    if not args.title.strip():
        raise UsageError("the title must not be empty")
    with open_record(args) as record:
        incident = record.incidents.open(
            args.title,
            severity=args.severity,
            drill=args.drill,
            commander=args.commander,
            data_breach=args.data_breach,
        )
        notifications = _notify_opened(args, record, incident)
    if args.json or args.open_json:
        print_json({**incident.to_dict(), "notifications": notifications})
    else:
        print(safe_text(incident.id))
    return EXIT_OK


def _notify_opened(args: argparse.Namespace, record: Any, incident: Any) -> dict[str, Any]:
    """Queue the channels' notifications, then try to deliver them at once.

    The incident is already recorded: a bad configuration or a channel that is
    down only leaves notifications queued for `warroom notify --retry`.
    """
    from actions.config import ConfigError, load_settings
    from actions.notify import drain_outbox, notify_incident_event

    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(
            safe_text(f"warroom: notifications not sent, the configuration is wrong: {error}"),
            file=sys.stderr,
        )
        return {"error": str(error)}
    queued = notify_incident_event(record, settings, incident, "opened")
    if not queued:
        return {"queued": 0}
    report = asyncio.run(drain_outbox(record, settings))
    summary = report.to_dict()
    if report.failed or report.queued:
        print(
            f"warroom: {len(report.delivered)} notifications sent, {len(report.failed)} failed, "
            f"{len(report.queued)} still queued: see `warroom notify`",
            file=sys.stderr,
        )
    return summary


def _next_due(dues: list[Any], now: Any) -> str:
    from store.deadlines import format_span

    for due in dues:
        if due.done or due.due_at is None:
            continue
        if due.overdue:
            return f"{due.label} OVERDUE by {format_span(now - due.due_at)}"
        return f"{due.label} in {format_span(due.due_at - now)}"
    return "-"


def _list(args: argparse.Namespace) -> int:
    from store.deadlines import due_for

    with open_record(args) as record:
        now = record.clock()
        incidents = [
            (incident, due_for(record, incident, now)) for incident in record.incidents.list()
        ]
    if args.json:
        print_json(
            {
                "incidents": [
                    {**incident.to_dict(), "due": [due.to_dict() for due in dues]}
                    for incident, dues in incidents
                ]
            }
        )
        return EXIT_OK
    if not incidents:
        print("no incidents recorded", file=sys.stderr)
        return EXIT_OK
    print(
        f"{'ID':<19} {'SEV':<3} {'STATUS':<9} {'PHASE':<15} {'DETECTED (UTC)':<16}  "
        f"{'NEXT DUE':<34} TITLE"
    )
    for incident, dues in incidents:
        detected = incident.detected_at.strftime("%Y-%m-%d %H:%M") if incident.detected_at else "-"
        drill = "[drill] " if incident.drill else ""
        line = (
            f"{incident.id:<19} {incident.severity:<3} {incident.status:<9} {incident.phase:<15} "
            f"{detected:<16}  {_next_due(dues, now):<34} {drill}{incident.title}"
        )
        print(safe_text(line))  # every field may come from an imported record
    return EXIT_OK
