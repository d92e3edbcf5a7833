"""The facilitator's control channel: a running drill's controls, from another terminal.

`warroom drill --serve-only` (and `--no-console`) listens on a Unix socket;
`warroom drill control pause|resume|speed X|inject|status|score|stop` talks
to it. Not an endpoint of the drill's API server, on purpose: the participants
hold that server's kubeconfig (its bearer token), and a team drill's API server
is reachable over the network (`--listen`). A control there would let any
participant pause the drill or read the score, which carries the answer key.
The socket is this machine's and the facilitator's alone:

- it is bound in a fresh 0700 folder, made 0600, then renamed into place, so
  there is no moment at which another user could connect;
- its folder must be the facilitator's and not writable by others (unless
  sticky, as /tmp is), so nobody can swap another socket in under its name;
- on Linux every connection's peer is checked (`SO_PEERCRED`): a process of
  another user is refused whatever the file's mode;
- a socket left at the path by a drill that died is replaced; a live drill's
  socket is never taken over, and anything else there (a file, a link) is
  refused, never removed.

The client checks the same from its side before it connects: the path must be
a socket owned by the facilitator.

Protocol: one JSON object per line, one request per connection:
`{"control": "speed", "speed": 2}` is answered `{"ok": true, "message": ...,
"status": {...}}` or `{"ok": false, "error": ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
import struct
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.private import private_folder

if TYPE_CHECKING:
    from datetime import datetime

    from actions.drill.drill_events import Observation
    from actions.drill.player import PlayerStatus

CONTROLS = ("status", "pause", "resume", "speed", "inject", "score", "stop")
# The timeline kind a control is noted as, as the console's facilitator keys note theirs.
ENV = "WARROOM_DRILL_CONTROL"
MAX_REQUEST_BYTES = 64 * 1024  # a score request names a few export files
# A longer request is read to its end and discarded (up to this much) before the answer, as
# an HTTP server reads a too-large body before its 413: closed with the request unread, the
# client's write failed with a broken pipe and it never saw why.
DISCARD_BYTES = 64 * 1024 * 1024
MAX_ANSWER_BYTES = 16 * 1024 * 1024
REQUEST_TIMEOUT = 10.0  # a client that connects and says nothing is dropped
# sockaddr_un's sun_path: 108 bytes on Linux, 104 on macOS and the BSDs, with the final NUL.
MAX_PATH_BYTES = 107 if sys.platform.startswith("linux") else 103

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Scorer = Callable[[list[str], "datetime | None", "list[Observation]"], dict[str, Any]]
Noter = Callable[[str, dict[str, Any]], None]


class ControlError(Exception):
    """The control channel cannot be used; the message says why and what to do."""


def default_control_path() -> Path:
    """`$WARROOM_DRILL_CONTROL`, else `drill.sock` in the user's own runtime folder
    (`$XDG_RUNTIME_DIR/warroom`, else `<temp dir>/warroom-<uid>`)."""
    if named := os.environ.get(ENV):
        return Path(named).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) / "warroom" if runtime else (
        Path(tempfile.gettempdir()) / f"warroom-{os.getuid()}"
    )
    return folder / "drill.sock"


def _check_length(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise ControlError(
            f"{path}: too long for a Unix socket (at most {MAX_PATH_BYTES} bytes); "
            "name a shorter --control path"
        )


def _check_folder(folder: Path) -> None:
    """Only the facilitator (or root) may replace what is in the socket's folder."""
    info = folder.stat()
    sticky = bool(info.st_mode & stat.S_ISVTX)
    if info.st_uid not in (os.getuid(), 0) and not sticky:
        raise ControlError(f"{folder} belongs to another user: the control socket is not "
                           "put there (name another --control path)")
    if info.st_mode & 0o022 and not sticky:
        raise ControlError(f"{folder} is writable by other users: the control socket is not "
                           "put there (name another --control path)")


def _check_socket(path: Path) -> None:
    """The path is a socket of the facilitator's (the client's check before it connects)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise ControlError(
            f"no drill answers at {path}: start one with `warroom drill --serve-only`, or name "
            f"its control socket with --control PATH (the drill prints it)"
        ) from None
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlError(f"{path} is not a drill's control socket")
    if info.st_uid != os.getuid():
        raise ControlError(f"{path} belongs to another user: not a drill of yours")


async def _answers(path: Path) -> bool:
    """Whether something listens on the socket at `path` (a live drill)."""
    try:
        _reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _remove_if_ours(path: Path, inode: int | None) -> None:
    """Remove our socket; never another drill's that has replaced it since."""
    with contextlib.suppress(OSError):
        if path.lstat().st_ino == inode:
            path.unlink()


def _peer_uid(sock: socket.socket | None) -> int | None:
    """The connecting process's user (Linux; None where the platform does not say)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    credentials = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return int(uid)


def _usable(path: Path) -> Path:
    """The socket's path, absolute, in a folder that is the facilitator's; what is there
    now is a socket of theirs (maybe a dead drill's) or nothing."""
    path = Path(path).expanduser().absolute()
    _check_length(path)
    private_folder(path.parent)
    _check_folder(path.parent)
    try:
        existing = path.lstat()
    except FileNotFoundError:
        return path
    if not stat.S_ISSOCK(existing.st_mode) or existing.st_uid != os.getuid():
        raise ControlError(f"{path} exists and is not a drill's control socket of yours: "
                           "remove it or name another --control path")
    return path


def _staging(path: Path) -> Path:
    """Where to bind first: in a new 0700 folder beside `path`."""
    bound = Path(tempfile.mkdtemp(prefix=".warroom-", dir=path.parent)) / "s"
    try:
        _check_length(bound)
    except ControlError:
        bound.parent.rmdir()
        raise
    return bound


def _move_into_place(bound: Path, path: Path) -> int:
    """0600, then renamed over `path` (a dead drill's socket, if any); its inode."""
    os.chmod(bound, 0o600)
    os.replace(bound, path)
    return path.lstat().st_ino


def _unstage(bound: Path) -> None:
    bound.unlink(missing_ok=True)
    bound.parent.rmdir()


def _connectable(path: Path) -> Path:
    path = Path(path).expanduser().absolute()
    _check_length(path)
    _check_socket(path)
    return path


class ControlServer:
    """The socket end: one JSON request per connection, answered by `handler`."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self.path: Path | None = None

    async def start(self, path: Path) -> Path:
        """Listen at `path` (see the module's docstring for the checks); returns it."""
        path = _usable(path)
        if path.is_socket() and await _answers(path):
            raise ControlError(f"another drill answers at {path}: stop it, or name "
                               "another --control path")
        # Bound where only we can reach it, tightened, then moved into place.
        bound = _staging(path)
        server: asyncio.AbstractServer | None = None
        try:
            server = await asyncio.start_unix_server(self._serve, path=str(bound),
                                                     limit=MAX_REQUEST_BYTES)
            self._inode = _move_into_place(bound, path)
        except BaseException:
            if server is not None:
                server.close()
            raise
        finally:
            _unstage(bound)
        self._server, self.path = server, path
        return path

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
        if self.path is not None:
            _remove_if_ours(self.path, self._inode)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = _peer_uid(writer.get_extra_info("socket"))
            if uid is not None and uid != os.getuid():
                answer: dict[str, Any] = {"ok": False, "error": "not the facilitator's process"}
            else:
                answer = await self._answer(reader)
            writer.write(json.dumps(answer).encode("utf-8") + b"\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to tell it
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT)
        except TimeoutError:
            return {"ok": False, "error": f"no request within {REQUEST_TIMEOUT:g} s"}
        except ValueError:  # longer than the limit
            await _discard_the_rest(reader)
            return {"ok": False, "error": f"a request is at most {MAX_REQUEST_BYTES} bytes"}
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is one JSON object on one line"}
        try:
            return await self._handler(request)
        except ControlError as error:
            return {"ok": False, "error": str(error)}


async def _discard_the_rest(reader: asyncio.StreamReader) -> None:
    """Read the rest of a too-long request line (DISCARD_BYTES at most), so that its sender
    can finish writing and read the answer."""
    discarded = 0
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(REQUEST_TIMEOUT):
            while discarded < DISCARD_BYTES:
                chunk = await reader.read(MAX_REQUEST_BYTES)
                discarded += len(chunk)
                if not chunk or b"\n" in chunk:
                    return


async def send(path: Path, request: dict[str, Any], *, within: float) -> dict[str, Any]:
    """One request to the drill at `path`; its answer (waiting at most `within` seconds for
    each step). ControlError when none can be had."""
    path = _connectable(path)
    timeout = within
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(path), limit=MAX_ANSWER_BYTES), timeout
        )
    except ConnectionRefusedError:
        raise ControlError(f"the drill at {path} has stopped (nothing listens there)") from None
    except TimeoutError:
        raise ControlError(f"the drill at {path} did not answer within {timeout:g} s") from None
    except OSError as error:
        raise ControlError(f"cannot reach the drill at {path}: {error.strerror}") from None
    try:
        writer.write(json.dumps(request).encode("utf-8") + b"\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await writer.drain()  # refused half-read: its answer may still be there to read
        line = await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError:
        raise ControlError(f"the drill at {path} did not answer within {timeout:g} s") from None
    except (OSError, ValueError) as error:
        raise ControlError(f"the drill at {path} did not answer: {error}") from None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    try:
        answer = json.loads(line)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ControlError(f"the drill at {path} answered nothing (it may have stopped)")
    return answer


# --- what a request does to the drill -------------------------------------------------------


def clock_text(seconds: float) -> str:
    """Scenario seconds as T+mm:ss (T+h:mm:ss past an hour)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"T+{hours}:{minutes:02d}:{secs:02d}" if hours else f"T+{minutes:02d}:{secs:02d}"


def status_lines(scenario: str, status: PlayerStatus) -> list[str]:
    """Where the drill stands and what comes next, in two lines of plain words."""
    state = "over" if status.finished else "paused" if status.paused else "playing"
    where = f"drill {scenario}: {state} at x{status.speed:g}, {clock_text(status.position)} " \
        f"of {clock_text(status.length)}"
    if status.next_inject is None or status.next_at is None:
        upcoming = "next: no inject left"
    else:
        upcoming = (f"next: {status.next_inject} at {clock_text(status.next_at)} "
                    f"({status.remaining} to go)")
    return [where, upcoming]


def status_dict(scenario: str, status: PlayerStatus) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "position_seconds": round(status.position, 3),
        "length_seconds": status.length,
        "speed": status.speed,
        "paused": status.paused,
        "finished": status.finished,
        "remaining": status.remaining,
        "next_inject": status.next_inject,
        "next_at_seconds": status.next_at,
        "lines": status_lines(scenario, status),
    }


class DrillControls:
    """The requests a drill session answers, on its own event loop.

    `score(exports, clock_started_at, observations)` computes the score (of the
    facilitator's record, or of the team's exports when `exports` names files) off the
    loop, in a thread, from the drill's inputs read on the loop; `stop()` ends the drill;
    `note(summary, data)`, in a thread too, keeps a control in the record (a
    `CONTROL_KIND` entry, as the console keeps its keys'), so the review shows when the
    drill was paused or sped up.
    """

    def __init__(self, session: Any, *, score: Scorer, stop: Callable[[], None],
                 note: Noter | None = None) -> None:
        self.session = session
        self._score = score
        self._stop = stop
        self._note = note

    async def _noted(self, control: str, message: str, **extra: Any) -> dict[str, Any]:
        """The answer to a control that changed the drill, noted in the record if it can be."""
        answer = self._answer(message)
        if self._note is not None:
            status = answer["status"]
            data = {"control": control, "scenario": status["scenario"],
                    "position_seconds": status["position_seconds"], "speed": status["speed"],
                    "paused": status["paused"], "next_inject": status["next_inject"], **extra}
            try:
                await asyncio.to_thread(self._note, f"Facilitator {message}", data)
            except Exception as error:  # the drill is controlled all the same
                answer["message"] += f" (not noted in the record: {error})"
        return answer

    @property
    def _player(self) -> Any:
        return self.session.player

    def _answer(self, message: str = "") -> dict[str, Any]:
        status = status_dict(self.session.scenario.name, self._player.status())
        return {"ok": True, "message": message, "status": status}

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from actions.drill.speeds import speed_problem

        command = request.get("control")
        player = self._player
        status = player.status()
        if command == "status":
            return self._answer()
        if command == "score":
            exports = request.get("exports") or []
            if not isinstance(exports, list) or not all(isinstance(e, str) for e in exports):
                raise ControlError("exports: a list of file paths")
            started, observations = self.session.score_inputs()
            answer = await asyncio.to_thread(self._score, exports, started, observations)
            return {"ok": True, **answer, "status": self._answer()["status"]}
        if command == "stop":
            self._stop()
            return self._answer("stopping the drill: its terminal prints the score")
        if command not in CONTROLS:
            raise ControlError(f"unknown control {command!r}: one of {', '.join(CONTROLS)}")
        if status.finished:
            raise ControlError("the drill is over: `warroom drill control score` shows the "
                               "score")
        at = clock_text(status.position)
        if command == "pause":
            if status.paused:
                return self._answer(f"already paused at {at}")
            player.pause()
            return await self._noted("pause", f"paused the drill at {at}")
        if command == "resume":
            if not status.paused:
                return self._answer(f"already playing at {at}")
            player.resume()
            return await self._noted("resume", f"resumed the drill at {at}")
        if command == "speed":
            if problem := speed_problem(request.get("speed")):
                raise ControlError(f"speed: {problem}")
            speed = float(request["speed"])
            player.set_speed(speed)
            return await self._noted("speed", f"set the drill's speed to x{speed:g} at {at}")
        # inject
        if status.next_inject is None or status.next_at is None:
            raise ControlError("no inject left to play")
        player.inject_next()
        return await self._noted("inject", f"injected {status.next_inject} now at {at} (due at "
                                 f"{clock_text(status.next_at)})", inject=status.next_inject)
