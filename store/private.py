"""Files holding incident data are their owner's alone: 0600, in 0700 folders, whatever the umask.

The record (and the WAL and shared-memory files SQLite creates beside it with
the record's own mode), exports, reports and kubeconfigs carry attackers' IPs,
pod names, captured evidence and credentials. A umask of 022 would make each
readable by every user of the machine, so every writer creates its files here:
the mode is set on the open descriptor, before a byte is written, and never
follows a symbolic link. Folders this module creates are 0700; folders that
already exist (the user's home, /tmp) are left as they are.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# Beside the record: SQLite's write-ahead log, its index, and the rollback journal.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_folder(path: str | Path) -> Path:
    """Create `path` and any missing parents, each new one 0700; returns the path."""
    path = Path(path)
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # made by someone else meanwhile: theirs, left as it is
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is cut by the umask
    return path


def create_private(path: str | Path, *, exclusive: bool = True) -> int:
    """Open `path` for writing as a new 0600 file; returns the descriptor.

    `exclusive`: fail (FileExistsError) when the path exists, so a file someone
    else made, or a symbolic link planted in its place, is never written through.
    Otherwise an existing regular file is truncated and made 0600; a symbolic
    link is still refused (OSError ELOOP).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def write_private(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all, as a 0600 file (replacing one that exists)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with os.fdopen(create_private(partial), "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def make_private(path: str | Path) -> None:
    """Tighten an existing file of ours to 0600 (a record made by an older warroom)."""
    try:
        mode = os.stat(path, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    # Only a regular file: a folder or a device named by mistake is not ours to change.
    if stat.S_ISREG(mode) and mode & 0o777 != FILE_MODE:
        try:
            os.chmod(path, FILE_MODE)
        except PermissionError:
            pass  # not ours: a reviewer's copy opened read-write; its owner decides


def prepare_record_file(path: str | Path) -> None:
    """Before SQLite opens `path` for writing: its folder made, the file 0600, and its
    companions too. SQLite gives the WAL and the journal the record's mode."""
    path = Path(path)
    if not path.parent.exists():
        private_folder(path.parent)
    if not path.exists():
        try:
            os.close(create_private(path))
        except FileExistsError:
            pass  # another process made it meanwhile
    for suffix in ("", *SQLITE_COMPANIONS):
        make_private(f"{path}{suffix}")
