"""Drill: 3 of 20 clusters faulty (one down, one slow, one answering half its requests with
errors). The 17 healthy clusters converge regardless; the faulty ones say what is wrong (the
flaky one's Applications may instead get through on retries) and converge once healed. (How
fast the healthy ones converge is measured by bench/drills_bench.py, not asserted here.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from tests.clusters.harness import Member
from tests.controllers.harness import Scenario, condition
from tests.drills.support import all_converged, app_names, cluster_status, comparison_error

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SLOW_LATENCY = 2.0
ERROR_RATE = 0.5


def inject(down: Member, slow: Member, flaky: Member) -> None:
    down.sim.faults.refuse = True
    slow.sim.faults.latency = SLOW_LATENCY
    flaky.sim.faults.error_rate = ERROR_RATE


def reported(app: Mapping[str, Any], cluster: Mapping[str, Any], name: str) -> str:
    """What the hub says is wrong with `name` ("" if nothing): the Application's
    ComparisonError naming the cluster, or the Cluster's own Ready=False condition."""
    message = comparison_error(app)
    if message and name in message:
        return f"app: {message}"
    ready = condition(cluster, "Ready")
    if ready.get("status") == "False":
        return f"cluster: {ready.get('reason')}: {ready.get('message')}"
    return ""


async def wait_reported(
    scenario: Scenario, member: Member, timeout: float = 120, *, or_converged: bool = False
) -> list[str]:
    """Until every Application of `member` has a reported problem; the reports.
    `or_converged`: an Application Synced and Healthy counts too, reported as "converged" (a
    cluster failing only some requests: retries may get an Application through before anyone
    looks, and a converged Application has nothing wrong to say)."""
    names = app_names([member])
    reports: list[str] = []
    try:
        with anyio.fail_after(timeout):
            while True:
                apps = await scenario.applications()
                cluster = await cluster_status(scenario, member.name)
                reports = [
                    "converged"
                    if or_converged and n in apps and all_converged({n})(apps)
                    else reported(apps.get(n, {}), cluster, member.name)
                    for n in sorted(names)
                ]
                if names <= set(apps) and all(reports):
                    return reports
                await anyio.sleep(0.3)
    except TimeoutError:
        pytest.fail(f"{member.name}'s problem never reported for all its Applications: {reports}")


async def test_17_healthy_clusters_converge_3_faulty_ones_say_why_and_converge_once_healed(
    fleet_scenario: Scenario,
) -> None:
    scenario = fleet_scenario
    members = scenario.env.members
    healthy, (down, slow, flaky) = members[:-3], members[-3:]
    for member in members:
        await scenario.register(member)
    inject(down, slow, flaky)
    async with scenario.controller():
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(
            all_converged(app_names(healthy)),
            timeout=180,
            what="the 17 healthy clusters' Applications Synced and Healthy",
        )
        for member in (down, slow, flaky):
            reports = await wait_reported(scenario, member, or_converged=member is flaky)
            assert all(
                member.name in r or r.startswith("cluster:") or r == "converged" for r in reports
            ), reports
        apps = await scenario.applications()
        assert not [n for n in app_names(healthy) if condition(apps[n], "ComparisonError")]
        for member in (down, slow, flaky):
            member.sim.faults.clear()
        healed = await scenario.wait_apps(
            all_converged(app_names(members)),
            timeout=180,
            what="all 40 Applications Synced and Healthy after the faults are cleared",
        )
    assert not {n: comparison_error(a) for n, a in healed.items() if comparison_error(a)}
