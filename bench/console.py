"""The war-room console under a Falco flood: key-to-screen, newest-alert latency, memory, startup.

Headless (`App.run_test`): a producer pushes RATE alerts a second into the
Falco pane (in 100 batches a second, as the live follower would after each
commit) while keys are pressed; prints

- startup: from run_test entry to the incident loaded on the first full screen;
- key to screen: key event sent as the terminal driver sends it -> the first screen
  refresh after the key's effect is visible in the widgets (p50/p95/max);
- newest alert: push -> the 10 Hz drain put it in the pane (p50/p95/max);
- event-loop lag: overshoot of a 5 ms sleep (p95/max);
- memory: RSS at the start and end of the flood, and the pane's window size.

Usage: python bench/console.py [SECONDS] [RATE]   (default 10 s at 5,000 alerts/s)
BENCH_VERBOSE=1 prints each key's time.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from actions.falco.parse import parse_line  # noqa: E402
from store import Record  # noqa: E402
from tui.app import WarRoomApp  # noqa: E402
from tui.services import Services  # noqa: E402
from tui.widgets.alert_list import AlertList  # noqa: E402

BATCHES_PER_SECOND = 100
KEYS = ("down", "down", "up", "home", "s", "s", "s", "s", "enter", "enter", "z", "z")
KEY_TIMEOUT = 2.0
PRIORITIES = ("Notice", "Warning", "Critical", "Error", "Informational")


def _alerts(count: int) -> list[Any]:
    alerts = []
    for i in range(count):
        minute, second = divmod(i // 500, 60)
        line = json.dumps({
            "time": f"2026-03-14T09:{minute % 60:02d}:{second:02d}.{i:09d}Z",
            "rule": f"Rule {i % 40}", "priority": PRIORITIES[i % 5], "source": "syscall",
            "hostname": "node-1", "tags": ["container"],
            "output": f"09:00:00.000000000: Notice connection {i} to 203.0.113.{i % 250} "
                      f"(pod=orchestrator-{i % 17} proc=curl)",
            "output_fields": {"k8s.pod.name": f"orchestrator-{i % 17}", "fd.sip": "203.0.113.9"},
        }).encode()
        alerts.append(parse_line(line))
    return alerts


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pct(samples: list[float], share: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


def _line(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (f"{name:<14} n={len(ms):>6}  p50 {statistics.median(ms):7.1f} ms  "
            f"p95 {_pct(ms, 0.95):7.1f} ms  max {max(ms):7.1f} ms")


async def run(seconds: float, rate: int) -> None:
    folder = tempfile.mkdtemp(prefix="warroom-bench-")
    frozen = datetime(2026, 3, 14, 9, 4, 0, tzinfo=UTC)
    record = Record.open(Path(folder) / "record.db", clock=lambda: frozen)
    record.incidents.open("Flood of Falco alerts", severity="P1", drill=True)
    per_batch = max(rate // BATCHES_PER_SECOND, 1)
    pool = _alerts(min(rate * 4, 40_000))
    pending: list[float] = []
    latencies: list[float] = []

    def hook(message: object) -> None:
        if isinstance(message, AlertList.Drained):
            now = time.perf_counter()
            latencies.extend(now - pushed for pushed in pending)
            pending.clear()

    app = WarRoomApp(Services(record, mode="drill", context="bench"), clock=lambda: frozen)
    started = time.perf_counter()
    async with app.run_test(size=(160, 48), message_hook=hook) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        startup = time.perf_counter() - started
        rss_start = _rss_mib()
        stop = asyncio.Event()
        pushed = 0

        async def produce() -> None:
            nonlocal pushed
            interval = 1 / BATCHES_PER_SECOND
            next_at = time.perf_counter()
            index = 0
            while not stop.is_set():
                batch = pool[index : index + per_batch]
                index = (index + per_batch) % (len(pool) - per_batch)
                app.push_alerts(batch)
                pending.append(time.perf_counter())
                pushed += len(batch)
                next_at += interval
                await asyncio.sleep(max(next_at - time.perf_counter(), 0))

        lags: list[float] = []

        async def watch_lag() -> None:
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - before - 0.005)

        screen = app.screen
        alert_list = screen.query_one(AlertList)
        frames: list[float] = []
        paint = screen._compositor_refresh

        def counted_paint() -> None:  # bench only: note when a frame was composed
            paint()
            frames.append(time.perf_counter())

        screen._compositor_refresh = counted_paint  # type: ignore[method-assign]

        def state() -> tuple[Any, ...]:
            pane = alert_list.parent.parent if alert_list.parent else None
            return (alert_list.cursor, alert_list.filter, tuple(screen.classes),
                    tuple(pane.classes) if pane else ())

        tasks = [asyncio.create_task(produce()), asyncio.create_task(watch_lag())]
        await asyncio.sleep(0.5)  # the flood is under way before the first key
        keys: list[float] = []
        by_key: dict[str, list[float]] = {}
        deadline = time.perf_counter() + seconds
        turn = 0
        while time.perf_counter() < deadline:
            key = KEYS[turn % len(KEYS)]
            turn += 1
            before_state = state()
            sent = time.perf_counter()
            event = events.Key(key, None)
            event.set_sender(app)
            app._driver.send_message(event)  # type: ignore[union-attr]
            changed_at = None
            while time.perf_counter() - sent < KEY_TIMEOUT:
                await asyncio.sleep(0.001)
                if changed_at is None and state() != before_state:
                    changed_at = time.perf_counter()
                if changed_at is not None and frames and frames[-1] >= changed_at:
                    break
            painted = next((f for f in frames if changed_at and f >= changed_at), None)
            keys.append((painted or time.perf_counter()) - sent)
            by_key.setdefault(key, []).append(keys[-1])
            if os.environ.get("BENCH_VERBOSE"):
                missed = "" if painted else " (no change seen)"
                print(f"  {key:<6} {keys[-1] * 1000:7.1f} ms{missed}")
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)
        await pilot.pause(0.2)
        rss_end = _rss_mib()
        print(f"console under {rate:,} alerts/s for {seconds:.0f} s "
              f"({pushed:,} pushed, {alert_list.received:,} drained, "
              f"{alert_list.not_shown:,} not shown)")
        print(f"startup        {startup * 1000:7.0f} ms to the first full screen")
        print(_line("key to screen", keys))
        for name, samples in sorted(by_key.items()):
            print(_line(f"  {name}", samples))
        print(_line("newest alert", latencies))
        print(f"event-loop lag p95 {_pct(lags, 0.95) * 1000:.1f} ms  max {max(lags) * 1000:.1f} ms")
        print(f"memory         RSS {rss_start:.0f} MiB -> {rss_end:.0f} MiB; "
              f"window {len(alert_list.buffer):,} of {alert_list.buffer.capacity:,} rows")
    record.close()


if __name__ == "__main__":
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    alerts_per_second = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    asyncio.run(run(duration, alerts_per_second))
