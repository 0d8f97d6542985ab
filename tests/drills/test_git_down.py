"""Drill: the git server down for a minute while the controller keeps polling changes nothing
in the clusters and deletes no Application; once it is back a new commit still rolls out."""

from __future__ import annotations

import os

import anyio
import pytest

from tests.controllers.harness import Scenario, configmap
from tests.drills.support import all_converged, app_names, tracked_objects

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GIT_DOWN_SECONDS = float(os.environ.get("FLEET_DRILL_GIT_DOWN_SECONDS", "60"))
"""How long the git server stays down (an environment override for quick local runs)."""
ROLLOUT_TIMEOUT = 240.0
"""The poller retries a failing repository with back-off (fleet/git/cache.py: 5 s doubling,
equal jitter): after a minute down the next fetch can be up to ~80 s after git is back."""
RESYNC = 10.0
"""Resync period during the drill: every Application and the ApplicationSet are reconciled
several times while git is down."""


async def watch_outage(scenario: Scenario, seconds: float, uids: dict[str, str]) -> list[str]:
    """Poll the hub for `seconds`: every moment an Application of `uids` was missing,
    replaced or being deleted."""
    harm: list[str] = []
    with anyio.move_on_after(seconds):
        while True:
            apps = await scenario.applications()
            for name, uid in uids.items():
                meta = (apps.get(name) or {}).get("metadata") or {}
                if meta.get("uid") != uid or meta.get("deletionTimestamp"):
                    harm.append(f"{name}: {meta or 'gone'}")
            await anyio.sleep(1)
    return harm


async def test_git_down_for_a_minute_writes_nothing_to_the_clusters_and_deletes_nothing(
    small_scenario: Scenario,
) -> None:
    scenario = small_scenario
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    names = app_names(members)
    async with scenario.controller(deletion_budget="100%", resync_period=RESYNC):
        await scenario.apply_appset(scenario.appset())
        before_apps = await scenario.wait_apps(all_converged(names), what="convergence")
        await anyio.sleep(2)  # let the healers' and status writes settle
        before = {m.name: await tracked_objects(scenario, m) for m in members}
        assert all(before.values())
        scenario.git.stop()
        try:
            uids = {n: a["metadata"]["uid"] for n, a in before_apps.items()}
            harm = await watch_outage(scenario, GIT_DOWN_SECONDS, uids)
            after = {m.name: await tracked_objects(scenario, m) for m in members}
        finally:
            scenario.git.start()
        assert after == before, "an object on a member was written while git was down"
        assert not harm, harm

        new = scenario.upstream.commit(
            {"apps/web/configmap.yaml": configmap("web-config", {"color": "green"})}, "green"
        )
        await scenario.wait_apps(
            all_converged(names, new), timeout=ROLLOUT_TIMEOUT, what="the new commit rolled out"
        )
        for member in members:
            await scenario.wait_member(
                member,
                "api/v1/configmaps",
                "web-config",
                lambda obj: obj is not None and obj["data"] == {"color": "green"},
            )
