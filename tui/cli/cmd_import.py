"""`warroom import FILE.db`: merge an exported incident into the record, after verifying it."""

from __future__ import annotations

import argparse
import sqlite3
import sys

from tui.cli.common import EXIT_FAILED, EXIT_OK, open_record, print_json
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.db", help="a file written by `warroom export`")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from store.transfer import TransferError, import_incident

    try:
        with open_record(args) as record:
            result = import_incident(record, args.file)
    except (TransferError, sqlite3.Error, RuntimeError) as error:
        if args.json:
            print_json({"ok": False, "error": str(error)})
        else:
            print(f"warroom import: {safe_text(error)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json({"ok": True, **result.to_dict()})
    else:
        alias = (
            f" (its ID in the export, {result.original_id}, is another incident "
            "here: kept as its alias)"
            if result.original_id
            else ""
        )
        print(safe_text(
            f"imported {result.incident_id}{alias} ({result.entries} entries) from "
            f"{result.path}; this record's chain: {result.head_entries} entries, "
            f"head {result.head_hash}"
        ))
    return EXIT_OK
