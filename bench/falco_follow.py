"""`python bench/falco_follow.py [--seconds 60] [--rate 5000] [--pods 3] [--console]`: live Falco.

Three Falco pods of the drill cluster together write `rate` JSON alerts a
second for `seconds` seconds; the FalcoFollower (real client, real HTTP,
real record file) follows them. Prints what was written, recorded, lost and
duplicated, and the lag from a line being written (its kubelet timestamp) to
its row being committed: median, p99 and max.

With `--console` the follower runs as `warroom live` runs it: in the event
loop of the console (headless, 160x48), which draws every batch in its Falco
pane, so the record's threads share the interpreter with a busy UI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actions.falco.classify import Classifier  # noqa: E402
from actions.falco.times import rfc3339_to_ns  # noqa: E402
from actions.sources.batches import AlertBatch  # noqa: E402
from store import Record  # noqa: E402

if TYPE_CHECKING:
    from actions.drill.apiserver.cluster_state import ClusterState

# The drill cluster, the client and the follower (aiohttp, kubernetes) are imported where
# used, not here: the follower's parse process is spawned, and a spawned process imports
# the parent's main module first. `warroom live`'s is the light `warroom` script; this
# module's own imports cost a second of CPU that would slow the worker's start as no
# console's does.

NS = "falco-system"
TICK = 0.01  # the writers add lines every 10 ms, as a steady rate would


def falco_alert(pod: int, number: int, now: datetime) -> str:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S") + f".{now.microsecond:06d}{number % 1000:03d}Z"
    return json.dumps({
        "hostname": f"node-{pod}",
        "output": f"{stamp[11:29]}: Notice Unexpected connection to K8s API Server from container "
                  f"| connection=10.42.{pod}.7:{10000 + number % 50000}->10.43.0.1:443 "
                  f"lport={10000 + number % 50000} rport=443 fd_type=ipv4 fd_proto=tcp "
                  f"evt_type=connect user=root process=curl seq={number}",
        "output_fields": {"evt.time": rfc3339_to_ns(stamp, []), "fd.name": "10.42.0.7",
                          "proc.name": "curl"},
        "priority": "Notice",
        "rule": "Contact K8S API Server From Container",
        "source": "syscall",
        "tags": ["T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"],
        "time": stamp,
    }, separators=(",", ":"))


def seed(state: ClusterState, pods: int) -> list[str]:
    state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    names = []
    for index in range(pods):
        name = f"falco-bench{index}"
        names.append(name)
        state.create({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": name, "namespace": NS, "labels": {"app": "falco"}},
                      "spec": {"containers": [{"name": "falco", "image": "falco:0.41.3"}],
                               "nodeName": f"node-{index}"},
                      "status": {"phase": "Running"}})
    return names


def render_lines(pods: int, rate: int, seconds: float) -> list[str]:
    """Every line the pods will write, rendered before the clock starts.

    Falco runs on other machines than the API server and warroom: rendering
    JSON during the run would only take CPU from the follower being measured.
    The event times are the planned ones; the lag is measured from the
    kubelet's timestamp, taken when a line is really written.
    """
    base = datetime.now(UTC)
    total = int(rate * seconds)
    return [falco_alert(number % pods, number,
                        base + timedelta(microseconds=number * 1_000_000 // rate))
            for number in range(total)]


def write_lines(state: ClusterState, pods: list[str], rate: int, lines: list[str],
                written: list[int]) -> None:
    """Append `rate` lines a second, spread over the pods, until all are written.

    Every 10 ms each pod gets the lines due, in one append (lines sharing a
    kubelet timestamp, as a busy Falco's do).
    """
    start = time.monotonic()
    total = len(lines)
    number = 0
    while number < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        now = datetime.now(UTC)
        batches: dict[int, list[str]] = {}
        while number < due:
            batches.setdefault(number % len(pods), []).append(lines[number])
            number += 1
        for pod, due_lines in batches.items():
            state.append_log(NS, pods[pod], "\n".join(due_lines), at=now)
        time.sleep(TICK)
    written.append(number)


def serve(args: argparse.Namespace) -> None:
    """The drill cluster and the Falco pods' writers, in their own process (as a real one is)."""
    from actions.drill.apiserver.cluster_state import ClusterState
    from actions.drill.server import DrillServerThread

    state = ClusterState()
    pods = seed(state, args.pods)
    lines = render_lines(len(pods), args.rate, args.seconds)
    with DrillServerThread(state) as server:
        server.kubeconfig_path(Path(args.serve))
        print("ready", flush=True)
        sys.stdin.readline()  # "go"
        written: list[int] = []
        began = time.monotonic()
        cpu_before = time.process_time()
        write_lines(state, pods, args.rate, lines, written)
        print(f"written {written[0]} {time.monotonic() - began:.3f}", flush=True)
        sys.stdin.readline()  # "stop"
        # Read after the follower caught up: the API server's streaming is counted too.
        print(f"{time.process_time() - cpu_before:.3f}", flush=True)


Outcome = tuple[int, list[int], int, int, float, float, float, float, dict[str, float]]
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat_path: str) -> float:
    """User + system CPU of a process or thread from its /proc stat file (0 if gone)."""
    try:
        fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_by_part() -> dict[str, float]:
    """CPU seconds so far of this process's threads but the event loop's (by name: the
    follower's, the process pool's manager which unpickles the workers' results, the
    client's) and of its worker processes."""
    parts: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and thread.native_id is not None:
            name = thread.name.rsplit("_", 1)[0] + " thread"
            if type(thread).__name__ == "_ExecutorManagerThread":
                name = "process pool's manager thread"
            parts[name] = parts.get(name, 0.0) + _cpu_seconds(
                f"/proc/self/task/{thread.native_id}/stat")
    workers = [_cpu_seconds(f"/proc/{child.pid}/stat")
               for child in multiprocessing.active_children()]
    if workers:
        parts["worker processes"] = sum(workers)
    return parts


async def follow(kubeconfig: Path, record: Record, args: argparse.Namespace,
                 drill: subprocess.Popen[str]) -> Outcome:
    from actions.kube.cluster import ClusterOptions, connect
    from actions.sources.falco_follower import FalcoFollower, FalcoFollowerSettings

    cluster = await connect(ClusterOptions(kubeconfig=str(kubeconfig)))
    api = cluster.client
    lags: list[int] = []
    fresh = duplicates = 0
    expected = int(args.rate * args.seconds)
    all_recorded = asyncio.Event()

    def sink(item: object) -> None:
        nonlocal fresh, duplicates
        if isinstance(item, AlertBatch):
            duplicates += item.duplicates
            log_time, written_ns = "", None  # the lines of one write share it: parse it once
            for recorded in item.alerts:
                if recorded.fresh and recorded.alert.log_time:
                    fresh += 1
                    if recorded.alert.log_time != log_time:
                        log_time = recorded.alert.log_time
                        written_ns = rfc3339_to_ns(log_time, [])
                    if written_ns is not None:
                        lags.append(item.committed_ns - written_ns)
            if fresh >= expected:
                all_recorded.set()

    console = None
    if args.console:
        from tui.app import console_app
        from tui.services import Services

        app = console_app(Services(record, mode="live", context="bench"))
        console = app.run_test(size=(160, 48))
        await console.__aenter__()
        delivered = sink

        def sink(item: object) -> None:
            delivered(item)
            if isinstance(item, AlertBatch):
                app.push_alerts(item)

    cpu_before, loop_cpu_before = time.process_time(), time.thread_time()
    settings = FalcoFollowerSettings(namespace=NS)
    if args.workers is not None:
        settings = replace(settings, workers=args.workers)
    follower = FalcoFollower(api, record, Classifier.load(None), settings)
    task = asyncio.create_task(follower.run(sink))
    await asyncio.sleep(0.5)  # connected
    assert drill.stdin is not None
    assert drill.stdout is not None
    started = time.monotonic()
    drill.stdin.write("go\n")
    drill.stdin.flush()
    try:
        await asyncio.wait_for(all_recorded.wait(), args.seconds + 60)
    except TimeoutError:
        print("not everything was recorded within a minute of the end")
    elapsed = time.monotonic() - started
    _, count, writing = (await asyncio.to_thread(drill.stdout.readline)).split()
    written, writing_seconds = int(count), float(writing)
    await asyncio.sleep(0.5)  # anything extra (a duplicate) would show by now
    parts = {name: seconds / max(fresh, 1) for name, seconds in cpu_by_part().items()}
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    loop_cpu = (time.thread_time() - loop_cpu_before) / max(fresh, 1)
    if console is not None:
        await console.__aexit__(None, None, None)
    await cluster.close()
    cpu_per_alert = (time.process_time() - cpu_before) / max(fresh, 1)
    return (written, lags, fresh, duplicates, elapsed, writing_seconds, cpu_per_alert, loop_cpu,
            parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=5000, help="alerts a second, all pods")
    parser.add_argument("--pods", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None,
                        help="parsing processes for busy batches (default: the follower's, as "
                             "warroom live and watch run; 0: always in-process)")
    parser.add_argument("--console", action="store_true",
                        help="follow inside the headless console, which draws every batch")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: the cluster process
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cluster = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp, "--seconds", str(args.seconds),
             "--rate", str(args.rate), "--pods", str(args.pods)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert cluster.stdout is not None
        assert cluster.stdin is not None
        if cluster.stdout.readline().strip() != "ready":
            raise SystemExit("the drill cluster did not start")
        try:
            with Record.open(folder / "record.db") as record:
                outcome = asyncio.run(follow(folder / "kubeconfig", record, args, cluster))
                written, lags, fresh, duplicates, elapsed, writing, cpu, loop_cpu, parts = outcome
                rows = record.alerts.count()
                unique = record.query("SELECT count(DISTINCT dedupe_key) FROM alerts")[0][0]
        finally:
            cluster.stdin.write("stop\n")
            cluster.stdin.close()
            cluster_cpu = float(cluster.stdout.readline() or "nan")
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # On a loaded machine the drill server can take this long to stop: the
                # figures are measured already, print them rather than a traceback.
                cluster.kill()
                cluster.wait()
    print(f"machine load (1-minute average) {load_before:.2f} before, {os.getloadavg()[0]:.2f} "
          f"after, {os.cpu_count()} cores (other processes share them)")
    lags_ms = sorted(lag / 1e6 for lag in lags)
    not_counted = " (worker processes not counted)" if "worker processes" in parts else ""
    print(f"follower CPU {cpu * 1e6:.0f} us per alert, all threads{not_counted}: "
          f"one core follows about {1 / cpu:,.0f} alerts/s; of which the event loop "
          f"(HTTP, resume cursor, delivery, this benchmark's sink) {loop_cpu * 1e6:.0f} us")
    if parts:
        print("of which " + ", ".join(f"{name} {seconds * 1e6:.0f} us"
                                      for name, seconds in sorted(parts.items()))
              + " per alert (the worker processes' beside the follower's)")
    print("cluster process CPU (API server and the pods' writers) "
          f"{cluster_cpu / written * 1e6:.0f} us per line")
    where = " inside the console" if args.console else ""
    print(f"pods {args.pods}, target {args.rate} alerts/s for {args.seconds:g} s{where}")
    print(f"written {written}, recorded {rows}, lost {written - unique}, "
          f"duplicated {rows - unique + duplicates}, delivered fresh {fresh}")
    print(f"the pods wrote {written / writing:,.0f} lines/s for {writing:.1f} s; "
          f"all were recorded {elapsed - writing:.1f} s after the last was written")
    if lags_ms:
        p99 = lags_ms[min(len(lags_ms) - 1, int(len(lags_ms) * 0.99))]
        print(f"lag written->committed: median {statistics.median(lags_ms):.0f} ms, "
              f"p99 {p99:.0f} ms, max {lags_ms[-1]:.0f} ms")


if __name__ == "__main__":
    main()
