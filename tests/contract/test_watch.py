"""Watch: how fleet notices drift without polling. Resume, selectors, and 410 on a lost history."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anyio
import pytest

from tests.contract.backends import Backend
from tests.contract.objects import config_map

pytestmark = pytest.mark.anyio


async def _list_version(http: aiohttp.ClientSession, path: str) -> str:
    async with http.get(path) as response:
        version: str = (await response.json())["metadata"]["resourceVersion"]
    return version


async def _events(
    http: aiohttp.ClientSession, path: str, params: dict[str, str], count: int
) -> list[dict[str, Any]]:
    """The first `count` non-bookmark events of a watch."""
    events: list[dict[str, Any]] = []
    query = {"watch": "true", "timeoutSeconds": "10", **params}
    with anyio.fail_after(15):
        async with http.get(path, params=query) as response:
            assert response.status == 200
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] != "BOOKMARK":
                    events.append(event)
                if len(events) == count:
                    break
    return events


async def test_watch_from_a_list_version_sees_every_later_change_in_order(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    since = await _list_version(http, path)
    async with http.post(path, json=config_map("w", {"k": "1"})) as response:
        assert response.status == 201
    async with http.patch(
        f"{path}/w",
        json={"data": {"k": "2"}},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as response:
        assert response.status == 200
    async with http.delete(f"{path}/w") as response:
        assert response.status == 200
    # Only this object's events: a real cluster's root-CA publisher may add kube-root-ca.crt
    # to a new namespace at any moment.
    query = {"resourceVersion": since, "fieldSelector": "metadata.name=w"}
    events = await _events(http, path, query, 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]
    assert events[1]["object"]["data"] == {"k": "2"}


async def test_watch_honours_the_label_selector(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    since = await _list_version(http, path)
    for name, managed in (("other", "no"), ("mine", "yes")):
        async with http.post(path, json=config_map(name, managed=managed)) as response:
            assert response.status == 201
    events = await _events(
        http, path, {"resourceVersion": since, "labelSelector": "managed=yes"}, 1
    )
    assert events[0]["object"]["metadata"]["name"] == "mine"


async def test_watch_stream_ends_at_timeout_seconds_with_only_bookmarks_if_idle(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    since = await _list_version(http, path)
    query = {
        "watch": "true",
        "resourceVersion": since,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "2",
        # Controllers may add objects (kube-root-ca.crt) to a new namespace: select none of them.
        "labelSelector": "contract=idle",
    }
    kinds: list[str] = []
    with anyio.fail_after(10):
        async with http.get(path, params=query) as response:
            assert response.status == 200
            async for line in response.content:
                if line.strip():
                    kinds.append(json.loads(line)["type"])
    # Nothing changed, so nothing but bookmarks may come; the stream must end by itself at
    # timeoutSeconds (fail_after above fails the test otherwise).
    assert set(kinds) <= {"BOOKMARK"}


def _event(name: str, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": namespace},
        "reason": "Contract",
        "message": "history",
    }


async def test_watch_from_a_version_older_than_the_history_is_gone(
    backend: Backend, http: aiohttp.ClientSession, namespace: str
) -> None:
    # Events: the real API server keeps no watch cache for them, so after a compaction an old
    # resourceVersion must be answered from etcd's lost history (other kinds may be served from
    # the cache's longer memory).
    path = f"api/v1/namespaces/{namespace}/events"
    versions = []
    for index in range(3):
        async with http.post(path, json=_event(f"e{index}", namespace)) as response:
            assert response.status == 201
            versions.append((await response.json())["metadata"]["resourceVersion"])
    await anyio.to_thread.run_sync(backend.expire_history)
    query = {"watch": "true", "resourceVersion": versions[0], "timeoutSeconds": "5"}
    with anyio.fail_after(10):
        async with http.get(path, params=query) as response:
            if response.status == 410:
                return
            assert response.status == 200
            first = json.loads(await response.content.readline())
    assert first["type"] == "ERROR"
    assert first["object"]["code"] == 410
    assert first["object"]["reason"] in ("Expired", "Gone")
