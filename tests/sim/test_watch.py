"""Watch streams: event types, resume, bookmarks, timeouts, 410 Gone, selectors."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, cast

import aiohttp
import pytest
from kubernetes_asyncio import client, watch

from fleet.sim import SimServer
from tests.sim.conftest import CM_PATH, Raw, configmap

pytestmark = pytest.mark.anyio


async def _lines(raw: Raw, params: dict[str, str], count: int) -> list[dict[str, Any]]:
    """Read `count` events of a raw watch (or fewer, if the stream ends)."""
    headers = {"Authorization": f"Bearer {raw.token}"}
    out: list[dict[str, Any]] = []
    async with raw.session.get(
        raw.cluster.server + CM_PATH, params={"watch": "true", **params}, headers=headers
    ) as response:
        assert response.status == 200
        while len(out) < count:
            line = await asyncio.wait_for(response.content.readline(), 5)
            if not line:
                break
            out.append(json.loads(line))
    return out


async def test_watch_streams_added_modified_deleted(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    listed = await core.list_namespaced_config_map("default", _request_timeout=10)
    rv = listed.metadata.resource_version
    await core.create_namespaced_config_map(
        "default", cast(Any, configmap("w")), _request_timeout=10
    )
    await core.patch_namespaced_config_map(
        "w", "default", {"data": {"a": "2"}}, _request_timeout=10
    )
    await core.delete_namespaced_config_map("w", "default", _request_timeout=10)
    seen = []
    async with watch.Watch() as w:
        async for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=rv,
            timeout_seconds=2,
            _request_timeout=10,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                break
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_watch_without_resource_version_starts_with_current_state(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a"))
    events = await _lines(raw, {"timeoutSeconds": "1"}, 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a")]
    assert events[0]["object"]["kind"] == "ConfigMap"


async def test_watch_resumes_after_resource_version(raw: Raw) -> None:
    _, a = await raw.request("POST", CM_PATH, configmap("a"))
    await raw.request("POST", CM_PATH, configmap("b"))
    events = await _lines(
        raw, {"resourceVersion": a["metadata"]["resourceVersion"], "timeoutSeconds": "1"}, 1
    )
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]


async def test_watch_delivers_live_events_quickly(raw: Raw) -> None:
    _, listed = await raw.request("GET", CM_PATH)
    rv = listed["metadata"]["resourceVersion"]

    async def create_later() -> None:
        await asyncio.sleep(0.1)
        await raw.request("POST", CM_PATH, configmap("late"))

    task = asyncio.create_task(create_later())
    events = await _lines(raw, {"resourceVersion": rv, "timeoutSeconds": "3"}, 1)
    await task
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["metadata"]["name"] == "late"


async def test_bookmarks_are_sent_when_allowed(raw: Raw) -> None:
    _, listed = await raw.request("GET", CM_PATH)
    events = await _lines(
        raw,
        {
            "resourceVersion": listed["metadata"]["resourceVersion"],
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "2",
        },
        1,
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert events[0]["object"]["metadata"]["resourceVersion"].isdigit()


async def test_timeout_seconds_ends_the_stream(raw: Raw) -> None:
    _, listed = await raw.request("GET", CM_PATH)
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = await _lines(
        raw, {"resourceVersion": listed["metadata"]["resourceVersion"], "timeoutSeconds": "1"}, 5
    )
    assert events == []
    assert 0.9 <= loop.time() - start < 3


async def test_too_old_resource_version_gets_410_error_event() -> None:
    async with SimServer(1, watch_retention=3) as sim:
        cluster = sim.clusters["cluster-1"]
        context = ssl.create_default_context(cafile=str(cluster.ca_file))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as s:
            raw = Raw(cluster, s, cluster.token)
            _, first = await raw.request("POST", CM_PATH, configmap("a"))
            for name in "bcdef":
                await raw.request("POST", CM_PATH, configmap(name))
            events = await _lines(raw, {"resourceVersion": first["metadata"]["resourceVersion"]}, 1)
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert status["message"].startswith("too old resource version")


async def test_label_selector_turns_unmatching_update_into_deleted(raw: Raw) -> None:
    _, listed = await raw.request("GET", CM_PATH)
    rv = listed["metadata"]["resourceVersion"]
    await raw.request("POST", CM_PATH, configmap("a", labels={"app": "web"}))
    await raw.request("POST", CM_PATH, configmap("b", labels={"app": "db"}))
    await raw.request(
        "PATCH",
        CM_PATH + "/a",
        {"metadata": {"labels": {"app": "old"}}},
        content_type="application/merge-patch+json",
    )
    events = await _lines(
        raw, {"resourceVersion": rv, "labelSelector": "app=web", "timeoutSeconds": "1"}, 2
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("DELETED", "a"),
    ]


async def test_field_selector_applies_to_watch(raw: Raw) -> None:
    _, listed = await raw.request("GET", CM_PATH)
    rv = listed["metadata"]["resourceVersion"]
    for name in ("a", "b"):
        await raw.request("POST", CM_PATH, configmap(name))
    events = await _lines(
        raw, {"resourceVersion": rv, "fieldSelector": "metadata.name=b", "timeoutSeconds": "1"}, 2
    )
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]


async def test_watch_of_disconnected_client_is_released(raw: Raw) -> None:
    store = raw.cluster.state.store
    headers = {"Authorization": f"Bearer {raw.token}"}
    async with raw.session.get(
        raw.cluster.server + CM_PATH,
        params={"watch": "1", "resourceVersion": "1"},
        headers=headers,
    ) as response:
        assert response.status == 200
        await asyncio.sleep(0.05)
        assert store.watch_count() == 1
        response.close()
    for _ in range(50):
        if store.watch_count() == 0:
            break
        await asyncio.sleep(0.02)
    assert store.watch_count() == 0


class _Collected:
    """Stands in for the HTTP response: what the stream writes, in order."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.chunks.append(data)


@pytest.mark.parametrize("interval", [0.0, -1.0, float("inf"), float("nan")])
def test_a_server_refuses_a_bookmark_interval_that_is_not_positive(interval: float) -> None:
    """At 0 or less every watch that asks for bookmarks would send them back to back."""
    with pytest.raises(ValueError, match="bookmark_interval"):
        SimServer(bookmark_interval=interval)


async def test_an_event_queued_as_a_bookmark_falls_due_is_still_sent() -> None:
    """The livelock: a due bookmark is skipped for a waiting event, then the wait for that event
    used a timeout of zero or less, was cancelled before it read, and the stream spun until
    timeoutSeconds without sending the event."""
    from fleet.sim.kinds import BUILTIN_TYPES
    from fleet.sim.store import Event
    from fleet.sim.watch import Encoder, _Filter, _stream

    rt = next(t for t in BUILTIN_TYPES if t.kind == "ConfigMap")
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}
    queue.put_nowait(Event(7, rt.gr, "default", "ADDED", obj, None))
    ticks = iter([0.0, 0.0, 0.5, 1.0, 1.5])  # bookmark due at 0.1, deadline at 1.0
    response = _Collected()
    from fleet.sim.selectors import parse_field_selector, parse_label_selector

    await _stream(
        cast(Any, response),
        queue,
        Encoder(rt),
        _Filter(parse_label_selector(None), parse_field_selector(None)),
        store_rv=lambda: 7,
        timeout=1.0,
        bookmark_interval=0.1,
        clock=lambda: next(ticks),
    )
    sent = [json.loads(line) for chunk in response.chunks for line in chunk.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in sent] == [("ADDED", "late")]
