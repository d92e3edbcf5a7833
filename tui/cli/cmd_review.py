"""`warroom review [ID]`: a recorded incident in the console, read-only, with no cluster.

Needs only the SQLite file, so it runs on a reviewer's machine.
"""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_FAILED, EXIT_USAGE, db_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", nargs="?", metavar="ID", help="the incident (default: newest)")


def run(args: argparse.Namespace) -> int:
    from store import Record
    from tui.cli.cmd_act import load_settings
    from tui.cli.console import open_console

    path = db_path(args)
    if not path.exists():
        print(f"warroom review: no record at {path}", file=sys.stderr)
        return EXIT_FAILED
    with Record.open(path, readonly=True) as record:
        incidents = record.incidents.list()
        if args.incident and record.incidents.get(args.incident) is None:
            print(f"warroom review: no incident {args.incident} in {path}", file=sys.stderr)
            return EXIT_FAILED
    if not incidents:
        print(f"warroom review: {path} holds no incident", file=sys.stderr)
        return EXIT_FAILED
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "warroom review: the console needs a terminal; try `warroom report ID`", file=sys.stderr
        )
        return EXIT_USAGE
    incident_id = args.incident or incidents[-1].id
    return open_console(
        args, load_settings(args), mode="review", options=None, incident_id=incident_id
    )
