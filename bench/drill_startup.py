"""Start-up time of the drill cluster's API server (target: under 1 s to first answer).

Prints: import time of the server modules, seeding of a realistic cluster (with
schema validation), start of the server thread, and the first HTTP answer; then
what `warroom drill` itself does: a built-in scenario's session started
(cluster seeded, traffic model and policy semantics evaluated, Hubble and
desired-state files written, API server listening) up to its first answer.

    .venv/bin/python bench/drill_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    import aiohttp.web  # noqa: F401 (timed on its own: most of the import cost is aiohttp's)

    aiohttp_imported = time.perf_counter() - started
    from actions.drill.cluster_state import ClusterState
    from actions.drill.server import DrillServerThread

    imported = time.perf_counter() - started
    from tests.plugins.drill import seed_drill_cluster  # pulls in pytest: not timed

    print(f"import aiohttp.web:           {aiohttp_imported * 1000:8.1f} ms")
    print(f"import server modules (all):  {imported * 1000:8.1f} ms")

    seeds, starts, firsts, totals = [], [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        state = ClusterState()
        seed_drill_cluster(state)
        t1 = time.perf_counter()
        server = DrillServerThread(state).start()
        t2 = time.perf_counter()
        with urllib.request.urlopen(server.url + "/api/v1/namespaces/voicehive/pods") as reply:
            reply.read()
        t3 = time.perf_counter()
        server.stop()
        seeds.append(t1 - t0)
        starts.append(t2 - t1)
        firsts.append(t3 - t2)
        totals.append(t3 - t0)

    def show(label: str, values: list[float]) -> None:
        print(f"{label:<30}{statistics.median(values) * 1000:8.1f} ms median, "
              f"{max(values) * 1000:.1f} ms max")

    show("seed cluster (validated):", seeds)
    show("start server thread:", starts)
    show("first list answered:", firsts)
    show("total to first answer:", totals)
    first_total = imported + totals[0]
    print(f"cold start incl. imports:     {first_total * 1000:8.1f} ms "
          f"({'under' if first_total < 1 else 'OVER'} the 1 s target)")

    started = time.perf_counter()
    import asyncio

    from actions.drill.scenario import load_scenario
    from actions.drill.session import DrillSession

    session_imported = time.perf_counter() - started

    async def drill_start(name: str) -> float:
        begun = time.perf_counter()
        # As `warroom drill` loads a built-in: its manifests are checked by the suite.
        session = DrillSession(load_scenario(name, trust_builtins=True))
        await session.start()
        url = session.url + "/api/v1/namespaces/voicehive/pods"
        await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        elapsed = time.perf_counter() - begun
        await session.stop()
        return elapsed

    scenario_starts = [asyncio.run(drill_start("dns-exfiltration")) for _ in range(args.runs)]
    show("scenario session to 1st answer:", scenario_starts)
    cold = imported + session_imported + scenario_starts[0]
    print(f"warroom drill cold start:     {cold * 1000:8.1f} ms "
          f"({'under' if cold < 1 else 'OVER'} the 1 s target: every import "
          f"{(imported + session_imported) * 1000:.0f} ms, then the first scenario start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
