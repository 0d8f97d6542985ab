"""WatchHub: one stream per (cluster, kind) shared by the Applications deployed there."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup

from fleet.kube import Credentials, build_api_client, request_json
from fleet.sim import SimServer
from fleet.sync.discovery import Resource
from fleet.sync.tracking import LABEL
from fleet.sync.watchhub import WatchHub

pytestmark = pytest.mark.anyio

CONFIGMAPS = Resource("", "v1", "ConfigMap", "configmaps", True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.resets = 0

    async def on_reset(self, items: list[dict[str, Any]]) -> None:
        self.resets += 1
        self.names = {i["metadata"]["name"] for i in items}

    async def on_event(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.names.discard(name)
        else:
            self.names.add(name)


async def create(api: Any, name: str, app: str) -> None:
    body = {"metadata": {"name": name, "namespace": "default", "labels": {LABEL: app}}}
    await request_json(api, "POST", "/api/v1/namespaces/default/configmaps", body=body)


async def until(predicate: Any) -> None:
    with anyio.fail_after(5):
        while not predicate():
            await anyio.sleep(0.01)


@asynccontextmanager
async def hub_on_sim(tmp_path: Path) -> AsyncIterator[tuple[Any, WatchHub, TaskGroup]]:
    """A running WatchHub and a client of a one-cluster fleet.sim; stopped on exit."""
    async with SimServer(names=["c1"], kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["c1"]
        creds = Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        async with build_api_client(creds) as api, anyio.create_task_group() as tg:
            hub = WatchHub()
            await tg.start(hub.run)
            yield api, hub, tg
            tg.cancel_scope.cancel()


async def test_followers_of_one_cluster_and_kind_share_one_stream_and_see_only_their_own(
    tmp_path: Path,
) -> None:
    async with hub_on_sim(tmp_path) as (api, hub, tg):
        await create(api, "a-1", "app-a")
        a, b = Recorder(), Recorder()
        tg.start_soon(hub.follow, api, CONFIGMAPS, "app-a", a.on_reset, a.on_event)
        await until(lambda: a.resets == 1)
        tg.start_soon(hub.follow, api, CONFIGMAPS, "app-b", b.on_reset, b.on_event)
        await until(lambda: b.resets == 1)  # a late follower gets the snapshot at once
        await create(api, "b-1", "app-b")
        await create(api, "a-2", "app-a")
        await until(lambda: a.names == {"a-1", "a-2"} and b.names == {"b-1"})
        assert hub.streams == 1


async def test_the_stream_stops_when_its_last_follower_leaves(tmp_path: Path) -> None:
    async with hub_on_sim(tmp_path) as (api, hub, tg):
        a = Recorder()
        leave = anyio.CancelScope()

        async def follow() -> None:
            with leave:
                await hub.follow(api, CONFIGMAPS, "app-a", a.on_reset, a.on_event)

        tg.start_soon(follow)
        await until(lambda: a.resets == 1)
        assert hub.streams == 1
        leave.cancel()
        await until(lambda: hub.streams == 0)


async def test_a_joined_follower_needs_no_task_and_hears_nothing_once_it_leaves(
    tmp_path: Path,
) -> None:
    async with hub_on_sim(tmp_path) as (api, hub, tg):
        await create(api, "a-1", "app-a")
        first = Recorder()
        tg.start_soon(hub.follow, api, CONFIGMAPS, "app-a", first.on_reset, first.on_event)
        await until(lambda: first.resets == 1)
        ends: list[str] = []
        joined = Recorder()
        leave = await hub.join(
            api, CONFIGMAPS, "app-a", joined.on_reset, joined.on_event, on_end=ends.append
        )
        assert joined.names == {"a-1"}  # the snapshot, before join returns
        await create(api, "a-2", "app-a")
        await until(lambda: joined.names == {"a-1", "a-2"})
        leave()
        leave()  # leaving twice is harmless
        await create(api, "a-3", "app-a")
        await until(lambda: first.names == {"a-1", "a-2", "a-3"})
        assert joined.names == {"a-1", "a-2"} and ends == []


async def test_followers_are_not_told_of_an_end_when_the_hub_itself_stops(
    tmp_path: Path,
) -> None:
    ends: list[str] = []
    async with hub_on_sim(tmp_path) as (api, hub, _tg):
        joined = Recorder()
        await hub.join(
            api, CONFIGMAPS, "app-a", joined.on_reset, joined.on_event, on_end=ends.append
        )
        await until(lambda: joined.resets == 1)
    assert hub.streams == 0  # the hub stopped with its task group, and its stream with it
    assert ends == []


async def test_a_joined_follower_hears_when_its_stream_ends(tmp_path: Path) -> None:
    async with hub_on_sim(tmp_path) as (api, hub, _tg):
        ends: list[str] = []
        joined = Recorder()
        await hub.join(
            api, CONFIGMAPS, "app-a", joined.on_reset, joined.on_event, on_end=ends.append
        )
        await until(lambda: joined.resets == 1)
        hub.drop(api)  # the cluster's client is retired
        await until(lambda: ends == ["its cluster client was retired"])
