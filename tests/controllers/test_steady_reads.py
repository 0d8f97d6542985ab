"""A converged fleet at rest sends its member clusters nothing beyond its open watches: resyncs
compare from the shared watch caches, and live watches stand in for health probes (the 200
cluster benchmark saw 82 GET a minute of probes and, before that, LISTs and GETs per resync)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import anyio
import pytest

from fleet.kube import observe, request_json
from generators.base import IN_CLUSTER_NAME
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


async def test_the_hub_as_in_cluster_destination_is_not_probed_while_its_own_watches_deliver(
    sim_scenario: Scenario,
) -> None:
    """Argo CD's in-cluster is the hub through the controller's own credentials: the hub
    watches the controller keeps open prove it is up, so probing it too (every probe period,
    for a destination nothing may even deploy to) was the steady-state benchmark's only read."""
    scenario = sim_scenario
    seen: Counter[str] = Counter()

    def record(cluster: str, verb: str, resource: str) -> None:
        if cluster == IN_CLUSTER_NAME:
            seen[f"{verb} {resource}"] += 1

    settings = {"manager": replace(FAST, passive_health=1.0)}
    async with scenario.controller(**settings) as controller:
        registry = controller.registry
        with anyio.fail_after(30):
            while (
                registry.manager is None
                or (health := registry.manager.healths().get(IN_CLUSTER_NAME)) is None
                or health.ready is not True
            ):
                await anyio.sleep(0.05)
        await request_json(  # an event on a hub watch (the registry's Secrets), then quiet
            scenario.hub,
            "POST",
            f"/api/v1/namespaces/{scenario.namespace}/secrets",
            body={"metadata": {"name": "unrelated"}, "stringData": {"k": "v"}},
        )
        await anyio.sleep(1.0)
        observe.add_resource_observer(record)
        try:
            await anyio.sleep(3.0)  # 15 probe periods
        finally:
            observe.remove_resource_observer(record)
    assert dict(seen) == {}
