"""What `kubectl exec` asks of the drill and what it answers, without the HTTP side.

`ClusterState.exec_provider` maps an ExecRequest to an ExecResult (the scenario's
scripts, actions/drill/sim/exec_scripts.py); remote.py speaks the WebSocket protocol.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DRILL_LIMIT = "a limit of the warroom drill cluster"


@dataclass(frozen=True)
class ExecRequest:
    """One `kubectl exec`: the pod as stored, the container and the command's argv."""

    namespace: str
    pod: dict[str, Any]
    container: str
    command: tuple[str, ...]
    tty: bool
    # The drill's Prometheus (`state.metrics_provider`) and the time, for promtool.
    metrics: Callable[[str, float], Any] | None = None
    at: float = 0.0


@dataclass(frozen=True)
class ExecResult:
    """What the command printed and how it ended."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


def not_scripted(request: ExecRequest, scripted: list[str] | None = None) -> ExecResult:
    """The answer to a command no script covers: a clear message and exit code 1."""
    command = shlex.join(request.command)
    lines = [f"warroom drill: `{command}` is not scripted in this drill: the drill cluster "
             "runs no containers, it answers only the commands its scenario scripts"]
    if request.command and request.command[0] == "tar":
        lines.append("(kubectl cp copies with tar: copying files is " + DRILL_LIMIT + ")")
    if scripted:
        lines.append(f"scripted for {request.pod['metadata']['name']}: " + "; ".join(scripted))
    return ExecResult(stderr="\n".join(lines) + "\n", exit_code=1)


def exit_status(result: ExecResult, request: ExecRequest) -> dict[str, Any]:
    """The error channel's Status (v4/v5), as the kubelet writes it."""
    if result.exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"{list(request.command)}, exit code {result.exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(result.exit_code)}]}}
