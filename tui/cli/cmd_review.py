"""`warroom review [ID] [--at TIME] [--speed N]`: a recorded incident in the console, read-only.

Needs only the SQLite file, so it runs on a reviewer's machine. Opens at the
end of the recording (the whole incident), paused; `--at +5m` starts the
replay five minutes after detection, playing at `--speed` (default 1x).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from tui.cli.common import EXIT_FAILED, EXIT_USAGE, db_path, open_existing_record
from tui.safe import safe_text

if TYPE_CHECKING:
    from actions.config import Settings


def _speed(text: str) -> float:
    try:
        speed = float(text.rstrip("xX"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed: {text!r} (try 10 or 60x)") from None
    if not 0 < speed <= 100_000:
        raise argparse.ArgumentTypeError(f"a speed above 0, up to 100000, not {text!r}")
    return speed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", nargs="?", metavar="ID", help="the incident (default: newest)")
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="start the replay here: +12m or +1h5m after detection (before it: -2m), "
        "09:42 (UTC), an ISO time; a time out of range is refused",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=None,
        metavar="N",
        help="replay speed, times real time (1, 2, 5, 10, 30, 60, 300...; default 1)",
    )


def run(args: argparse.Namespace) -> int:
    from store.replay import scope
    from tui.cli.cmd_act import load_settings
    from tui.replay import BadMoment, parse_moment

    path = db_path(args)
    with open_existing_record(args, readonly=True) as record:
        incidents = record.incidents.list()
        if not incidents:
            print(safe_text(f"warroom review: {path} holds no incident"), file=sys.stderr)
            return EXIT_FAILED
        incident = record.incidents.get(args.incident) if args.incident else incidents[-1]
        if incident is None:
            print(safe_text(f"warroom review: no incident {args.incident} in {path}"),
                  file=sys.stderr)
            return EXIT_FAILED
        view = scope(record, incident)
    start_at = None
    if args.at is not None:
        try:
            start_at = parse_moment(args.at, view.start, view.last)
        except BadMoment as error:
            print(safe_text(f"warroom review: --at: {error}"), file=sys.stderr)
            return EXIT_USAGE
        if start_at is not None:
            start_at = view.clamp(start_at)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "warroom review: the console needs a terminal; try `warroom report ID`", file=sys.stderr
        )
        return EXIT_USAGE
    return _open(args, load_settings(args), incident.id, start_at, args.speed)


def _open(
    args: argparse.Namespace,
    settings: Settings,
    incident_id: str,
    at: datetime | None,
    speed: float | None,
) -> int:
    """The console over the record opened read-only, its clock the replay clock."""
    from actions.runtime import ConsoleRuntime
    from tui.app import ConsoleCrashed, run_console
    from tui.cli.console import console_services, said_crash
    from tui.replay import ReplayClock

    path = db_path(args)
    try:
        with ConsoleRuntime.open(path, readonly=True) as runtime:
            record = runtime.record
            services, _setup = console_services(
                record, None, settings, mode="review", options=None, incident_id=incident_id
            )
            services.runtime = runtime
            clock = ReplayClock(record.clock, at=at, speed=speed or 1, playing=at is not None)
            return run_console(services, settings, clock=clock)
    except ConsoleCrashed as crashed:
        return said_crash(crashed, path)
