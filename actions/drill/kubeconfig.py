"""Kubeconfig files pointing kubectl and the official client at the drill cluster.

The drill server takes no credentials, so the user entry is empty: no token
ever lands in the file, the record or a log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def build_kubeconfig(server_url: str, *, context: str = "warroom-drill",
                     namespace: str = "voicehive") -> dict[str, Any]:
    """The kubeconfig document for one server URL."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [{"name": context,
                      "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(path: Path, server_url: str, *, context: str = "warroom-drill",
                     namespace: str = "voicehive") -> Path:
    """Write the kubeconfig (mode 0600, as kubectl writes its own) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(build_kubeconfig(server_url, context=context, namespace=namespace),
                          sort_keys=False)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
