"""Kubeconfig files pointing kubectl and the official client at the drill cluster.

The drill server wants a bearer token, new each run, which the user entry
carries, and serves TLS with a CA made for the run, which the cluster entry
carries (`certificate-authority-data`). The file is the credential, so it is
written as `store.private` writes every private file: 0600 (as kubectl writes
its own) in 0700 folders whatever the umask, never through a symlink, and never
over a file that warroom did not write (`--kubeconfig-out ~/.kube/config` must
not destroy the user's own). A file warroom wrote for an earlier drill starts
with `HEADER` and is replaced whole (a new file renamed over it).
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from store.private import create_private, private_folder, write_private

HEADER = "# Written by `warroom drill` for its drill cluster; the next drill may replace it.\n"
MAX_OWN_FILE_BYTES = 64 * 1024  # ours are a few hundred bytes


class KubeconfigRefused(OSError):
    """The kubeconfig cannot be written there safely; the message says why and what to do."""


def build_kubeconfig(server_url: str, *, token: str, ca_pem: bytes | None = None,
                     context: str = "warroom-drill",
                     namespace: str = "voicehive") -> dict[str, Any]:
    """The kubeconfig document for one server URL, its CA (PEM) and its bearer token."""
    cluster: dict[str, Any] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context,
                      "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(path: Path, server_url: str, *, token: str, ca_pem: bytes | None = None,
                     context: str = "warroom-drill", namespace: str = "voicehive") -> Path:
    """Write the kubeconfig (mode 0600) and return its path; KubeconfigRefused when unsafe."""
    path = Path(path)
    document = build_kubeconfig(server_url, token=token, ca_pem=ca_pem, context=context,
                                namespace=namespace)
    data = (HEADER + yaml.safe_dump(document, sort_keys=False)).encode("utf-8")
    private_folder(path.parent)
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        existing = None
    if existing is None:
        _create(path, data)
    elif stat.S_ISLNK(existing.st_mode):
        raise KubeconfigRefused(f"{path} is a symbolic link: the kubeconfig is not written "
                                "through one (name the file itself)")
    elif not stat.S_ISREG(existing.st_mode) or not _written_by_a_drill(path):
        raise KubeconfigRefused(f"{path} exists and is not a kubeconfig a drill wrote: "
                                "remove it or name another file")
    else:
        write_private(path, data)  # a new file renamed over it: the old one is never truncated
    return path


def _create(path: Path, data: bytes) -> None:
    # Exclusive: if anything (a symlink, a file) appeared since the check, fail instead.
    try:
        descriptor = create_private(path)
    except FileExistsError:
        raise KubeconfigRefused(f"{path} appeared while the drill was writing it: "
                                "not overwritten") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _written_by_a_drill(path: Path) -> bool:
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read(MAX_OWN_FILE_BYTES + 1)
    except OSError:
        return False
    return len(data) <= MAX_OWN_FILE_BYTES and data.startswith(HEADER.encode())
