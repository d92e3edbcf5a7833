"""Action-layer fixtures: the official client connected to the drill cluster, and the runbook.

- `cluster`: an `actions.kube.cluster.Cluster` (kubernetes.aio over HTTP) for `drill_server`,
  connected through a kubeconfig in tmp_path, namespace voicehive.
- `runbook`: `RunbookActions` on that cluster and the `record` fixture, actor "tester".
- `closed_port_kubeconfig`: a kubeconfig pointing at a local port nobody listens on.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from actions.drill.apiserver.cluster_state import ClusterState
from actions.drill.kubeconfig import write_kubeconfig
from actions.drill.server import DrillServerThread
from actions.kube.cluster import Cluster, ClusterOptions, connect
from actions.runbook import RunbookActions
from store import Record


@pytest.fixture
async def cluster(drill_kubeconfig: Path) -> AsyncIterator[Cluster]:
    connected = await connect(ClusterOptions(kubeconfig=str(drill_kubeconfig), timeout=5.0))
    async with connected:
        yield connected


@pytest.fixture
def runbook(record: Record, cluster: Cluster) -> RunbookActions:
    return RunbookActions(record, cluster, actor="tester")


def closed_port() -> int:
    """A local port that was free a moment ago and has no listener."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def closed_port_kubeconfig(tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "closed" / "kubeconfig", f"http://127.0.0.1:{closed_port()}",
                            token="unused")


__all__ = ["DrillServerThread", "closed_port", "stored"]


def stored(
    state: ClusterState, api_version: str, kind: str, namespace: str | None, name: str
) -> dict[str, Any]:
    """The drill cluster's object, which the test expects to exist."""
    found = state.get(api_version, kind, namespace, name)
    assert found is not None, f"{kind} {name} is missing"
    return found
