"""`warroom report ID [-o FILE] [--executive]`: the runbook's incident report, as markdown.

Without `-o` the report goes to stdout and the record is only read (it may be
a copy on another machine). With `-o` it also brings the alert rollup up to
date (`store.alert_summary`). With `-o` the file is written whole or not at all,
and the record gets a chained `report.saved` entry with the file's SHA-256, as
the console's `s` saves it. Saving is not sending: no reporting clock stops.
Recording the report as issued, once it reached its readers, stays a
deliberate act (`m` on the console's report screen).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    RecordUnavailable,
    open_existing_record,
    output_file,
)
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", metavar="ID", help="the incident, e.g. NSI-2026-03-14-001")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the report to FILE (a folder: incident-ID.md in it) and record it as "
        "saved (not as issued: that is `m` on the console's report screen, once it was sent)",
    )
    parser.add_argument(
        "--executive",
        action="store_true",
        help="the executive summary (due within 24 h for P0/P1) instead of the detailed report",
    )


def run(args: argparse.Namespace) -> int:
    from store import UnknownIncident
    from store.alert_summary import refresh_rollup
    from store.report.render import render_executive, render_report
    from tui.report_file import default_report_path, save_report

    render = render_executive if args.executive else render_report
    try:
        with open_existing_record(args, readonly=args.output is None) as record:
            if args.output is None:
                sys.stdout.write(safe_text(render(record, args.incident), multiline=True))
                return EXIT_OK
            refresh_rollup(record)  # it may write: keep the next report fast too
            try:
                saved = save_report(
                    record,
                    args.incident,
                    args.executive,
                    output_file(args.output, default_report_path(args.incident,
                                                                 args.executive).name),
                    actor=_actor(),
                    readonly=False,
                )
            except OSError as error:
                print(safe_text(f"warroom report: cannot write {args.output}: {error}"),
                      file=sys.stderr)
                return EXIT_FAILED
    except (RecordUnavailable, UnknownIncident) as error:
        print(f"warroom report: {safe_text(error)}", file=sys.stderr)
        return EXIT_FAILED
    print(
        safe_text(f"wrote {saved.path} ({saved.size} bytes, sha256 {saved.sha256}); "
                  "recorded as saved, not as issued"),
        file=sys.stderr,
    )
    return EXIT_OK


def _actor() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container
        return None
