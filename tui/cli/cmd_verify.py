"""`warroom verify [--anchor ENTRIES:HASH] [--json]`: check the whole record file, read-only.

Exit 0: intact (and holding every anchor given); 1: naming the first thing that
does not hold, or a file that cannot be verified (missing, not a record, newer).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, db_path, print_json
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--anchor",
        metavar="ENTRIES:HASH",
        action="append",
        default=[],
        help="a chain head kept outside the record (a report's, a notification's, the SIEM's "
        "checkpoint): fail unless the chain holds it at its place; may be repeated",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")


def run(args: argparse.Namespace) -> int:
    from store.errors import NotARecord, RecordError
    from store.record import (
        connect_readonly,
        refuse_what_is_not_a_record_file,
        unreadable_as_record_error,
    )
    from store.verify import Anchor, verify_chain

    try:
        anchors = [Anchor.parse(text) for text in args.anchor]
    except ValueError as error:
        raise UsageError(str(error)) from None
    path = db_path(args)
    if not path.exists():
        return _failed(args, path, f"no record at {path}")
    try:
        refuse_what_is_not_a_record_file(path)  # a folder, a device: said as such
    except NotARecord as error:
        return _failed(args, path, str(error))
    try:
        conn = connect_readonly(path)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA trusted_schema = OFF")
            with unreadable_as_record_error(path):
                conn.execute("BEGIN")  # one snapshot, even while another warroom records
                result = verify_chain(conn, anchors)
        finally:
            conn.close()
    except (RecordError, sqlite3.Error) as error:
        return _failed(args, path, str(error))
    if args.json:
        print_json({"record": str(path), **result.to_dict()})
    elif result.ok:
        held = f"; holds {len(anchors)} anchor(s)" if anchors else ""
        print(safe_text(f"{path}: intact, {result.entries} entries, head {result.head_hash}{held}"))
        print(f"keep this anchor elsewhere to find a later rollback: {result.head}")
    else:
        print(safe_text(f"{path}: TAMPERED: {result.problem}"), file=sys.stderr)
        if "entries" in result.checked:  # the chain was walked (not stopped at the schema)
            print(
                f"the first {result.entries} entries are intact (up to {result.head_hash})",
                file=sys.stderr,
            )
    return EXIT_OK if result.ok else EXIT_FAILED


def _failed(args: argparse.Namespace, path: object, message: str) -> int:
    if args.json:
        print_json({"record": str(path), "ok": False, "error": message})
    else:
        print(f"warroom verify: {safe_text(message)}", file=sys.stderr)
    return EXIT_FAILED
