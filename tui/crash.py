"""What the console leaves when it stops on an unexpected error: a log file and one message.

The commander needs to know three things once the terminal is back: that the
record is safe, where the details are, and what to do next. The details (the
traceback, without local variables) go to a log file under the platform state
dir, `$XDG_STATE_HOME/warroom/` (`~/.local/state/warroom/` by default), else
beside the record. Secrets never reach it: every value of a configured secret
(alert channels' keys, tokens, webhook URLs) and anything shaped like a bearer
token or a password in a URL is replaced with a marker.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import sys
import tempfile
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actions.config import (
    EmailSettings,
    PagerDutySettings,
    SecretRef,
    Settings,
    SiemSettings,
    SlackSettings,
)

if TYPE_CHECKING:
    from actions.notify.secrets import Scrubber

# The channels' Scrubber is imported when a log is written, not with the console: the
# package it lives in brings httpx and the senders (a third of a second at start-up).
REDACTED = "[redacted]"  # as actions.notify.secrets marks it

# Credentials a traceback can carry whatever the configuration says.
_CREDENTIALS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:token|password|passwd|secret|key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&]{4,}"),
    re.compile(r"(//[^/\s:@]+:)[^@\s/]+(@)"),  # https://user:password@host
)


def state_dir() -> Path:
    """`$XDG_STATE_HOME/warroom`, else `~/.local/state/warroom`."""
    home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(home) / "warroom"


def _secret_refs(value: Any) -> Iterator[SecretRef]:
    """Every SecretRef inside a settings dataclass, however deep."""
    if isinstance(value, SecretRef):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _secret_refs(getattr(value, field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _secret_refs(item)


def _default_refs() -> Iterator[SecretRef]:
    """The channels' default secret variables: set in the environment, used or not."""
    for channel in (PagerDutySettings, SlackSettings, EmailSettings, SiemSettings):
        for field in dataclasses.fields(channel):
            if isinstance(field.default, SecretRef):
                yield field.default


def _read(ref: SecretRef) -> str | None:
    if ref.file is not None:
        try:
            return ref.file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return os.environ.get(ref.env, "").strip() or None if ref.env else None


def scrubber_for(settings: Settings | None) -> Scrubber:
    """A Scrubber that knows every secret the configuration points at (read now)."""
    from actions.notify.secrets import Scrubber

    scrub = Scrubber()
    for ref in (*_secret_refs(settings), *_default_refs()):
        secret = _read(ref)
        if secret is None:
            continue
        if "://" in secret:
            scrub.add_url(secret)
        else:
            scrub.add(secret)
    return scrub


def scrubbed(text: str, settings: Settings | None) -> str:
    text = scrubber_for(settings)(text)
    for pattern in _CREDENTIALS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED + (
            match.group(2) if match.lastindex and match.lastindex > 1 else ""), text)
    return text


def write_crash_log(
    error: BaseException,
    *,
    settings: Settings | None,
    about: dict[str, str],
    record_path: Path | None = None,
) -> Path | None:
    """Write the traceback and `about` (mode, incident...) to a new log file; its path.

    Tried in order: the state dir, the record's folder, the temp dir. None when none
    of them takes a file (the message then says so).
    """
    now = datetime.now(UTC)
    lines = [
        f"warroom stopped on an unexpected error at {now.isoformat()}",
        *(f"{name}: {value}" for name, value in about.items()),
        f"python: {platform.python_version()} on {platform.platform()}",
        f"argv: {' '.join(sys.argv[1:])}",
        "",
        *traceback.format_exception(type(error), error, error.__traceback__),
    ]
    text = scrubbed("\n".join(line.rstrip("\n") for line in lines) + "\n", settings)
    name = f"crash-{now:%Y%m%dT%H%M%SZ}-{os.getpid()}.log"
    folders = [state_dir()]
    if record_path is not None:
        folders.append(record_path.parent)
    folders.append(Path(tempfile.gettempdir()))
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            with open(path, "x", encoding="utf-8") as handle:
                os.chmod(path, 0o600)  # a traceback is nobody else's business
                handle.write(text)
            return path
        except OSError:
            continue
    return None


def crash_message(error: BaseException, log: Path | None, record_path: Path | None) -> str:
    """What the commander reads once the terminal is back."""
    what = type(error).__name__
    where = f"the details are in {log}" if log else "no log file could be written"
    record = f" ({record_path})" if record_path else ""
    return (
        f"warroom: the console stopped on an unexpected error ({what}); {where}.\n"
        f"The record{record} is closed: every entry written before the error is kept; "
        "`warroom verify` checks it. Start the console again to carry on."
    )
