"""The `warroom` command line: one argparse tree, one module per command.

Each command module (`tui/cli/cmd_<name>.py`) provides `add_arguments(parser)`
and `run(args) -> int`. Modules keep their heavy imports (textual, kubernetes,
the drill server) inside `run`, so `warroom verify` does not pay for the console.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib import metadata

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
    try:
        return metadata.version("warroom")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warroom",
        description="Terminal war-room console for network-security incidents on Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"warroom {installed_version()}")
    add_record_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(f"tui.cli.{module_name}")
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        add_record_options(sub, after_command=True)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


def _read_the_configuration(args: argparse.Namespace) -> None:
    """Every command reads the configuration the same way, before it runs: a file that
    cannot be used stops it with the file, the key and what is allowed. A command that
    records an incident's change (`incidents open`...) sets `records_despite_bad_config`:
    the change is recorded anyway, and its notifications wait (the command says so)."""
    try:
        read_settings(args)
    except UsageError:
        if not getattr(args, "records_despite_bad_config", False):
            raise


if __name__ == "__main__":
    sys.exit(main())
