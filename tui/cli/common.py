"""What every command shares: exit codes, the record and config options, JSON output."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.errors import RecordError

if TYPE_CHECKING:
    from store import Record

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad arguments or input the user must fix; exits 2 with the message."""


def add_record_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """--db and --config: before the command (`warroom --config F incidents`) or after it
    (`warroom incidents --config F`), with one meaning. After the command, an option not
    given leaves the value given before it alone (SUPPRESS)."""
    unset = argparse.SUPPRESS if after_command else None
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=unset,
        help="the incident record (SQLite); default $WARROOM_DB, else the platform data dir",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=unset,
        help="configuration file (TOML); default $WARROOM_CONFIG, else the platform config dir",
    )


def read_settings(args: argparse.Namespace) -> Any:
    """The configuration every command reads, read once per run (main reads it before the
    command runs): --config, else $WARROOM_CONFIG, else the platform config dir. A file that
    cannot be used raises UsageError naming the file and the key."""
    if getattr(args, "settings", None) is not None:
        return args.settings
    from actions.config import ConfigError, load_settings

    try:
        args.settings = load_settings(Path(args.config) if getattr(args, "config", None) else None)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    return args.settings


def default_db_path() -> Path:
    """$WARROOM_DB, else $XDG_DATA_HOME/warroom/record.db (~/.local/share on Linux)."""
    if env := os.environ.get("WARROOM_DB"):
        return Path(env)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "warroom" / "record.db"


def db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else default_db_path()


class RecordUnavailable(RecordError):
    """The record file is missing or cannot be opened; the message says which and why.

    A RecordError: a command that does not catch it ends as main() ends any record
    error, with the message and exit 1 (`--json`: as a JSON error)."""


def open_existing_record(args: argparse.Namespace, *, readonly: bool) -> Record:
    """The record named by --db/$WARROOM_DB, which must already exist: commands that only
    read it say "no record at PATH" rather than create an empty one (or its folder)."""
    from store import Record
    from store.errors import RecordUnreadable

    path = db_path(args)
    if not path.is_file():
        folder = " (a folder)" if path.is_dir() else ""
        raise RecordUnavailable(f"no record at {path}{folder}")
    try:
        return Record.open(path, readonly=readonly)
    except RecordUnreadable as error:  # names the file and why already
        raise RecordUnavailable(str(error)) from None
    except sqlite3.Error as error:
        raise RecordUnavailable(f"cannot open the record {path}: {error}") from None


def open_record(args: argparse.Namespace) -> Record:
    """The record for writing, made (0600, in a 0700 folder) if there is none yet."""
    from store import Record

    return Record.open(db_path(args))


def print_json(document: Any) -> None:
    """`--json` prints exactly one JSON document on stdout.

    Controls, bidi and invisible characters in its strings are `\\u` escapes
    (`store.safe_text.json_text`): still the same values, nothing raw on a terminal.
    """
    from store.safe_text import json_text

    sys.stdout.write(json_text(document) + "\n")


def warn_unreadable(command: str, record: Any) -> None:
    """One line on stderr per record row the command skipped because no warroom writes
    it (`store.Record.unreadable`): the rest was shown, and this says what was not."""
    from tui.safe import safe_text

    for message in record.unreadable:
        print(safe_text(f"warroom {command}: {message}"), file=sys.stderr)


def output_file(given: str | Path, default_name: str) -> Path:
    """The file an `-o` names: `given`, or `default_name` inside it when it is a folder
    (an existing one, or one written with a trailing slash), as `cp FILE DIR/` does."""
    path = Path(given).expanduser()
    if path.is_dir() or str(given).endswith(("/", os.sep)):
        return path / default_name.replace("/", "_").replace(os.sep, "_")
    return path
