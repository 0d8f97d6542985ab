"""When shards move, clients are dropped under long-lived users: their shared watches must end
quietly, never take the controller down."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.clusters.manager import ClusterManager
from fleet.controllers.sharding import ShardCoordinator
from fleet.kube import Credentials
from fleet.sim import SimServer
from fleet.sync.discovery import Resource
from fleet.sync.watchhub import StreamEnded, WatchHub
from tests.clusters.harness import Env, create_namespace, hub_client

pytestmark = pytest.mark.anyio

CONFIGMAPS = Resource("", "v1", "ConfigMap", "configmaps", True)


async def test_a_client_closed_under_a_shared_watch_ends_that_watch_not_the_controller(
    tmp_path: Path,
) -> None:
    async with SimServer(names=["gone", "kept"], kubeconfig_dir=tmp_path) as sim:

        def credentials(name: str) -> Credentials:
            c = sim.clusters[name]
            ca = base64.b64decode(c.ca_data)
            return Credentials(server=c.server, token=c.token, ca_pem=ca)

        listed: set[str] = set()
        ended: list[BaseException] = []

        def on_reset(name: str) -> Any:
            async def reset(_items: list[dict[str, Any]]) -> None:
                listed.add(name)

            return reset

        async def on_event(_kind: str, _obj: dict[str, Any]) -> None:
            return None

        async def follow(api: Any, name: str) -> None:
            try:
                await hub.follow(api, CONFIGMAPS, "app", on_reset(name), on_event)
            except StreamEnded as error:
                ended.append(error)

        async with ClusterManager() as manager, anyio.create_task_group() as tg:
            for name in ("gone", "kept"):
                await manager.upsert(name, credentials(name))
            hub = WatchHub()
            manager.on_retire(hub.drop)  # as the controller wires them
            await tg.start(hub.run)
            tg.start_soon(follow, manager.client("gone"), "gone")
            tg.start_soon(follow, manager.client("kept"), "kept")
            with anyio.fail_after(60):  # a hang guard for a loaded machine, not a timing claim
                while listed != {"gone", "kept"}:
                    await anyio.sleep(0.01)
            # As the registry does when the cluster's shard moves away: its client is closed,
            # under the shared watch that still streams on it.
            await manager.remove("gone")
            with anyio.fail_after(60):  # a hang guard for a loaded machine, not a timing claim
                while not ended:
                    await anyio.sleep(0.01)
            assert hub.streams == 1, "the failed stream is forgotten, the other one runs on"
            tg.cancel_scope.cancel()


async def test_replicas_with_different_shard_counts_never_act_at_once_the_newcomer_waits(
    sim_env: Env,
) -> None:
    """--shards defaults to --workers, so pods with different CPU limits (or a rollout that
    changes them) can disagree on the shard count: cluster c is then in shard i of 2 and shard
    j of 4, two different Leases, and two replicas would both act on it. The replica whose
    count differs from the incumbents' waits until they are gone."""
    async with hub_client(sim_env) as hub:
        namespace = await create_namespace(hub, "shards")
        async with anyio.create_task_group() as tg:

            async def start(identity: str, shards: int) -> ShardCoordinator:
                coordinator = ShardCoordinator(hub, namespace, identity, shards, 2.0, 0.5)
                await tg.start(coordinator.run)
                return coordinator

            old = await start("old", 2)
            assert old.owned() == {0, 1}
            new = await start("new", 4)
            for _ in range(6):  # a few rounds: the newcomer takes nothing, the incumbent keeps all
                await anyio.sleep(0.5)
                assert new.owned() == frozenset() and old.owned() == {0, 1}
            await old.release()
            with anyio.fail_after(15):
                while new.owned() != {0, 1, 2, 3}:
                    await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
