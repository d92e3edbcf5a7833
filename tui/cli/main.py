"""The `warroom` command line: one argparse tree, one module per command.

Each command module (`tui/cli/cmd_<name>.py`) provides `add_arguments(parser)`
and `run(args) -> int`. Only the command being run has its module imported and its
arguments built (`CommandParser`), and modules keep their heavy imports (textual,
kubernetes, the drill server) inside `run`: `warroom verify` does not pay for the
console, nor `warroom drill` for fourteen other commands (its first frame waits for
everything imported before it).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any

from store.errors import RecordError
from tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_record_options,
    print_json,
    read_settings,
)
from tui.safe import safe_text

BEFORE_DETECTION = re.compile(r"-\d")  # a relative time before detection: -2m, -1h5m

# (command, module, one-line help). Order is the order `--help` lists them in.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("drill", "cmd_drill", "run a drill scenario on the embedded drill cluster"),
    ("live", "cmd_live", "the war-room console on a real cluster"),
    ("scenarios", "cmd_scenarios", "list the built-in drill scenarios"),
    ("ingest", "cmd_ingest", "record Falco output (JSON lines or text form)"),
    ("act", "cmd_act", "run one runbook action: previewed, confirmed, recorded"),
    ("status", "cmd_status", "mesh, NetworkPolicies and recent Warning events"),
    ("watch", "cmd_watch", "follow the live sources without the console, recording everything"),
    ("incidents", "cmd_incidents", "list incidents with what is due, or open one"),
    ("report", "cmd_report", "the incident report (markdown, the runbook's template)"),
    ("review", "cmd_review", "a recorded incident in the console, read-only"),
    ("verify", "cmd_verify", "check the record's audit chain"),
    ("metrics", "cmd_metrics", "MTTD, MTTC, MTTR and false-positive rate"),
    ("export", "cmd_export", "one incident into its own verifiable record file"),
    ("import", "cmd_import", "merge an exported incident into the record"),
    ("notify", "cmd_notify", "the alert channels' outbox: list it, or drain it now"),
)


def installed_version() -> str:
    """The installed distribution's version (its metadata), not a second copy of it here."""
    from importlib import metadata  # only for --version: it reads the installed packages

    try:
        return metadata.version("warroom")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """--version, as argparse's own, with the version read only when it is asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default,
                         help=help or "show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"warroom {installed_version()}")
        parser.exit()


class CommandParser(argparse.ArgumentParser):
    """A command's parser that takes its arguments from the command's module (`module`)
    when it is first used: to parse the command's arguments or to show its help."""

    def __init__(self, *args: Any, module: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module = module

    def load(self) -> CommandParser:
        """Import the command's module and add its arguments (once)."""
        if self._module:
            module, self._module = importlib.import_module(self._module), ""
            module.add_arguments(self)
            add_record_options(self, after_command=True)
            self.set_defaults(run=module.run)
        return self

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        return super(CommandParser, self.load()).parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        return super(CommandParser, self.load()).format_usage()

    def format_help(self) -> str:
        return super(CommandParser, self.load()).format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warroom",
        description="Terminal war-room console for network-security incidents on Kubernetes.",
    )
    parser.add_argument("--version", action=VersionAction)
    add_record_options(parser)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=CommandParser
    )
    for name, module_name, help_text in COMMANDS:
        commands.add_parser(name, help=help_text, description=help_text,
                            module=f"tui.cli.{module_name}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_times_before_detection_attached(
        sys.argv[1:] if argv is None else argv))
    try:
        _read_the_configuration(args)
        return int(args.run(args))
    except UsageError as error:
        print(safe_text(f"warroom {args.command}: {error}"), file=sys.stderr)
        return EXIT_USAGE
    except RecordError as error:
        # A record this warroom cannot use (a newer schema, not a record, a full disk):
        # the message says which and why, never a traceback.
        if getattr(args, "json", False):
            print_json({"ok": False, "error": str(error)})
        else:
            print(f"warroom {args.command}: {safe_text(error)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `warroom incidents | head`: the reader left; say nothing more.
        sys.stderr.close()
        return EXIT_OK


def _times_before_detection_attached(argv: Sequence[str]) -> list[str]:
    """`--at -2m` as `--at=-2m`: argparse takes a value that starts with a dash for an
    option, and `review --at -2m` (two minutes before detection) failed with "expected
    one argument"."""
    attached: list[str] = []
    for word in argv:
        if attached and attached[-1] == "--at" and BEFORE_DETECTION.match(word):
            attached[-1] = f"--at={word}"
        else:
            attached.append(word)
    return attached


def _read_the_configuration(args: argparse.Namespace) -> None:
    """Every command reads the configuration the same way, before it runs: a file that
    cannot be used stops it (exit 2) with the file, the key and what is allowed, before
    anything changes; `incidents open` too (it warned and exited 0, the tester found)."""
    read_settings(args)


if __name__ == "__main__":
    sys.exit(main())
