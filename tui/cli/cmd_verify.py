"""`warroom verify [--json]`: check the record's audit chain; exit 1 naming the first bad entry."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_FAILED, EXIT_OK, db_path, print_json
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")


def run(args: argparse.Namespace) -> int:
    from store import Record, verify_chain

    path = db_path(args)
    if not path.exists():
        message = f"no record at {path}"
        if args.json:
            print_json({"ok": False, "error": message})
        else:
            print(safe_text(f"warroom verify: {message}"), file=sys.stderr)
        return EXIT_FAILED
    with Record.open(path) as record:
        result = verify_chain(record.conn)
    if args.json:
        print_json({"record": str(path), **result.to_dict()})
    elif result.ok:
        print(safe_text(f"{path}: intact, {result.entries} entries, head {result.head_hash}"))
    else:
        print(safe_text(f"{path}: TAMPERED: {result.problem}"), file=sys.stderr)
        print(
            f"the first {result.entries} entries are intact (up to {result.head_hash})",
            file=sys.stderr,
        )
    return EXIT_OK if result.ok else EXIT_FAILED
