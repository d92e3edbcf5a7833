"""Start-up time of the drill cluster's API server (target: under 1 s to first answer).

Prints: import time of the server modules, seeding of a realistic cluster (with
schema validation), start of the server thread, and the first HTTP answer; then
the start of each built-in scenario's drill cluster as `warroom drill` does it
(scenario loaded, engine seeding the cluster with its controllers adopting the
pods, traffic model and policy semantics evaluated, Hubble and desired-state
files written, server listening, first list answered), and the cold start of
the first one with every import.

    .venv/bin/python bench/drill_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
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
    from actions.drill.apiserver.cluster_state import ClusterState
    from actions.drill.scenario import builtin_names
    from actions.drill.server import DrillServerThread
    from actions.drill.session import DrillSession  # noqa: F401 (what warroom drill imports)

    imported = time.perf_counter() - started
    from bench.seeded_cluster import seed_drill_cluster  # pulls in pytest: not timed

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
        request = urllib.request.Request(server.url + "/api/v1/namespaces/voicehive/pods",
                                         headers=server.auth_headers)
        with urllib.request.urlopen(request, context=server.client_ssl_context()) as reply:
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
    print()
    worst = 0.0
    for name in builtin_names():
        times = [asyncio.run(_scenario_start(name)) for _ in range(args.runs)]
        worst = max(worst, statistics.median(times))
        show(f"drill start {name}:", times)
    print(f"slowest drill start (median): {worst * 1000:8.1f} ms "
          f"({'under' if worst < 1 else 'OVER'} the 1 s target)")
    return 0


async def _scenario_start(name: str) -> float:
    """One drill start as `warroom drill NAME` makes it, to the first list answered."""
    from actions.drill.scenario import load_scenario
    from actions.drill.session import DrillSession

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        session = DrillSession(load_scenario(name, trust_builtins=True),
                               kubeconfig_path=Path(folder) / "kubeconfig")
        await session.start()
        assert session.server is not None
        server = session.server
        request = urllib.request.Request(server.url + "/api/v1/namespaces/voicehive/pods",
                                         headers=server.auth_headers)
        context = server.client_ssl_context()
        await asyncio.to_thread(lambda: urllib.request.urlopen(request, context=context).read())
        elapsed = time.perf_counter() - started
        await session.stop()
    return elapsed


if __name__ == "__main__":
    sys.exit(main())
