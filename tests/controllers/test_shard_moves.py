"""When shards move, clients are dropped under long-lived users: their shared watches must end
quietly, never take the controller down."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.clusters.manager import ClusterManager
from fleet.kube import Credentials
from fleet.sim import SimServer
from fleet.sync.discovery import Resource
from fleet.sync.watchhub import StreamEnded, WatchHub

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
            with anyio.fail_after(10):
                while listed != {"gone", "kept"}:
                    await anyio.sleep(0.01)
            # As the registry does when the cluster's shard moves away: its client is closed,
            # under the shared watch that still streams on it.
            await manager.remove("gone")
            with anyio.fail_after(10):
                while not ended:
                    await anyio.sleep(0.01)
            assert hub.streams == 1, "the failed stream is forgotten, the other one runs on"
            tg.cancel_scope.cancel()
