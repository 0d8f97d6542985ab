"""fleet.sim profiles: memory and start time per simulated cluster (JSON on stdout).

For each profile (`minimal`, `realistic`) a fresh interpreter starts `SimServer(N)` and brings
every cluster up (a cluster's state is built on its first request: store, registry and the
profile's default objects), then lists every kind of one cluster over HTTPS as a controller's
cluster cache would. Reported per profile:

- `kinds`, `objects_per_cluster`: what each cluster serves and starts with;
- `profile_load_ms`: the one-off cost of the first cluster (reading and preparing the profile
  data, shared by every later cluster);
- `start_ms_per_cluster`: mean time to bring up each later cluster;
- `rss_kib_per_cluster`: resident memory added per cluster (VmRSS delta over N-1 clusters,
  after a garbage collection);
- `list_all_kinds_ms`: one cluster, a LIST of every kind through the HTTP stack.

    .venv/bin/python bench/sim_profile_bench.py [--clusters 100] [--profile realistic]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _measure(profile: str, clusters: int) -> dict[str, Any]:
    import ssl

    import aiohttp

    from fleet.sim import SimServer

    async with SimServer(clusters, profile=profile) as sim:
        names = list(sim.clusters)
        started = time.perf_counter()
        first = sim.clusters[names[0]].state
        load_ms = (time.perf_counter() - started) * 1000
        gc.collect()
        rss_before = _rss_kib()
        started = time.perf_counter()
        for name in names[1:]:
            _ = sim.clusters[name].state
        rest_s = time.perf_counter() - started
        gc.collect()
        rss_after = _rss_kib()
        types = first.registry.all_types()
        objects = sum(len(first.store.items(gr)) for gr in first.store.resources())
        cluster = sim.clusters[names[0]]
        context = ssl.create_default_context(cafile=str(cluster.ca_file))
        headers = {"Authorization": f"Bearer {cluster.token}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            started = time.perf_counter()
            for rt in types:
                base = f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1"
                url = f"{cluster.server}{base}/{rt.resource}"
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    assert response.status == 200, (url, response.status)
            list_ms = (time.perf_counter() - started) * 1000
        others = max(1, len(names) - 1)
        return {
            "clusters": clusters,
            "kinds": len(types),
            "objects_per_cluster": objects,
            "profile_load_ms": round(load_ms, 1),
            "start_ms_per_cluster": round(rest_s * 1000 / others, 2),
            "rss_kib_per_cluster": round((rss_after - rss_before) / others, 1),
            "process_rss_mib": round(rss_after / 1024, 1),
            "list_all_kinds_ms": round(list_ms, 1),
        }


def _child(profile: str, clusters: int) -> None:
    import asyncio

    print(json.dumps(asyncio.run(_measure(profile, clusters))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument(
        "--profile", choices=("minimal", "realistic"), action="append", help="default: both"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.clusters)
        return
    results = {}
    for profile in args.profile or ["minimal", "realistic"]:
        # a fresh interpreter per profile: RSS and one-off loading costs are not shared
        out = subprocess.run(
            [sys.executable, __file__, "--clusters", str(args.clusters), "--child", profile],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        results[profile] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"benchmark": "sim_profile", "profiles": results}, indent=2))


if __name__ == "__main__":
    main()
