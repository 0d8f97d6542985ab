"""Horizontal scale-out: replicas share the clusters through Leases on the hub.

The coordinator's Lease behaviour runs against fleet.sim and the real kube-apiserver; the
issue's end-to-end test (three controller replicas, one killed) runs on fleet.sim.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.controllers.runtime import Controller
from fleet.controllers.sharding import (
    LEASES,
    ShardCoordinator,
    ShardSettings,
    fair_share,
    shard_lease_name,
    shard_of,
)
from fleet.kube import request_json
from tests.clusters.harness import Env, create_namespace, hub_client
from tests.controllers.harness import Scenario, configmap, synced_and_healthy

pytestmark = pytest.mark.anyio

LEASE = 2.0
RENEW = 0.5
MARGIN = 10.0
"""Generous bound on top of a lease period for "eventually" (a slow shared machine)."""


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    try:
        with anyio.fail_after(timeout):
            while not predicate():
                await anyio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"never: {what}")


@dataclass
class Replica:
    coordinator: ShardCoordinator
    scope: anyio.CancelScope

    def crash(self) -> None:
        """Stop renewing without releasing anything, as a killed process."""
        self.scope.cancel()


class Replicas:
    """Coordinators running in the test's task group, each stoppable on its own."""

    def __init__(self, hub: ApiClient, namespace: str, tg: anyio.abc.TaskGroup) -> None:
        self.hub, self.namespace, self.tg = hub, namespace, tg

    async def start(
        self,
        identity: str,
        shards: int,
        lease_duration: float = LEASE,
        renew_interval: float = RENEW,
    ) -> Replica:
        coordinator = ShardCoordinator(
            self.hub, self.namespace, identity, shards, lease_duration, renew_interval
        )
        scope = anyio.CancelScope()

        async def run(*, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await coordinator.run(task_status=task_status)

        await self.tg.start(run)
        return Replica(coordinator, scope)


@asynccontextmanager
async def replicas(env: Env) -> AsyncIterator[Replicas]:
    async with hub_client(env) as hub:
        namespace = await create_namespace(hub, "shards")
        async with anyio.create_task_group() as tg:
            yield Replicas(hub, namespace, tg)
            tg.cancel_scope.cancel()


async def lease(hub: ApiClient, namespace: str, index: int) -> dict[str, Any]:
    path = f"{LEASES.format(namespace=namespace)}/{shard_lease_name(index)}"
    found: dict[str, Any] = await request_json(hub, "GET", path)
    return found


def sizes(*members: Replica) -> list[int]:
    return [len(r.coordinator.owned()) for r in members]


def disjoint_cover(shards: int, *members: Replica) -> bool:
    owned = [r.coordinator.owned() for r in members]
    union = frozenset().union(*owned)
    return union == frozenset(range(shards)) and sum(map(len, owned)) == shards


# -- the shard function ------------------------------------------------------------------------


def test_the_shard_of_a_cluster_does_not_depend_on_the_process() -> None:
    names = [f"cluster-{i}" for i in range(50)]
    here = [shard_of(n, 7) for n in names]
    code = (
        "from fleet.controllers.sharding import shard_of;"
        f"print([shard_of(n, 7) for n in {names!r}])"
    )
    for seed in ("12345",):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == str(here)
    assert set(here) == set(range(7)), "50 names should land in every one of 7 shards"


def test_fair_shares_add_up_and_differ_by_at_most_one() -> None:
    live = ["a", "b", "c"]
    shares = [fair_share(4, live, who) for who in live]
    assert shares == [2, 1, 1]
    assert [fair_share(1, live, who) for who in live] == [1, 0, 0]


def test_the_command_line_asks_for_leases_with_the_given_shards_and_identity() -> None:
    from fleet.cli import build_parser
    from fleet.controllers.main import settings_from_args

    args = build_parser().parse_args(
        ["controller", "run", "--shards", "3", "--replica-id", "r-1", "--lease-duration", "6"]
    )
    sharding = settings_from_args(args).sharding
    assert sharding == ShardSettings(
        identity="r-1", shards=3, lease_duration=6.0, renew_interval=2.0
    )
    default = settings_from_args(build_parser().parse_args(["controller", "run"])).sharding
    assert default is not None and default.shards == 1
    assert default.identity.endswith(f"-{os.getpid()}")


# -- the coordinator against a hub -----------------------------------------------------------------


async def test_a_single_replica_acquires_every_shard(env: Env) -> None:
    async with replicas(env) as group:
        one = await group.start("solo", shards=4)
        assert one.coordinator.owned() == frozenset(range(4))
        assert one.coordinator.is_leader()
        first = await lease(group.hub, group.namespace, 2)
        spec = first["spec"]
        assert spec["holderIdentity"] == "solo"
        assert spec["leaseDurationSeconds"] == 2
        assert spec["acquireTime"] and spec["renewTime"]
        # Renewals move renewTime, not acquireTime.
        with anyio.fail_after(MARGIN):
            while (await lease(group.hub, group.namespace, 2))["spec"]["renewTime"] == spec[
                "renewTime"
            ]:
                await anyio.sleep(0.1)
        later = (await lease(group.hub, group.namespace, 2))["spec"]
        assert later["acquireTime"] == spec["acquireTime"]
        assert later["holderIdentity"] == "solo"


async def test_two_replicas_split_four_shards_two_and_two(env: Env) -> None:
    async with replicas(env) as group:
        a = await group.start("a", shards=4)
        b = await group.start("b", shards=4)
        await until(lambda: sizes(a, b) == [2, 2], MARGIN, "a and b hold 2 shards each")
        assert disjoint_cover(4, a, b)
        assert {r.coordinator.is_leader() for r in (a, b)} == {True, False}


async def test_a_third_replica_gets_its_share_after_rebalancing(env: Env) -> None:
    async with replicas(env) as group:
        a = await group.start("a", shards=4)
        b = await group.start("b", shards=4)
        await until(lambda: sizes(a, b) == [2, 2], MARGIN, "a and b hold 2 shards each")
        c = await group.start("c", shards=4)
        await until(
            lambda: sorted(sizes(a, b, c)) == [1, 1, 2] and disjoint_cover(4, a, b, c),
            MARGIN,
            "4 shards spread 2/1/1 over a, b, c",
        )


async def test_a_graceful_stop_hands_the_shards_over_before_the_lease_expires(env: Env) -> None:
    long_lease = 60.0  # a takeover within MARGIN cannot be an expiry
    async with replicas(env) as group:
        a = await group.start("a", shards=2, lease_duration=long_lease)
        b = await group.start("b", shards=2, lease_duration=long_lease)
        await until(lambda: sizes(a, b) == [1, 1], MARGIN, "one shard each")
        await a.coordinator.release()
        a.crash()  # the process ends; nothing is left to renew
        assert a.coordinator.owned() == frozenset()
        await until(lambda: sizes(b) == [2], MARGIN, "b holds both shards")
        for index in range(2):
            assert (await lease(group.hub, group.namespace, index))["spec"]["holderIdentity"] == "b"


async def test_a_crashed_replica_is_taken_over_after_its_lease_expires(env: Env) -> None:
    async with replicas(env) as group:
        a = await group.start("a", shards=2)
        b = await group.start("b", shards=2)
        await until(lambda: sizes(a, b) == [1, 1], MARGIN, "one shard each")
        (lost,) = a.coordinator.owned()
        transitions = (await lease(group.hub, group.namespace, lost))["spec"]["leaseTransitions"]
        a.crash()
        # Nothing was released: the Lease still names the dead replica until it expires.
        assert (await lease(group.hub, group.namespace, lost))["spec"]["holderIdentity"] == "a"
        await until(lambda: sizes(b) == [2], LEASE + MARGIN, "b takes the expired shard")
        taken = (await lease(group.hub, group.namespace, lost))["spec"]
        assert taken["holderIdentity"] == "b"
        assert taken["leaseTransitions"] == transitions + 1


async def test_a_new_replica_reuses_a_departed_ones_presence_slot(env: Env) -> None:
    async with replicas(env) as group:
        a = await group.start("a", shards=2)
        b = await group.start("b", shards=2)
        await until(lambda: sizes(a, b) == [1, 1], MARGIN, "one shard each")
        a.crash()
        await until(lambda: sizes(b) == [2], LEASE + MARGIN, "b takes the expired shard")
        c = await group.start("c", shards=2)
        await until(lambda: sizes(b, c) == [1, 1], MARGIN, "b and c share the shards")
        listing = await request_json(
            group.hub,
            "GET",
            LEASES.format(namespace=group.namespace),
            query={"labelSelector": "fleet.gitops.dev/coordination=replica"},
        )
        holders = sorted(i["spec"].get("holderIdentity", "") for i in listing["items"])
        assert holders == ["b", "c"], "c took a's slot instead of adding a third presence Lease"


async def test_a_replica_cut_off_from_the_hub_stops_owning_its_shards(sim_env: Env) -> None:
    async with replicas(sim_env) as group:
        one = await group.start("solo", shards=2)
        assert one.coordinator.owned() == frozenset({0, 1})
        changed = anyio.Event()

        async def watch() -> None:
            await one.coordinator.wait_changed()
            changed.set()

        group.tg.start_soon(watch)
        sim_env.hub.sim.faults.refuse = True
        try:
            await until(
                lambda: not one.coordinator.owned() and not one.coordinator.is_leader(),
                LEASE + MARGIN,
                "the cut-off replica gives up its shards",
            )
            assert not one.coordinator.owns_cluster("m1")
            await until(changed.is_set, MARGIN, "the change is announced")
        finally:
            sim_env.hub.sim.faults.refuse = False
        await until(
            lambda: one.coordinator.owned() == frozenset({0, 1}),
            MARGIN,
            "back in touch, it renews its own Leases again",
        )


# -- the test: three controller replicas, one killed ---------------------------------------


def owner_of(cluster: str, controllers: dict[str, Controller]) -> list[str]:
    return [
        name
        for name, c in controllers.items()
        if c.coordinator is not None and c.coordinator.owns_cluster(cluster)
    ]


def reconciled_by(controllers: dict[str, Controller]) -> dict[str, list[tuple[str, str]]]:
    """Application -> [(replica, cluster)] of every replica holding a sync engine for it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for replica, c in controllers.items():
        assert c.applications is not None
        for app, cluster in c.applications.managed().items():
            out.setdefault(app, []).append((replica, cluster))
    return out


def each_app_on_its_owner_only(controllers: dict[str, Controller], expected: set[str]) -> bool:
    seen = reconciled_by(controllers)
    if set(seen) != expected:
        return False
    for holders in seen.values():
        if len(holders) != 1:
            return False
        replica, cluster = holders[0]
        if owner_of(cluster, controllers) != [replica]:
            return False
    return True


async def test_three_replicas_share_the_fleet_and_a_killed_ones_clusters_are_taken_over(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    names = {f"{app}-{m.name}" for app in ("web", "api") for m in members}

    controllers: dict[str, Controller] = {}
    scopes: dict[str, anyio.CancelScope] = {}
    ended: dict[str, anyio.Event] = {}

    async def replica(name: str, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """One controller replica; cancelling its scope kills it (no graceful release)."""
        scopes[name], ended[name] = anyio.CancelScope(), anyio.Event()
        try:
            with scopes[name]:
                async with scenario.controller(
                    cache_dir=scenario.workdir / f"cache-{name}",
                    sharding=ShardSettings(
                        identity=name, shards=3, lease_duration=LEASE, renew_interval=RENEW
                    ),
                ) as controller:
                    task_status.started(controller)
                    await anyio.sleep_forever()
        finally:
            ended[name].set()

    async with anyio.create_task_group() as tg:
        for i in range(3):
            controllers[f"replica-{i}"] = await tg.start(replica, f"replica-{i}")
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(
            lambda apps: set(apps) == names and all(map(synced_and_healthy, apps.values())),
            what="every Application Synced and Healthy",
        )
        await until(
            lambda: (
                each_app_on_its_owner_only(controllers, names)
                and all(
                    c.coordinator and len(c.coordinator.owned()) == 1 for c in controllers.values()
                )
            ),
            MARGIN,
            "one shard per replica, each Application reconciled by exactly its cluster's owner",
        )
        leaders = [n for n, c in controllers.items() if c.coordinator and c.coordinator.is_leader()]
        assert len(leaders) == 1
        scraped = [c.metrics.render().decode() for c in controllers.values()]
        assert all("fleet_shards_owned 1.0" in text for text in scraped), scraped
        assert sum("fleet_shard_leader 1.0" in text for text in scraped) == 1

        # Kill the replica owning the most clusters (at least one), without any release.
        clusters_of = {
            n: [m.name for m in members if owner_of(m.name, controllers) == [n]]
            for n in controllers
        }
        victim = max(clusters_of, key=lambda n: len(clusters_of[n]))
        assert clusters_of[victim], f"no replica owns a cluster: {clusters_of}"
        orphan = clusters_of[victim][0]
        scopes[victim].cancel()
        await ended[victim].wait()
        del controllers[victim]

        member = next(m for m in members if m.name == orphan)
        await request_json(
            scenario.members[orphan],
            "PATCH",
            f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config",
            body={"data": {"color": "red"}},
            content_type="application/merge-patch+json",
        )
        await scenario.wait_member(
            member,
            "api/v1/configmaps",
            "web-config",
            lambda obj: obj is not None and obj["data"].get("color") == "blue",
            timeout=LEASE + MARGIN,
        )
        assert len(owner_of(orphan, controllers)) == 1
        await until(
            lambda: each_app_on_its_owner_only(controllers, names),
            MARGIN,
            "the survivors split every Application between them",
        )
        # The ApplicationSet controller moved with shard 0: a new directory becomes Applications.
        new_leaders = [
            c for c in controllers.values() if c.coordinator and c.coordinator.is_leader()
        ]
        assert len(new_leaders) == 1
        scenario.upstream.commit(
            {"apps/extra/configmap.yaml": configmap("extra", {"a": "b"})}, "extra"
        )
        more = names | {f"extra-{m.name}" for m in members}
        await scenario.wait_apps(
            lambda apps: set(apps) == more and all(map(synced_and_healthy, apps.values())),
            what="the new leader's ApplicationSet controller generates extra-*",
        )
        tg.cancel_scope.cancel()
