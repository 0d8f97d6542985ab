"""Objects a watch hands over come without managedFields (often most of an object's size, and
every cache of Applications, Clusters or live objects held them), unless the caller asks, and
share their short strings with every other object held."""

from __future__ import annotations

import base64
import gc
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.kube import Credentials, build_api_client, request_json
from fleet.kube.watch import WATCH_MAX_DEPTH, _readable, list_and_watch
from fleet.sim import SimServer

pytestmark = pytest.mark.anyio

PATH = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def seen_objects(tmp_path: Path, *, managed_fields: bool) -> list[dict[str, Any]]:
    """One object listed, one from a watch event, as list_and_watch hands them over."""
    seen: list[dict[str, Any]] = []
    async with SimServer(names=["c1"], kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["c1"]
        creds = Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        async with build_api_client(creds) as api, anyio.create_task_group() as tg:

            async def apply(name: str) -> None:
                await request_json(
                    api,
                    "PATCH",
                    f"{PATH}/{name}",
                    body={
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": name},
                        "data": {"key": "value"},
                    },
                    query={"fieldManager": "test", "force": "true"},
                    content_type="application/apply-patch+yaml",
                )

            async def on_reset(items: list[dict[str, Any]]) -> None:
                seen.extend(items)

            async def on_event(_kind: str, obj: dict[str, Any]) -> None:
                seen.append(obj)

            await apply("listed")
            tg.start_soon(
                lambda: list_and_watch(
                    api, PATH, on_reset=on_reset, on_event=on_event, managed_fields=managed_fields
                )
            )
            with anyio.fail_after(30):
                while not seen:
                    await anyio.sleep(0.02)
                await apply("watched")
                while len(seen) < 2:
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
    return seen


async def test_listed_and_watched_objects_come_without_managed_fields(tmp_path: Path) -> None:
    seen = await seen_objects(tmp_path, managed_fields=False)
    assert [o["metadata"]["name"] for o in seen] == ["listed", "watched"]
    assert all("managedFields" not in o["metadata"] for o in seen)


async def test_a_listed_and_a_watched_object_share_their_equal_values(tmp_path: Path) -> None:
    listed, watched = await seen_objects(tmp_path, managed_fields=False)
    assert listed["data"]["key"] is watched["data"]["key"]
    assert listed["metadata"]["namespace"] is watched["metadata"]["namespace"]


async def test_a_caller_that_reads_managed_fields_gets_them(tmp_path: Path) -> None:
    seen = await seen_objects(tmp_path, managed_fields=True)
    assert all(o["metadata"]["managedFields"] for o in seen)


def nested(depth: int) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for _ in range(depth):
        obj = {"a": obj}
    return {"metadata": {"name": "deep"}, "spec": obj}


def test_a_watched_object_nested_deeper_than_the_bound_is_skipped() -> None:
    obj = nested(WATCH_MAX_DEPTH + 10)
    assert not _readable(obj, PATH, json.dumps(obj).encode())


def test_a_watched_object_within_the_bound_is_read_with_or_without_its_text() -> None:
    many_brackets = {"metadata": {"name": "x"}, "data": {"k": "{[" * WATCH_MAX_DEPTH}}
    for obj in (nested(WATCH_MAX_DEPTH - 10), many_brackets):
        assert _readable(obj, PATH, json.dumps(obj).encode())
        assert _readable(obj, PATH)


async def test_the_listing_is_not_kept_alive_while_its_watch_runs(tmp_path: Path) -> None:
    # A watch runs for minutes; had it kept the LIST response, every listed object would
    # stay in memory beside the newer versions its events bring.
    async with SimServer(names=["c1"], kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["c1"]
        creds = Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        async with build_api_client(creds) as api, anyio.create_task_group() as tg:
            listed = anyio.Event()

            async def on_reset(_items: list[dict[str, Any]]) -> None:
                listed.set()

            async def on_event(_kind: str, _obj: dict[str, Any]) -> None:
                return None

            tg.start_soon(lambda: list_and_watch(api, PATH, on_reset=on_reset, on_event=on_event))
            await listed.wait()
            await anyio.sleep(0.2)  # the watch request is open
            gc.collect()
            listings = [
                o
                for o in gc.get_objects()
                if isinstance(o, dict) and o.get("kind") == "ConfigMapList"
            ]
            tg.cancel_scope.cancel()
    assert listings == []
