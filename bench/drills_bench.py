"""Failure-drill benchmark: do 3 faulty clusters out of 20 slow the other 17 down?

20 fleet.sim member clusters, the controller in process, an ApplicationSet giving each cluster
two Applications (tests/controllers/harness.py's config repo). Measured: seconds from applying
the ApplicationSet until the 17 healthy clusters' 34 Applications are all Synced and Healthy,
- baseline: no faults anywhere;
- with faults: one cluster refusing connections, one answering after 2 s, one failing 50 % of
  its requests with 500 (the drill of tests/drills/test_faulty_clusters.py).
Median of `--runs` runs each (fresh clusters, hub and controller every run). Prints one JSON
document {"baseline_s", "with_faults_s", "ratio", "target": "<= 1.2", ...}.
Not a test: nothing fails on speed.
`PYTHONPATH=. .venv/bin/python bench/drills_bench.py [--runs 3] [--faults down,slow,flaky]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import structlog

from tests.controllers.harness import Scenario
from tests.drills.support import FLEET_SIZE, all_converged, app_names, sim_env

SLOW_LATENCY = 2.0
ERROR_RATE = 0.5
TIMEOUT = 300.0


ALL_FAULTS = ("down", "slow", "flaky")


async def converge_seconds(faults: tuple[str, ...]) -> float:
    """One run: seconds until the 17 healthy clusters' Applications converge."""
    with tempfile.TemporaryDirectory(prefix="fleet-drills-bench-") as workdir:
        tmp = Path(workdir)
        async with (
            sim_env(tmp / "sim", FLEET_SIZE) as env,
            Scenario.open(env, tmp) as scenario,
        ):
            members = env.members
            healthy, (down, slow, flaky) = members[:-3], members[-3:]
            for member in members:
                await scenario.register(member)
            if "down" in faults:
                down.sim.faults.refuse = True
            if "slow" in faults:
                slow.sim.faults.latency = SLOW_LATENCY
            if "flaky" in faults:
                flaky.sim.faults.error_rate = ERROR_RATE
            done = all_converged(app_names(healthy))
            async with scenario.controller():
                started = time.perf_counter()
                await scenario.apply_appset(scenario.appset())
                with anyio.fail_after(TIMEOUT):
                    while not done(await scenario.applications()):
                        await anyio.sleep(0.05)
                return time.perf_counter() - started


async def main(runs: int, faults: tuple[str, ...]) -> dict[str, object]:
    baseline: list[float] = []
    with_faults: list[float] = []
    for _ in range(runs):  # interleaved: drift in machine load hits both series alike
        baseline.append(await converge_seconds(()))
        with_faults.append(await converge_seconds(faults))
        print(
            f"run: baseline {baseline[-1]:.2f}s, with faults {with_faults[-1]:.2f}s",
            file=sys.stderr,
        )
    base, faulty = statistics.median(baseline), statistics.median(with_faults)
    return {
        "clusters": FLEET_SIZE,
        "healthy_clusters": FLEET_SIZE - 3,
        "applications_measured": 2 * (FLEET_SIZE - 3),
        "faults": {
            "down": "refuse" if "down" in faults else None,
            "slow_latency_s": SLOW_LATENCY if "slow" in faults else None,
            "error_rate": ERROR_RATE if "flaky" in faults else None,
        },
        "runs": runs,
        "baseline_runs_s": [round(x, 3) for x in baseline],
        "with_faults_runs_s": [round(x, 3) for x in with_faults],
        "baseline_s": round(base, 3),
        "with_faults_s": round(faulty, 3),
        "ratio": round(faulty / base, 3),
        "target": "<= 1.2",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--faults",
        default=",".join(ALL_FAULTS),
        help="which faulty clusters to inject (comma-separated subset of down,slow,flaky; "
        "for finding which one costs the healthy clusters time)",
    )
    args = parser.parse_args()
    chosen = tuple(f for f in args.faults.split(",") if f)
    if set(chosen) - set(ALL_FAULTS):
        parser.error(f"--faults: unknown {sorted(set(chosen) - set(ALL_FAULTS))}")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    result = anyio.run(main, args.runs, chosen)
    print(json.dumps(result, indent=2))
