"""`warroom drill [SCENARIO]`: the embedded drill cluster playing a scenario.

On a terminal it opens the war-room console on the drill cluster, which plays
on its own thread; the console reaches it through its kubeconfig, exactly as
it reaches a real cluster. `--serve-only` runs the cluster alone until
SIGINT/SIGTERM (the injects play; the cluster keeps serving after the last
one). `--no-console`, or output that is not a terminal, plays the scenario and
prints what happens line by line. At the end the drill is scored against the
newest drill incident opened in the record during the run, if there is one:
at the end of the scenario, and again when it is stopped.

Without the console the facilitator keeps its controls from another terminal,
through the drill's control socket (`actions/drill/control.py`):

    warroom drill control status|pause|resume|speed X|inject|score|stop [--control PATH]
    warroom drill control score --from alice.db --from bob.db   # a team, from their exports

`--listen ADDRESS` (with `--serve-only`) serves a team on other machines: the
API server listens on that one address instead of loopback, with the same TLS
and token, and the kubeconfig names it (docs/team-drills.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actions.drill.control_notes import Control, ControlNotes
from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, open_record, output_file, print_json
from tui.safe import safe_text

if TYPE_CHECKING:
    from actions.drill.control import ControlServer
    from actions.drill.drill_events import DrillEvent, Observation
    from actions.drill.scenario import Scenario
    from actions.drill.session import DrillSession
    from actions.kube.cluster import ClusterOptions

DEFAULT_SCENARIO = "dns-exfiltration"
CONTROL = "control"
CONTROL_WAIT = 10.0  # seconds for a control's answer
SCORE_WAIT = 300.0  # a team's exports are checked whole before they are scored
USAGE = """warroom drill [SCENARIO] [--speed X] [--serve-only] [--no-console] [--listen ADDRESS]
                     [--kubeconfig-out PATH] [--port N] [--control PATH]
       warroom drill control {status,pause,resume,speed X,inject,score,stop} [--control PATH]
                     [--from FILE.db ...] [--json]"""


class _ScenarioOrControl(argparse.Action):
    """`SCENARIO [options]`, or `control ...` for a running drill.

    argparse's sub-commands cannot sit beside an optional positional (`warroom drill`
    alone plays the default scenario), so this positional takes the rest of the line
    and parses it as a sub-command would: `control ...` with the control parser, the
    options after a scenario with the drill's own parser (which lands here again
    with nothing, or with a second positional, which is refused)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if not values:
            return
        first, rest = values[0], list(values[1:])
        if getattr(namespace, "scenario_given", False):
            parser.error(f"unrecognized arguments: {' '.join(values)}")
        namespace.scenario_given = True
        if first == CONTROL:
            namespace.drill_control = _control_parser().parse_args(rest)
            return
        setattr(namespace, self.dest, first)
        parser.parse_args(rest, namespace)


def _control_parser() -> argparse.ArgumentParser:
    from actions.drill.control import CONTROLS, ENV

    parser = argparse.ArgumentParser(
        prog="warroom drill control",
        description="Control a running drill (`warroom drill --serve-only` or --no-console) "
        "from another terminal: where it stands, pause, resume, its speed, the next inject "
        "now, the score (of a team, from their exports, with --from), stop.",
    )
    parser.add_argument("command", choices=CONTROLS, metavar="{" + ",".join(CONTROLS) + "}")
    parser.add_argument("value", nargs="?", metavar="X", help="speed: play X times faster")
    parser.add_argument(
        "--control", metavar="PATH",
        help=f"the drill's control socket (default ${ENV}, else the one the drill printed "
        "as its default)",
    )
    parser.add_argument(
        "--from", dest="exports", action="append", default=[], metavar="FILE.db",
        help="score: a participant's export (`warroom export ID -o NAME.db`), once per "
        "participant; the team is scored together, each by the file's name",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = USAGE
    parser.set_defaults(drill_control=None)
    parser.add_argument(
        "scenario",
        nargs=argparse.REMAINDER,
        action=_ScenarioOrControl,
        default=DEFAULT_SCENARIO,
        metavar="SCENARIO",
        help=f"a built-in scenario's name (see `warroom scenarios`) or a YAML file; "
        f"default {DEFAULT_SCENARIO}. `warroom drill control --help`: a running drill's "
        "controls",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="play the scenario X times faster, 0.5 to 60 (default 1)",
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
        help="the API server's port on 127.0.0.1 or the --listen address (default: a free one)",
    )
    parser.add_argument(
        "--listen",
        metavar="ADDRESS",
        help="a team drill (with --serve-only): listen on this IP address of this machine "
        "instead of loopback, for participants on other machines (TLS and the run's token "
        "as ever; the kubeconfig names the address)",
    )
    parser.add_argument(
        "--control",
        metavar="PATH",
        help="where the control socket goes, for `warroom drill control` (default "
        "$WARROOM_DRILL_CONTROL, else drill.sock in your runtime folder)",
    )


def run(args: argparse.Namespace) -> int:
    if args.drill_control is not None:
        return _control(args.drill_control)
    if args.listen is not None:
        from actions.drill.server import listen_address

        if not (args.serve_only or args.no_console):
            raise UsageError("--listen is for a team drill: add --serve-only")
        try:
            args.listen = listen_address(args.listen)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.kubeconfig_out:
        args.kubeconfig_out = output_file(args.kubeconfig_out, "kubeconfig")
    from actions.drill.scenarios import builtin_names
    from actions.drill.speeds import speed_problem

    if problem := speed_problem(args.speed):
        raise UsageError(f"--speed: {problem}")
    if not (0 <= args.port <= 65535):
        raise UsageError("--port must be between 0 and 65535")
    console = not (args.serve_only or args.no_console) and sys.stdin.isatty() \
        and sys.stdout.isatty()
    try:
        if console and args.scenario in builtin_names():
            # The drill's own thread reads it as its cluster starts, after the first frame.
            return _drill_in_console(args, args.scenario)
        from actions.drill.scenario import ScenarioError, load_scenario

        try:
            # A built-in is checked against the API schemas by the test suite and by the drill
            # cluster as it seeds: the command does not wait for a third check.
            with _signals_interrupt():
                scenario = load_scenario(args.scenario, trust_builtins=True)
        except ScenarioError as error:  # its problems quote the file: they may hold anything
            print(safe_text(f"warroom drill: {error}", multiline=True), file=sys.stderr)
            return EXIT_FAILED
        if console:
            return _drill_in_console(args, scenario)
        return asyncio.run(_drill(args, scenario))
    except OSError as error:  # the port is taken, the kubeconfig folder is not writable
        print(safe_text(f"warroom drill: {error}"), file=sys.stderr)
        return EXIT_FAILED


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT end `drill` at once while it loads and starts (exit 130).

    The event loop's handlers run only when the loop is free: a scenario that kept it
    busy while starting ignored both. Python's own handlers run between any two
    bytecodes of the main thread.
    """
    previous = {signum: signal.signal(signum, _interrupted)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def _drill(args: argparse.Namespace, scenario: Scenario) -> int:
    from actions.drill import drill_events as ev
    from actions.drill.control import ControlError
    from actions.drill.scenario import ScenarioError
    from actions.drill.session import DrillSession

    with open_record(args):  # a --db that is not a record is said now, not after the drill
        pass
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    kubeconfig = args.kubeconfig_out
    session = DrillSession(
        scenario, speed=args.speed, port=args.port, kubeconfig_path=kubeconfig,
        host=args.listen or "127.0.0.1", beyond_loopback=args.listen is not None,
    )
    control: ControlServer | None = None
    notes = ControlNotes()  # controls made before the drill's incident is open wait here
    try:
        with _signals_interrupt():  # the loop's own handlers wait for it to be free
            await session.start()
            started = session.clock.now()
            control = await _start_control(args, session, started, stop, notes)
    except (ScenarioError, ControlError) as error:
        print(safe_text(f"warroom drill: {error}", multiline=True), file=sys.stderr)
        await session.stop()
        return EXIT_FAILED
    except BaseException:  # SIGTERM or Ctrl-C while starting: what started stops
        if control is not None:
            await control.stop()
        await session.stop()
        raise
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    scored_at_end: set[asyncio.Future[None]] = set()

    def at_the_end(event: DrillEvent) -> None:
        # The scenario's own end (a stop comes only after `stop` is set): the score so far.
        if event.kind == ev.END and not stop.is_set():
            scored_at_end.add(asyncio.ensure_future(asyncio.to_thread(
                _print_score, args, session.scenario, started, *session.score_inputs(),
                keep=False, notes=notes, heading="The scenario has ended; the cluster serves "
                "on until Ctrl-C. The score so far:",
            )))

    try:
        _announce(session, control)
        if args.serve_only:
            session.player.subscribe(at_the_end)
            session.start_playing()
            await stop.wait()
        else:
            session.player.subscribe(_print_event)
            playing = session.start_playing()
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({playing, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if scored_at_end:
            await asyncio.wait(scored_at_end)
        if control is not None:
            await control.stop()  # no control call scores or changes it any more
        _print_score(args, session.scenario, started, *session.score_inputs(), keep=True,
                     notes=notes)
    finally:
        if control is not None:
            await control.stop()
        await session.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("drill cluster stopped", file=sys.stderr)
    return EXIT_OK


async def _start_control(args: argparse.Namespace, session: DrillSession, started: datetime,
                         stop: asyncio.Event, notes: ControlNotes) -> ControlServer:
    """The control socket: where --control says, else the default one; a second drill
    whose default is taken by a live one gets its own, in the drill's folder."""
    from actions.drill.control import (
        ENV,
        ControlError,
        ControlServer,
        DrillControls,
    )

    def score(exports: list[str], clock_started_at: datetime | None,
              observations: list[Observation]) -> dict[str, Any]:
        if exports:
            return _team_score(session.scenario, exports, clock_started_at, observations)
        lines = _score_lines(args, session.scenario, started, clock_started_at, observations,
                             keep=False, notes=notes)
        return {"lines": lines}

    def note(summary: str, data: dict[str, Any]) -> None:
        with open_record(args) as record:
            # Before the team opens the incident (its MTTD window) the control waits: it is
            # written on the incident at the next control or score, at its own time.
            notes.note(record, _drill_incident(record, started),
                       Control(record.clock(), _login(), summary, data))

    controls = DrillControls(session, score=score, stop=stop.set, note=note)
    server = ControlServer(controls.handle)
    chosen = args.control or os.environ.get(ENV)
    try:
        await server.start(Path(chosen) if chosen else _default_control())
    except ControlError:
        if chosen:
            raise
        await server.start(session.runtime_dir / "control.sock")
    return server


def _drill_incident(record: Any, started: datetime) -> str | None:
    """The drill's incident in the facilitator's record: the newest drill incident opened
    since the drill started (what the score scores and the controls are noted on)."""
    candidates = [i for i in record.incidents.list() if i.drill and i.opened_at >= started]
    return candidates[-1].id if candidates else None


def _login() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container
        return None


def _default_control() -> Path:
    from actions.drill.control import default_control_path

    return default_control_path()


def _team_score(scenario: Any, exports: Sequence[str], clock_started_at: datetime | None,
                observations: list[Observation]) -> dict[str, Any]:
    """The team's score from their exports (names: the files' names), or ControlError."""
    import tempfile

    from actions.drill.control import ControlError
    from actions.drill.team_score import TeamScoreError, score_team

    members = [(Path(export).stem, Path(export)) for export in exports]
    try:
        with tempfile.TemporaryDirectory(prefix="warroom-team-") as workdir:
            team = score_team(scenario, members, clock_started_at=clock_started_at,
                              observations=observations, workdir=Path(workdir))
    except TeamScoreError as error:
        raise ControlError(str(error)) from None
    return {"lines": team.lines(), "score": team.to_dict()}


def _control(control: argparse.Namespace) -> int:
    """`warroom drill control ...`: one request to the running drill, its answer printed."""
    from actions.drill.control import ControlError, send

    request: dict[str, Any] = {"control": control.command}
    if control.command == "speed":
        from actions.drill.speeds import speed_problem

        try:
            speed = float(control.value) if control.value is not None else None
        except ValueError:
            speed = None
        if problem := speed_problem(speed):
            raise UsageError(f"speed X: {problem}")
        request["speed"] = speed
    elif control.value is not None:
        raise UsageError(f"{control.command} takes no value")
    if control.exports and control.command != "score":
        raise UsageError("--from is for `score`")
    if control.exports:
        request["exports"] = [str(Path(e).expanduser().absolute()) for e in control.exports]
    path = Path(control.control) if control.control else _default_control()
    try:
        answer = asyncio.run(send(
            path, request, within=SCORE_WAIT if control.command == "score" else CONTROL_WAIT
        ))
    except ControlError as error:
        answer = {"ok": False, "error": str(error)}
    if control.json:
        print_json(answer)
    elif answer.get("ok"):
        lines = [answer.get("message") or "", *answer.get("lines", [])]
        if control.command != "score":
            lines += (answer.get("status") or {}).get("lines", [])
        for line in filter(None, lines):
            print(safe_text(str(line), multiline=True))
    else:
        print(safe_text(f"warroom drill control: {answer.get('error')}"), file=sys.stderr)
    return EXIT_OK if answer.get("ok") else EXIT_FAILED


def _drill_in_console(args: argparse.Namespace, scenario: Scenario | str) -> int:
    """The console first, the drill's cluster once the console is on screen (`scenario`:
    the scenario, or a built-in's name, read as the cluster starts).

    Starting the cluster (its imports, the seeded objects, the API server) takes
    about a second of the one interpreter: the console's first paint does not wait
    for it. The console connects once it is up, as it would to any cluster.
    """
    from tui import collector

    with collector.paused_until_first_screen():  # its imports too: see tui/collector.py
        from actions.drill.runtime_dir import drill_settings, new_runtime_dir
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
        session = drill.session
        _print_score(args, session.scenario, drill.started_at, *session.score_inputs(), keep=True)
        return code


def _announce(session: DrillSession, control: ControlServer | None) -> None:
    scenario = session.scenario
    print(safe_text(f"drill: {scenario.name} ({scenario.incident_class}) - {scenario.title}"))
    print(f"API server:  {session.url}")
    if session.server is not None and session.server.host not in ("127.0.0.1", "localhost"):
        print(f"  listening on {session.server.host}: whoever holds the kubeconfig reaches this "
              "cluster from that network; give it to the team only")
    print(safe_text(f"kubeconfig:  {session.kubeconfig_path}"))
    print(safe_text(f"  export KUBECONFIG={session.kubeconfig_path}"))
    if scenario.mesh == "istio":
        print(f"Prometheus:  {session.prometheus_url}")
    print(f"hubble:      export PATH={session.hubble_bin}:$PATH   (or [hubble] file = "
          f"{session.hubble_flows})")
    print(f"desired state: {session.desired_state}   ([policies] desired_state_file)")
    if control is not None and control.path is not None:
        named = "" if control.path == _default_control().absolute() else \
            f" --control {control.path}"
        print(safe_text(f"control:     {control.path}"))
        print(safe_text(f"  warroom drill control status|pause|resume|speed X|inject|score|stop"
                        f"{named}"))
    print("Press Ctrl-C to stop.", flush=True)


def _print_event(event: DrillEvent) -> None:
    minutes, seconds = divmod(int(event.at), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {event.kind:<10} {safe_text(event.summary)}", flush=True)


def _print_score(args: argparse.Namespace, scenario: Any, started: datetime,
                 clock_started_at: datetime | None, observations: Sequence[Observation], *,
                 keep: bool, heading: str = "", notes: ControlNotes | None = None) -> None:
    lines = _score_lines(args, scenario, started, clock_started_at, observations, keep=keep,
                         notes=notes)
    for line in filter(None, (heading, *lines)):
        print(safe_text(line, multiline=True), flush=True)


def _score_lines(args: argparse.Namespace, scenario: Any, started: datetime,
                 clock_started_at: datetime | None, observations: Sequence[Observation], *,
                 keep: bool, notes: ControlNotes | None = None) -> list[str]:
    """The score of the newest drill incident opened since the drill started, if any, as
    lines; `keep`: written in the record too (the drill's end), so review shows it later.
    `notes`: the controls still waiting for that incident, written on it first."""
    from actions.drill.score import score_drill
    from tui.drill_score import record_drill_score

    with contextlib.ExitStack() as stack:
        try:
            record = stack.enter_context(open_record(args))
        except Exception as error:  # no record is no score, not a failed drill
            return [f"(no score: cannot open the record: {error})"]
        incident_id = _drill_incident(record, started)
        if incident_id is None:
            return [
                "(no score: no drill incident was opened in the record during the drill; "
                "open one with `warroom incidents open TITLE --drill`, or score a team's "
                "exports with `warroom drill control score --from FILE.db ...`)"
            ]
        if notes is not None:
            notes.attach(record, incident_id)
        score = score_drill(scenario, record, incident_id, clock_started_at=clock_started_at,
                            observations=observations)
        if keep:
            record_drill_score(record, incident_id, scenario, clock_started_at, observations,
                               score)
        return score.lines()
