"""How fast the built-in scenarios load, start and play (the drill's start-up and test cost).

For each built-in: loading and validating the YAML, building the starting
cluster (schema-checked objects, logs, traffic), the first answer of the API
server, and playing the whole timeline on a manual clock (no waiting), with the
number of plays and the time per play.

    .venv/bin/python bench/drill_scenarios.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actions.drill.clock import ManualClock  # noqa: E402
from actions.drill.player import schedule  # noqa: E402
from actions.drill.scenario import builtin_names, load_builtin  # noqa: E402
from actions.drill.session import DrillSession  # noqa: E402


async def measure(name: str) -> dict[str, float]:
    started = time.perf_counter()
    scenario = load_builtin(name)
    loaded = time.perf_counter()
    session = DrillSession(scenario, clock=ManualClock(), speed=100_000)
    await session.start()
    ready = time.perf_counter()
    assert session.server is not None
    request = urllib.request.Request(session.url + "/api/v1/namespaces/voicehive/pods",
                                     headers=session.server.auth_headers)
    tls = session.server.client_ssl_context()
    await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10, context=tls).read())
    answered = time.perf_counter()
    await session.play()
    played = time.perf_counter()
    await session.stop()
    return {
        "load": loaded - started,
        "start": ready - loaded,
        "first_answer": answered - ready,
        "play": played - answered,
        "plays": float(len(schedule(scenario))),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'scenario':<32} {'load':>8} {'start':>8} {'1st answer':>10} {'play':>8} "
        f"{'plays':>6} {'per play':>9}"
    )
    for name in builtin_names():
        runs = [asyncio.run(measure(name)) for _ in range(args.runs)]
        median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"{name:<32} {median['load'] * 1000:>6.0f}ms {median['start'] * 1000:>6.0f}ms "
            f"{median['first_answer'] * 1000:>8.0f}ms {median['play'] * 1000:>6.0f}ms "
            f"{int(median['plays']):>6} {median['play'] / median['plays'] * 1e6:>7.0f}us"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
