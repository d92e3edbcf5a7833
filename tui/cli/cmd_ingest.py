"""`warroom ingest [FILE|-] [--incident ID] [--json]`: record Falco output, good and bad."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from store.wording import counted
from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, open_record, print_json
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="Falco output, JSON lines (json_output: true) or text form; '-' or none: stdin",
    )
    parser.add_argument("--incident", metavar="ID", help="attach the alerts to this incident")
    parser.add_argument(
        "--classification",
        metavar="FILE",
        type=Path,
        help="your own classification rules (TOML), tried before the shipped ones",
    )
    parser.add_argument("--json", action="store_true", help="print the counts as one JSON document")


def run(args: argparse.Namespace) -> int:
    from actions.falco.classify import Classifier
    from actions.falco.ingest import IngestFailed, ingest_stream

    try:
        Classifier.load(args.classification)  # a bad rules file is a usage error, before any work
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from error
    with open_record(args) as record:
        if args.incident and record.incidents.get(args.incident) is None:
            print(
                safe_text(f"warroom ingest: no incident {args.incident} in {record.path}"),
                file=sys.stderr,
            )
            return EXIT_FAILED
        try:
            stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
        except OSError as error:
            raise UsageError(f"cannot read {args.file}: {error.strerror}") from error
        head_before = record.head()[0]
        with stream:
            try:
                report = ingest_stream(
                    record,
                    stream,
                    classification_file=args.classification,
                    incident_id=args.incident,
                )
            except IngestFailed as failure:
                # Disk full, I/O error: say exactly how much of the input the record holds.
                if args.json:
                    print_json({"ok": False, "error": str(failure), **failure.report.to_dict()})
                else:
                    print(f"warroom ingest: {safe_text(failure)}", file=sys.stderr)
                return EXIT_FAILED
        rejected = first_rejected(record, head_before) if report.rejected else []
    if args.json:
        print_json({**report.to_dict(),
                    "first_rejected": [{"line": line, "reason": why} for line, why in rejected]})
        return EXIT_OK
    severities = ", ".join(f"{sev} {n}" for sev, n in sorted(report.by_severity.items()))
    print(safe_text(
        f"read {counted(report.read, 'line')}: {counted(report.accepted, 'alert')} recorded"
        + (f" ({severities})" if severities else "")
        + (f", {report.duplicates} already in the record" if report.duplicates else "")
        + (
            f", {report.rejected} not Falco alerts (kept raw in the record)"
            if report.rejected
            else ""
        )
        + (
            f", {report.rejected_duplicates} rejected lines already in the record"
            if report.rejected_duplicates
            else ""
        )
    ))
    for line, why in rejected:
        print(safe_text(f"  line {line}: {why}"))
    if report.rejected > len(rejected):
        print(f"  ... and {report.rejected - len(rejected)} more (the record keeps each line "
              "and why)")
    urgent = report.by_severity.get("P0", 0) + report.by_severity.get("P1", 0)
    if urgent and not args.incident:
        print(f"{urgent} P0/P1 alerts: open an incident with `warroom incidents open TITLE`")
    return EXIT_OK


FIRST_REJECTED = 5  # lines not recorded as alerts that ingest names, with why


def first_rejected(record: Any, after_seq: int) -> list[tuple[int | None, str]]:
    """(line, why) of the first lines this ingest kept raw instead of as alerts: the count
    alone left the user to open the SQLite file to learn what was wrong."""
    rows = record.query(
        "SELECT line_no, reason FROM rejected_inputs WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, FIRST_REJECTED))
    return [(row[0], str(row[1])) for row in rows]
