"""A converged fleet at rest sends its member clusters nothing beyond its open watches: resyncs
compare from the shared watch caches, and live watches stand in for health probes (the 200
cluster benchmark saw 82 GET a minute of probes and, before that, LISTs and GETs per resync)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import anyio
import pytest

from fleet.kube import observe
from tests.clusters.harness import FAST
from tests.controllers.harness import Scenario, synced_and_healthy

pytestmark = pytest.mark.anyio


async def test_a_converged_fleet_sends_its_members_no_request_but_watches_across_resyncs(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    members = {m.name for m in scenario.env.members}
    seen: Counter[str] = Counter()

    def record(cluster: str, verb: str, resource: str) -> None:
        if cluster in members:
            seen[f"{verb} {resource}"] += 1

    for member in scenario.env.members:
        await scenario.register(member)
    await scenario.apply_appset(scenario.appset())
    settings = {"resync_period": 1.0, "manager": replace(FAST, passive_health=1.0)}
    async with scenario.controller(**settings):
        await scenario.wait_apps(
            lambda apps: len(apps) == 6 and all(synced_and_healthy(a) for a in apps.values()),
            timeout=60,
        )
        await anyio.sleep(2.0)  # the last status writes and health events settle
        observe.add_resource_observer(record)
        try:
            await anyio.sleep(5.0)  # about five resyncs of every Application, 25 probe periods
        finally:
            observe.remove_resource_observer(record)
    assert {k: v for k, v in seen.items() if not k.startswith("WATCH ")} == {}
