"""`warroom scenarios [--json]`: the built-in drills with their class, severity and length."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_FAILED, EXIT_OK, print_json
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document (a list)")


def run(args: argparse.Namespace) -> int:
    from actions.drill.scenario import ScenarioError, load_builtins

    try:
        scenarios = load_builtins()
    except ScenarioError as error:  # a broken package: say which file and where
        print(safe_text(f"warroom scenarios: {error}", multiline=True), file=sys.stderr)
        return EXIT_FAILED
    summaries = [scenario.summary() for scenario in scenarios]
    if args.json:
        print_json(summaries)
        return EXIT_OK
    name_width = max(len(s["name"]) for s in summaries)
    print(f"{'NAME':<{name_width}}  CLASS  SEVERITY  LENGTH  MESH     TITLE")
    for s in summaries:
        minutes = f"{s['length_seconds'] / 60:g}m"
        print(safe_text(
            f"{s['name']:<{name_width}}  {s['class']:<5}  {s['severity']:<8}  {minutes:<6}  "
            f"{s['mesh']:<7}  {s['title']}"
        ))
    print("\nRun one with: warroom drill NAME [--speed X]   (default: dns-exfiltration)")
    return EXIT_OK
