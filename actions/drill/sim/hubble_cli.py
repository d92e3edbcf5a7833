"""The drill's `hubble` command: `hubble observe` over the flows the drill cluster writes.

The drill writes an executable `hubble` into `<drill dir>/bin` (its path is
printed when the drill starts). With that folder first on PATH, the
runbook's `hubble observe --namespace voicehive --follow` works, and so does
warroom's own Hubble source, which runs `hubble observe -o json --follow`
when a `hubble` is on PATH. It reads the drill's flows file the way the real
CLI reads Hubble Relay:

    hubble observe [-o json|jsonpb|compact|dict] [-f|--follow] [--last N]
                   [-n|--namespace NS] [--pod [NS/]NAME] [--verdict V]...

Without --follow it prints the last N flows (20 by default) and exits; with
--follow it prints new flows as they come (after the last N, when given)
until interrupted or the drill stops. `compact` (the default) is Hubble's
one-line form, with terminal escapes defanged as Hubble does (ESC as `^[`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

POLL_SECONDS = 0.2
DEFAULT_LAST = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubble", description="Hubble CLI (warroom drill)")
    commands = parser.add_subparsers(dest="command", required=True)
    observe = commands.add_parser("observe", help="observe flows of the drill cluster")
    observe.add_argument(
        "-o", "--output", default="compact", choices=("compact", "dict", "json", "jsonpb", "table")
    )
    observe.add_argument("-f", "--follow", action="store_true")
    observe.add_argument("--last", type=int, default=None)
    observe.add_argument("-n", "--namespace", action="append", default=[])
    observe.add_argument("--pod", action="append", default=[])
    observe.add_argument("--verdict", action="append", default=[])
    observe.add_argument("-A", "--all-namespaces", action="store_true")
    commands.add_parser("version", help="print the version")
    commands.add_parser("status", help="the relay's status")
    return parser


def _endpoint_name(end: dict[str, Any], ip: str, port: Any) -> str:
    if end.get("pod_name"):
        return f"{end.get('namespace')}/{end['pod_name']}:{port}"
    return f"{ip}:{port}"


def _time(text: str) -> datetime:
    """An RFC 3339 UTC time with 0 to 9 fractional digits (microseconds kept)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return moment.replace(microsecond=int((fraction + "000000")[:6] or 0))


def _defang(text: str) -> str:
    return text.replace("\x1b", "^[").replace("\r", "\\r")


def compact(doc: dict[str, Any]) -> str:
    """Hubble's compact line: `Mar 14 09:00:45.123: a:1 (ID:1) -> b:2 (world) ... DROPPED (...)`."""
    flow = doc.get("flow") or {}
    moment = _time(str(flow.get("time", "")))
    l4 = flow.get("l4") or {}
    protocol = next(iter(l4), "")
    ports = l4.get(protocol) or {}
    ip = flow.get("IP") or {}
    source = _endpoint_name(
        flow.get("source") or {}, ip.get("source", ""), ports.get("source_port", 0)
    )
    dest = _endpoint_name(
        flow.get("destination") or {}, ip.get("destination", ""), ports.get("destination_port", 0)
    )

    def identity(end: dict[str, Any]) -> str:
        if "reserved:world" in (end.get("labels") or []):
            return "(world)"
        return f"(ID:{end.get('identity', 0)})"

    verdict = str(flow.get("verdict", ""))
    arrow = "<>" if verdict == "DROPPED" else "->"
    if flow.get("l7"):
        layer7 = flow["l7"]
        dns = layer7.get("dns") or {}
        kind = str(layer7.get("type", "")).title()
        what = (
            f"dns-{kind.lower()} FORWARDED (DNS {kind} Query {dns.get('query', '')} "
            f"{','.join(dns.get('qtypes') or [])})"
        )
    elif verdict == "DROPPED":
        what = f"Policy denied DROPPED ({flow.get('Summary', '')})"
    else:
        point = str(flow.get("trace_observation_point", "")).lower().replace("_", "-")
        what = f"{point} {verdict} ({flow.get('Summary', '')})"
    stamp = moment.strftime("%b %d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    line = (
        f"{stamp}: {source} {identity(flow.get('source') or {})} {arrow} {dest} "
        f"{identity(flow.get('destination') or {})} {what}"
    )
    return _defang(line)


def _selected(doc: dict[str, Any], args: argparse.Namespace) -> bool:
    flow = doc.get("flow")
    if not isinstance(flow, dict):
        return False
    ends = [flow.get("source") or {}, flow.get("destination") or {}]
    if (
        args.namespace
        and not args.all_namespaces
        and not any(e.get("namespace") in args.namespace for e in ends)
    ):
        return False
    if args.pod:
        names = {f"{e.get('namespace')}/{e.get('pod_name')}" for e in ends if e.get("pod_name")}
        short = {str(e.get("pod_name")) for e in ends if e.get("pod_name")}
        if not any(any(n.startswith(p) for n in names | short) for p in args.pod):
            return False
    return not args.verdict or flow.get("verdict") in {v.upper() for v in args.verdict}


def _render(doc: dict[str, Any], line: str, output: str) -> str:
    if output in ("json", "jsonpb"):
        return line
    if output == "dict":
        flow = doc.get("flow") or {}
        return "\n".join(f"{key:>12}: {value}" for key, value in flow.items()) + "\n------------"
    return compact(doc)


def _lines(path: Path, start: int) -> tuple[list[str], int]:
    """Complete lines from byte offset `start`, and where the next read starts."""
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read()
    end = data.rfind(b"\n")
    if end < 0:
        return [], start
    chunk = data[: end + 1].decode("utf-8", "replace")
    return [line for line in chunk.split("\n") if line], start + end + 1


def _follow(path: Path, offset: int) -> Iterator[str]:
    while path.exists():
        lines, offset = _lines(path, offset)
        yield from lines
        if not lines:
            time.sleep(POLL_SECONDS)


def observe(path: Path, args: argparse.Namespace, out: TextIO) -> int:
    if not path.exists():
        print("hubble: the drill has stopped: no flows to observe", file=sys.stderr)
        return 1
    lines, offset = _lines(path, 0)
    last = args.last if args.last is not None else (0 if args.follow else DEFAULT_LAST)
    docs = [(json.loads(line), line) for line in lines if line.startswith("{")]
    picked = [(d, line) for d, line in docs if _selected(d, args)]
    for doc, line in picked[len(picked) - last :] if last else []:
        out.write(_render(doc, line, args.output) + "\n")
    out.flush()
    if not args.follow:
        return 0
    try:
        for line in _follow(path, offset):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if _selected(doc, args):
                out.write(_render(doc, line, args.output) + "\n")
                out.flush()
    except KeyboardInterrupt:
        return 0
    print("hubble: the drill has stopped", file=sys.stderr)
    return 1


def main(flows_file: str, argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    if args.command == "version":
        stream.write("hubble v1.17.3 (warroom drill)\n")
        return 0
    if args.command == "status":
        stream.write("Healthcheck (via warroom drill): Ok\n")
        return 0
    return observe(Path(flows_file), args, stream)


SHIM = """#!{python}
# The warroom drill's `hubble`: reads this drill's flows (see actions/drill/sim/hubble_cli.py).
import sys
from actions.drill.sim.hubble_cli import main
sys.exit(main({flows!r}, sys.argv[1:]))
"""


def write_shim(folder: Path, flows_file: Path) -> Path:
    """An executable `hubble` in folder/bin reading flows_file; returns its path."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "hubble"
    shim.write_text(SHIM.format(python=sys.executable, flows=str(flows_file)), encoding="utf-8")
    shim.chmod(0o755)
    return shim
