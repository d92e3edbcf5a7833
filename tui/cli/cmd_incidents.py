"""`warroom incidents [--json]` lists incidents; `warroom incidents open TITLE` opens one."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_OK, UsageError, open_record, print_json
from tui.safe import safe_text

SEVERITIES = ("P0", "P1", "P2", "P3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    commands = parser.add_subparsers(dest="incidents_command", metavar="open")
    opener = commands.add_parser("open", help="open an incident and print its ID")
    opener.add_argument("title", help="what is happening, in a few words")
    opener.add_argument("--severity", choices=SEVERITIES, default="P2", help="runbook severity (default P2)")
    opener.add_argument("--drill", action="store_true", help="a drill, kept apart in the metrics")
    opener.add_argument("--commander", help="the incident commander's name")
    opener.add_argument("--json", action="store_true", dest="open_json", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    if args.incidents_command == "open":
        return _open(args)
    return _list(args)


def _open(args: argparse.Namespace) -> int:
    if not args.title.strip():
        raise UsageError("the title must not be empty")
    with open_record(args) as record:
        incident = record.incidents.open(
            args.title, severity=args.severity, drill=args.drill, commander=args.commander
        )
    if args.json or args.open_json:
        print_json(incident.to_dict())
    else:
        print(incident.id)
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    with open_record(args) as record:
        incidents = record.incidents.list()
    if args.json:
        print_json({"incidents": [incident.to_dict() for incident in incidents]})
        return EXIT_OK
    if not incidents:
        print("no incidents recorded", file=sys.stderr)
        return EXIT_OK
    print(f"{'ID':<19} {'SEV':<3} {'STATUS':<9} {'PHASE':<15} {'DETECTED (UTC)':<16}  TITLE")
    for incident in incidents:
        detected = incident.detected_at.strftime("%Y-%m-%d %H:%M") if incident.detected_at else "-"
        drill = "[drill] " if incident.drill else ""
        print(
            f"{incident.id:<19} {incident.severity:<3} {incident.status:<9} {incident.phase:<15} "
            f"{detected:<16}  {drill}{safe_text(incident.title)}"
        )
    return EXIT_OK
