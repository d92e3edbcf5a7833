"""`pods/exec`, `pods/attach`, `pods/portforward`: the streaming subresources.

exec speaks the remote-command WebSocket protocol kubectl 1.37 uses (client-go
tools/remotecommand websocket.go): subprotocol `v5.channel.k8s.io`, or
`v4.channel.k8s.io` (what the official Python client's `stream()` asks for).
Every binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr,
3 error (a metav1.Status: Success, or Failure with reason NonZeroExitCode and an
`ExitCode` cause), 4 resize; v5 adds 255 + channel to close one. The server
writes the command's output, then the Status, then closes the connection
normally, which is when the client stops reading.

What a command prints is the scenario's script (`state.exec_provider`); the
drill runs nothing. attach, port-forward and SPDY upgrades get a 400 Status that
names the limit, which kubectl prints as it is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import options, status
from .commands import DRILL_LIMIT, ExecRequest, exit_status, not_scripted
from .resources import by_kind

if TYPE_CHECKING:
    from .cluster_state import ClusterState

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, ERROR = 1, 2, 3


def _limit(what: str) -> status.ApiError:
    return status.bad_request(f"{what} is {DRILL_LIMIT}: it runs no containers (kubectl exec "
                              "answers the commands the scenario scripts)")


def _exec_request(state: ClusterState, namespace: str, name: str,
                  query: Any) -> ExecRequest:
    pod = state.get("v1", "Pod", namespace, name)
    if pod is None:
        resource = by_kind("v1", "Pod")
        assert resource is not None
        raise status.not_found(resource, name)
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for key in ("containers", "ephemeralContainers")
             for c in spec.get(key) or []]
    container = query.get("container") or state.default_container(namespace, name) or ""
    if container not in names:
        raise status.bad_request(f"container {container} is not valid for pod {name}")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise status.bad_request(f"cannot exec into a container in a completed pod; current "
                                 f"phase is {phase}")
    command = tuple(query.getall("command", []))
    if not command:
        raise status.bad_request("you must specify at least 1 command")
    return ExecRequest(namespace, pod, container, command, options.is_true(query, "tty"),
                       state.metrics_provider, state.clock().timestamp())


async def serve(state: ClusterState, target: Any, request: web.Request) -> web.StreamResponse:
    assert target.namespace is not None
    assert target.name is not None
    if target.subresource == "attach":
        raise _limit("kubectl attach (and the attach of kubectl debug -it or run -it)")
    if target.subresource == "portforward":
        raise _limit("kubectl port-forward")
    exec_request = _exec_request(state, target.namespace, target.name, request.query)
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if request.headers.get("Upgrade", "").lower() != "websocket" \
            or not set(offered) & set(PROTOCOLS):
        raise status.bad_request(
            "the warroom drill cluster serves exec over WebSocket only (subprotocol "
            f"{' or '.join(PROTOCOLS)}); SPDY and older protocols are {DRILL_LIMIT}")
    provider = state.exec_provider
    result = provider(exec_request) if provider is not None else not_scripted(exec_request)
    socket = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True)
    await socket.prepare(request)
    try:
        if result.stdout:
            await socket.send_bytes(bytes([STDOUT]) + result.stdout.encode())
        if result.stderr:
            # With a TTY there is no stderr channel: the terminal shows both.
            channel = STDOUT if exec_request.tty else STDERR
            await socket.send_bytes(bytes([channel]) + result.stderr.encode())
        await socket.send_bytes(bytes([ERROR])
                                + json.dumps(exit_status(result, exec_request)).encode())
        await socket.close()  # a normal closure: the client's end of every stream
    except ConnectionResetError:
        pass  # the client went away
    return socket
