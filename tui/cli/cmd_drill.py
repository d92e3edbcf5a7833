"""`warroom drill [SCENARIO]`: the embedded drill cluster playing a scenario.

On a terminal it opens the war-room console on the drill cluster, which plays
on its own thread; the console reaches it through its kubeconfig, exactly as
it reaches a real cluster. `--serve-only` runs the cluster alone until
SIGINT/SIGTERM (the injects play; the cluster keeps serving after the last
one). `--no-console`, or output that is not a terminal, plays the scenario and
prints what happens line by line. At the end the drill is scored against the
newest drill incident opened in the record during the run, if there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, open_record
from tui.safe import safe_text

if TYPE_CHECKING:
    from actions.drill.drill_events import DrillEvent
    from actions.drill.session import DrillSession
    from actions.kube.cluster import ClusterOptions

DEFAULT_SCENARIO = "dns-exfiltration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenario",
        nargs="?",
        default=DEFAULT_SCENARIO,
        help=f"a built-in scenario's name (see `warroom scenarios`) or a YAML file; "
        f"default {DEFAULT_SCENARIO}",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="play the scenario X times faster (default 1)",
    )
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="run the cluster alone (injects playing) until interrupted",
    )
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="print what happens instead of opening the console (the default off a terminal)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        metavar="PATH",
        help="where to write the kubeconfig (default: a new file in the temp dir)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="the API server's port on 127.0.0.1 (default: a free one)",
    )


def run(args: argparse.Namespace) -> int:
    if args.kubeconfig_out:
        args.kubeconfig_out = Path(args.kubeconfig_out).expanduser()
    from actions.drill.player import MAX_SPEED
    from actions.drill.scenario import ScenarioError, load_scenario

    if not (0 < args.speed <= MAX_SPEED):
        raise UsageError(f"--speed must be more than 0 and at most {MAX_SPEED:g}")
    if not (0 <= args.port <= 65535):
        raise UsageError("--port must be between 0 and 65535")
    try:
        # A built-in is checked against the API schemas by the test suite and by the drill
        # cluster as it seeds: the command does not wait for a third check.
        scenario = load_scenario(args.scenario, trust_builtins=True)
    except ScenarioError as error:  # its problems quote the file: they may hold anything
        print(safe_text(f"warroom drill: {error}", multiline=True), file=sys.stderr)
        return EXIT_FAILED
    try:
        if args.serve_only or args.no_console or not (sys.stdin.isatty() and sys.stdout.isatty()):
            return asyncio.run(_drill(args, scenario))
        return _drill_in_console(args, scenario)
    except OSError as error:  # the port is taken, the kubeconfig folder is not writable
        print(safe_text(f"warroom drill: {error}"), file=sys.stderr)
        return EXIT_FAILED


async def _drill(args: argparse.Namespace, scenario) -> int:  # noqa: ANN001 - a Scenario
    from actions.drill.scenario import ScenarioError
    from actions.drill.session import DrillSession

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    kubeconfig = args.kubeconfig_out
    session = DrillSession(scenario, speed=args.speed, port=args.port, kubeconfig_path=kubeconfig)
    try:
        await session.start()
    except ScenarioError as error:
        print(safe_text(f"warroom drill: {error}", multiline=True), file=sys.stderr)
        await session.stop()
        return EXIT_FAILED
    started = session.clock.now()
    try:
        _announce(session)
        if args.serve_only:
            session.start_playing()
            await stop.wait()
        else:
            session.player.subscribe(_print_event)
            playing = session.start_playing()
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({playing, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            _print_score(args, session, started)
    finally:
        await session.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("drill cluster stopped", file=sys.stderr)
    return EXIT_OK


def _drill_in_console(args: argparse.Namespace, scenario) -> int:  # noqa: ANN001 - a Scenario
    """The console first, the drill's cluster once the console is on screen.

    Starting the cluster (its imports, the seeded objects, the API server) takes
    about a second of the one interpreter: the console's first paint does not wait
    for it. The console connects once it is up, as it would to any cluster.
    """
    from actions.drill.session import drill_settings, new_runtime_dir
    from tui.cli.cmd_act import load_settings
    from tui.cli.console import DrillInBackground, open_console
    from tui.services import SetupFailed

    # The console reads the drill's desired state and runs the drill's `hubble` (first on
    # PATH), as a user pointing warroom at the drill would (docs/scenarios.md).
    runtime_dir = new_runtime_dir()
    settings = drill_settings(load_settings(args), runtime_dir)
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{runtime_dir / 'bin'}{os.pathsep}{path}"
    drill = DrillInBackground(
        scenario, speed=args.speed, port=args.port, kubeconfig_path=args.kubeconfig_out,
        runtime_dir=runtime_dir,
    )

    def start() -> ClusterOptions:
        session = drill.start()
        from actions.kube.cluster import ClusterOptions

        return ClusterOptions(
            kubeconfig=str(session.kubeconfig_path), namespace=settings.cluster.namespace
        )

    async def start_off_the_loop() -> ClusterOptions:
        try:
            return await asyncio.to_thread(start)
        except Exception as error:  # the port is taken, the kubeconfig folder is not writable
            raise SetupFailed(str(error)) from error

    try:
        # The facilitator keys (pause, speed, inject, score) drive this drill through it.
        code = open_console(
            args, settings, mode="drill", options=start_off_the_loop, drill=drill
        )
    finally:
        drill.stop()
        os.environ["PATH"] = path
        shutil.rmtree(runtime_dir, ignore_errors=True)  # the session removes it, if it started
    if drill.session is None or drill.started_at is None:
        failure = drill.failure or "the drill did not start"
        print(safe_text(f"warroom drill: {failure}", multiline=True), file=sys.stderr)
        return EXIT_FAILED
    _print_score(args, drill.session, drill.started_at)
    return code


def _announce(session: DrillSession) -> None:
    scenario = session.scenario
    print(safe_text(f"drill: {scenario.name} ({scenario.incident_class}) - {scenario.title}"))
    print(f"API server:  {session.url}")
    print(safe_text(f"kubeconfig:  {session.kubeconfig_path}"))
    print(safe_text(f"  export KUBECONFIG={session.kubeconfig_path}"))
    if scenario.mesh == "istio":
        print(f"Prometheus:  {session.prometheus_url}")
    print(f"hubble:      export PATH={session.hubble_bin}:$PATH   (or [hubble] file = "
          f"{session.hubble_flows})")
    print(f"desired state: {session.desired_state}   ([policies] desired_state_file)")
    print("Press Ctrl-C to stop.", flush=True)


def _print_event(event: DrillEvent) -> None:
    minutes, seconds = divmod(int(event.at), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {event.kind:<10} {safe_text(event.summary)}", flush=True)


def _print_score(args: argparse.Namespace, session: DrillSession, started: datetime) -> None:
    """Score the newest drill incident opened since the drill started, if any."""
    from tui.drill_score import record_drill_score

    with contextlib.ExitStack() as stack:
        try:
            record = stack.enter_context(open_record(args))
        except Exception as error:  # no record is no score, not a failed drill
            print(safe_text(f"(no score: cannot open the record: {error})"))
            return
        candidates = [i for i in record.incidents.list() if i.drill and i.opened_at >= started]
        if not candidates:
            print(
                "(no score: no drill incident was opened in the record during the drill; "
                "open one with `warroom incidents open TITLE --drill`)"
            )
            return
        incident_id = candidates[-1].id
        score = session.score(record, incident_id)
        for line in score.lines():
            print(safe_text(line, multiline=True))
        # Kept in the record, so `warroom review` shows the same score later.
        clock_inject = session.scenario.first_clock_inject()
        clock_started_at = session.player.played.get(clock_inject.id) if clock_inject else None
        record_drill_score(record, incident_id, session.scenario, clock_started_at,
                           session.engine.observations, score)
