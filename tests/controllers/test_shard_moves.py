"""When shards move, clients are dropped under long-lived users: their shared watches must end
quietly, never take the controller down."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.kube import Credentials, build_api_client
from fleet.sim import SimServer
from fleet.sync.discovery import Resource
from fleet.sync.watchhub import StreamEnded, WatchHub

pytestmark = pytest.mark.anyio

CONFIGMAPS = Resource("", "v1", "ConfigMap", "configmaps", True)


async def test_a_client_closed_under_a_shared_watch_ends_that_watch_not_the_controller(
    tmp_path: Path,
) -> None:
    async with SimServer(names=["gone", "kept"], kubeconfig_dir=tmp_path) as sim:

        def client(name: str) -> Any:
            c = sim.clusters[name]
            ca = base64.b64decode(c.ca_data)
            return build_api_client(Credentials(server=c.server, token=c.token, ca_pem=ca))

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

        async with client("kept") as kept, anyio.create_task_group() as tg:
            hub = WatchHub()
            await tg.start(hub.run)
            gone = client("gone")
            tg.start_soon(follow, gone, "gone")
            tg.start_soon(follow, kept, "kept")
            with anyio.fail_after(10):
                while listed != {"gone", "kept"}:
                    await anyio.sleep(0.01)
            await gone.close()  # as the registry does when the cluster's shard moves away
            with anyio.fail_after(30):
                while not ended:
                    await anyio.sleep(0.01)
            assert hub.streams == 1, "the failed stream is forgotten, the other one runs on"
            tg.cancel_scope.cancel()
