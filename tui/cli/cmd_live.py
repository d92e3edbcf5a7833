"""`warroom live [cluster options]`: the war-room console on a real cluster."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tui.cli.cmd_act import add_cluster_options

    parser.add_argument(
        "--incident", metavar="ID", help="show this incident (default: the open one)"
    )
    add_cluster_options(parser)


def run(args: argparse.Namespace) -> int:
    from tui.cli.cmd_act import cluster_options, load_settings
    from tui.cli.console import open_console

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "warroom live: the console needs a terminal; for a background recorder use "
            "`warroom watch`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    settings = load_settings(args)
    return open_console(
        args,
        settings,
        mode="live",
        options=cluster_options(args, settings),
        incident_id=args.incident,
    )
