"""`warroom export ID -o FILE.db`: one incident and all its entries in a new, verifiable record."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    RecordUnavailable,
    open_existing_record,
    output_file,
    print_json,
)
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", metavar="ID", help="the incident to export")
    parser.add_argument(
        "-o", "--output", metavar="FILE.db", required=True,
        help="the new file (must not exist; a folder: incident-ID.db in it)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from store import UnknownIncident
    from store.transfer import TransferError, export_incident

    try:
        with open_existing_record(args, readonly=True) as record:
            result = export_incident(
                record, args.incident, output_file(args.output, f"incident-{args.incident}.db"))
    except (RecordUnavailable, UnknownIncident, TransferError) as error:
        if args.json:
            print_json({"ok": False, "error": str(error)})
        else:
            print(f"warroom export: {safe_text(error)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json({"ok": True, **result.to_dict()})
    else:
        print(safe_text(
            f"exported {result.incident_id} ({result.entries} entries) to {result.path}; "
            f"its chain: {result.head_entries} entries, head {result.head_hash}; "
            f"source record head {result.source_head}"
        ))
    return EXIT_OK
