"""The audit chain: how an entry is hashed and linked to the one before it.

An entry's content hash is SHA-256 over its canonical JSON: the table name and
every non-NULL content column, keys sorted, no whitespace, UTF-8, with a BLOB
standing in as the hex SHA-256 of its bytes. Its link hash is SHA-256 over the
previous entry's hash, its position and its content hash. Editing, deleting,
inserting or reordering any entry breaks the link of that entry or the next.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

GENESIS = "0" * 64


def canonical_json(table: str, content: Mapping[str, object]) -> str:
    document: dict[str, object] = {"table": table}
    for key, value in content.items():
        if value is None:
            continue
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = "sha256:" + hashlib.sha256(value).hexdigest()
        document[key] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(table: str, content: Mapping[str, object]) -> str:
    encoded = canonical_json(table, content).encode("utf-8", "surrogatepass")
    return hashlib.sha256(encoded).hexdigest()


def link_hash(prev_hash: str, seq: int, content_sha: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{content_sha}".encode("ascii")).hexdigest()
