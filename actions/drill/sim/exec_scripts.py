"""The scenario's `exec:` scripts answering `kubectl exec` in the drill cluster.

A command matches a script when the pod is the one it names (`pod:`) or carries
its labels (`pods:`, which keeps matching a pod a controller started in place of
a deleted one), the container is the script's (when it names one), and the
command is the script's: the argv joined by spaces equals `command`, or matches
`match` in full. `sh -c "..."` (and bash, /bin/sh) is also tried as the string it
runs. The first matching script answers; anything else is "not scripted in this
drill" with exit code 1. `{pod}`, `{namespace}`, `{container}`, `{ip}` and
`{node}` in stdout/stderr become the pod's own values.

A script that shows the attack names its `driver`: it answers only in a pod the
driver still runs in (the implant is in the process list of every pod of the
poisoned image, and of none once the Deployment runs a clean one; a shell only
in the pod it was started in), and the scripts after it answer otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from actions.drill.apiserver.commands import ExecRequest, ExecResult, not_scripted
from actions.drill.scenario import ExecScript

SHELLS = ("sh", "bash", "/bin/sh", "/bin/bash", "ash", "/bin/ash")
_PLACEHOLDER = re.compile(r"\{(pod|namespace|container|ip|node)\}")


def command_texts(command: tuple[str, ...]) -> list[str]:
    """The forms a command is matched in: the joined argv, and a shell's -c string."""
    texts = [" ".join(command)]
    if len(command) >= 3 and command[0] in SHELLS and command[1] == "-c":
        texts.append(command[2].strip())
    return texts


RunsIn = Callable[[str | None, dict[str, Any]], bool]


def applies(script: ExecScript, request: ExecRequest, runs_in: RunsIn | None = None) -> bool:
    """Whether script is for this pod and container (the command aside)."""
    meta = request.pod["metadata"]
    if script.driver is not None and runs_in is not None and not runs_in(script.driver,
                                                                         request.pod):
        return False
    if script.namespace != request.namespace:
        return False
    if script.pod is not None and script.pod != meta["name"]:
        return False
    labels = meta.get("labels") or {}
    if script.pods is not None and any(labels.get(k) != v for k, v in script.pods.items()):
        return False
    return script.container is None or script.container == request.container


def _matches(script: ExecScript, texts: list[str]) -> bool:
    if script.command is not None:
        wanted = " ".join(script.command.split())
        return any(" ".join(text.split()) == wanted for text in texts)
    assert script.match is not None
    return any(re.fullmatch(script.match, text, re.DOTALL) for text in texts)


def _fill(text: str, request: ExecRequest) -> str:
    pod = request.pod
    values = {"pod": pod["metadata"]["name"], "namespace": request.namespace,
              "container": request.container,
              "ip": str((pod.get("status") or {}).get("podIP") or ""),
              "node": str((pod.get("spec") or {}).get("nodeName") or "")}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def answer(scripts: Iterable[ExecScript], request: ExecRequest,
           runs_in: RunsIn | None = None) -> ExecResult:
    """What the command prints in this drill; runs_in(driver, pod): whether an attack
    driver still runs in the pod (None: every script answers)."""
    texts = command_texts(request.command)
    here = [s for s in scripts if applies(s, request, runs_in)]
    for script in here:
        if _matches(script, texts):
            return ExecResult(_fill(script.stdout, request), _fill(script.stderr, request),
                              script.exit_code)
    if request.command[:3] == ("promtool", "query", "instant") and "prometheus" in _image(request):
        return promtool_instant(request)
    scripted = list(dict.fromkeys(s.command or f"/{s.match}/" for s in here))
    return not_scripted(request, scripted)


def _image(request: ExecRequest) -> str:
    containers = (request.pod.get("spec") or {}).get("containers") or []
    return next((str(c.get("image")) for c in containers if c.get("name") == request.container),
                "")


def promtool_instant(request: ExecRequest) -> ExecResult:
    """`promtool query instant [flags] <server> <expr>` against the drill's Prometheus,
    printed as promtool prints a vector (`{labels} => value @[time]`)."""
    arguments = [a for a in request.command[3:] if not a.startswith("-")]
    if len(arguments) < 2:
        missing = "server" if not arguments else "expr"
        return ExecResult(stderr=f"promtool: error: required argument '{missing}' not "
                                 "provided, try --help\n", exit_code=1)
    if request.metrics is None:
        return ExecResult(stderr=f"query error: Post \"{arguments[0]}/api/v1/query\": dial tcp: "
                                 "connect: connection refused\n", exit_code=1)
    try:
        data = request.metrics(arguments[1], request.at)
    except ValueError as error:
        return ExecResult(stderr=f"query error: bad_data: {error}\n", exit_code=1)
    lines = []
    for sample in (data or {}).get("result") or []:
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted((sample.get("metric") or {}).items())
                           if k != "__name__")
        name = (sample.get("metric") or {}).get("__name__", "")
        value = sample.get("value") or [request.at, "0"]
        at = value[0] if isinstance(value, list) else request.at
        shown = value[1] if isinstance(value, list) else value
        lines.append(f"{name}{{{labels}}} => {shown} @[{float(at):.3f}]")
    return ExecResult(stdout="".join(line + "\n" for line in lines))


def provider(scripts: tuple[ExecScript, ...],
             runs_in: RunsIn | None = None) -> Callable[[ExecRequest], ExecResult]:
    """The `ClusterState.exec_provider` for a scenario's scripts."""
    return lambda request: answer(scripts, request, runs_in)
