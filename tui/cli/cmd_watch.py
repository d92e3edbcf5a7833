"""`warroom watch [--json] [cluster options]`: the live sources without the console.

For a jump host or a background recorder: follows every Falco pod, the
namespace's Warning events and NetworkPolicies (with drift against the
desired-state file), CoreDNS's query log (DNS tunneling detection), the mesh
(proxy sync, mTLS modes, every 30 s) and its traffic from Prometheus (mTLS
failures on several services are the runbook's P0) and Hubble's flows when the
hubble CLI is installed (or a file of them); records everything, and
prints what it sees until SIGINT or SIGTERM, then commits what it holds and
exits 0.

With `--json`, stdout carries one JSON object per line (a documented
exception to "one document"): `{"type": "alert" | "event" | "drift" |
"health" | "proposal", ...}`. Lines are ASCII: attacker-controlled text
arrives escaped. A P0/P1 alert with no open incident is recorded as an
incident proposal (accepted in the console, or by opening the incident).

Without `--incident`, a watch is a session like a console's
(`SessionScope.for_mode`): on warroom's drill cluster it takes only a drill
incident opened while it runs, elsewhere only a real incident, and what it
records goes to the one such incident open, else to none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from store.wording import counted
from tui.cli.cmd_act import add_cluster_options
from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, open_record, read_settings
from tui.safe import safe_text

PRINTED_ALERT_SEVERITIES = ("P0", "P1", "P2")  # text mode: P3 alerts are counted, not listed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="one JSON line per alert, event, drift finding and health change")
    parser.add_argument("--incident", metavar="ID",
                        help="attach what is recorded to this incident (default: the one open "
                             "incident of this session, if exactly one: a real one, or on the "
                             "drill cluster a drill's opened while watching)")
    parser.add_argument("--classification", metavar="FILE", type=Path,
                        help="your own classification rules (TOML), tried before the shipped ones")
    parser.add_argument("--hubble-file", metavar="FILE", type=Path,
                        help="Hubble flows (`hubble observe -o json` output) to read instead of "
                             "running the hubble CLI")
    add_cluster_options(parser)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from actions.falco.classify import Classifier
    from actions.kube.cluster import ClusterError, ClusterOptions, connect

    settings = read_settings(args)
    try:
        classifier = Classifier.load(args.classification)
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from error
    options = ClusterOptions(context=args.context, kubeconfig=args.kubeconfig,
                             namespace=args.namespace,
                             timeout=args.timeout)
    try:
        cluster = await connect(options)
    except ClusterError as error:
        raise UsageError(str(error)) from error
    with open_record(args) as record:
        if args.incident and record.incidents.get(args.incident) is None:
            print(safe_text(f"warroom watch: no incident {args.incident} in {record.path}"),
                  file=sys.stderr)
            await cluster.close()
            return EXIT_FAILED
        async with cluster:
            await _watch(args, settings, classifier, cluster, record)
    return EXIT_OK


async def _watch(args: argparse.Namespace, settings: Any, classifier: Any, cluster: Any,
                 record: Any) -> None:
    from actions.sources.live import LiveSources
    from store.incidents import SessionScope
    from tui.cli.cmd_act import is_drill_cluster

    printer = JsonLines() if args.json else TextLines()
    mode = "drill" if is_drill_cluster(cluster) else "live"
    # Headless, proposals are recorded and printed; the console is where they are accepted.
    live = LiveSources(cluster, record, settings, classifier, incident_id=args.incident,
                       hubble_file=args.hubble_file, kubeconfig=args.kubeconfig,
                       actor="warroom watch", scope=SessionScope.for_mode(mode, record.clock()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(live.run(printer), name="watch")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (running, stopping):
            task.cancel()
        await asyncio.gather(running, stopping, return_exceptions=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        printer.close()


class JsonLines:
    """One ASCII JSON object per line on stdout, flushed per batch."""

    def __call__(self, item: object) -> None:
        lines = [json.dumps(doc, ensure_ascii=True, default=str, separators=(",", ":"))
                 for doc in documents(item)]
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.flush()


def documents(item: object) -> list[dict[str, Any]]:
    """The JSON lines one source item becomes (none for what is not printed)."""
    from actions.sources.batches import AlertBatch
    from actions.sources.detection import IncidentProposal
    from actions.sources.health import SourceHealth
    from actions.sources.policies import DriftReport
    from actions.sources.warning_events import WarningEvent

    if isinstance(item, AlertBatch):
        return [alert.to_dict() for alert in item.alerts if alert.fresh]
    if isinstance(item, SourceHealth | WarningEvent | IncidentProposal):
        return [item.to_dict()]
    if isinstance(item, DriftReport):
        return ([{**f.to_dict(), "resolved": False} for f in item.new]
                + [{**f.to_dict(), "resolved": True} for f in item.resolved])
    return []


class TextLines:
    """Short human lines; every cluster string through the terminal sanitiser."""

    def __init__(self) -> None:
        self.counted: Counter[str] = Counter()

    def __call__(self, item: object) -> None:
        for doc in documents(item):
            line = self._line(doc)
            if line:
                print(safe_text(line), flush=True)

    def _line(self, doc: dict[str, Any]) -> str | None:
        kind = doc["type"]
        if kind == "alert":
            if doc["severity"] not in PRINTED_ALERT_SEVERITIES:
                self.counted[doc["severity"]] += 1
                return None
            return (f"alert {doc['severity']} {doc['priority']} {doc['rule']} "
                    f"on {doc['hostname']} ({doc['category']}): {doc['output']}")
        if kind == "health":
            return f"[{doc['source']}] {doc['state']}: {doc['detail']}"
        if kind == "event":
            times = f" (x{doc['count']})" if doc["count"] > 1 else ""
            return f"event Warning {doc['reason']} {doc['object']}: {doc['message']}{times}"
        if kind == "proposal":
            return (f"incident proposed {doc['severity']}: {doc['title']} "
                    f"({counted(doc['alerts'], 'alert')} since {doc['first_alert_time']})")
        if kind == "drift":
            if doc["resolved"]:
                return f"drift resolved: {doc['name']} ({doc['kind']})"
            return f"drift {doc['kind']}: {doc['name']} ({doc['detail']})"
        return None

    def close(self) -> None:
        if self.counted:
            counts = ", ".join(f"{sev} {n}" for sev, n in sorted(self.counted.items()))
            print(f"also recorded, not listed: {counts}", flush=True)
