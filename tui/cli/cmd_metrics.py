"""`warroom metrics [--json] [--since DATE]`: MTTD, MTTC, MTTR, false-positive rate and trends."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    RecordUnavailable,
    UsageError,
    open_existing_record,
    print_json,
    warn_unreadable,
)
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="only incidents detected from DATE on (YYYY-MM-DD or ISO time; UTC unless given)",
    )


def parse_since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"--since {value!r} is not a date like 2026-01-31 or 2026-01-31T09:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    from store.metrics import compute, render_text

    since = parse_since(args.since) if args.since else None
    try:
        with open_existing_record(args, readonly=True) as record:
            metrics = compute(record, since=since)
        warn_unreadable("metrics", record)  # incidents no warroom writes are left out, and said
    except RecordUnavailable as error:
        if args.json:
            print_json({"ok": False, "error": str(error)})
        else:
            print(f"warroom metrics: {safe_text(error)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json(metrics.to_dict())
    else:
        sys.stdout.write(safe_text(render_text(metrics), multiline=True))
    return EXIT_OK
