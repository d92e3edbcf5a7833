"""Private files are made in one place, `store.private`: 0600, O_EXCL|O_NOFOLLOW, folders 0700.

A second copy of those flags drifts (one forgets O_NOFOLLOW, another chmods a
folder it did not make), so no other module opens a file for creation itself.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CREATES_A_FILE = re.compile(r"\bO_CREAT\b|\bmkstemp\(|\bfchmod\(")
# A temporary file inside a TemporaryDirectory, for `ssl.load_cert_chain`, which reads
# only files: gone at once, never a file the user keeps.
TEMPORARY_ONLY = {"actions/drill/tls.py"}


def test_only_store_private_creates_files_with_their_own_flags() -> None:
    found = []
    for layer in ("actions", "store", "tui"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == "store/private.py" or name in TEMPORARY_ONLY:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if CREATES_A_FILE.search(line):
                    found.append(f"{name}:{number}: {line.strip()}")
    assert found == [], "create private files with store.private:\n" + "\n".join(found)
