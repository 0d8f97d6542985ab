"""Fault injection per cluster: latency, injected errors, dropped connections, hangs."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from fleet.sim import SimServer
from tests.sim.conftest import CM_PATH, Raw

pytestmark = pytest.mark.anyio


async def test_latency_delays_requests(raw: Raw) -> None:
    raw.cluster.faults.latency = 0.3
    loop = asyncio.get_running_loop()
    start = loop.time()
    code, _ = await raw.request("GET", CM_PATH)
    assert code == 200
    assert loop.time() - start >= 0.3


async def test_error_rate_one_answers_500(api_client: client.ApiClient, raw: Raw) -> None:
    raw.cluster.faults.error_rate = 1.0
    with pytest.raises(ApiException) as info:
        await client.CoreV1Api(api_client).list_namespace(_request_timeout=10)
    assert info.value.status == 500
    code, body = await raw.request("GET", CM_PATH)
    assert code == 500
    assert body["reason"] == "InternalError"


async def test_refuse_drops_connections(raw: Raw) -> None:
    raw.cluster.faults.refuse = True
    with pytest.raises(aiohttp.ClientError):
        await raw.request("GET", CM_PATH)
    raw.cluster.faults.refuse = False
    code, _ = await raw.request("GET", CM_PATH)
    assert code == 200


async def test_refuse_affects_only_its_cluster(raw: Raw, sim: SimServer) -> None:
    sim.clusters["cluster-2"].faults.refuse = True
    code, _ = await raw.request("GET", CM_PATH)
    assert code == 200


async def test_hang_never_answers(raw: Raw) -> None:
    raw.cluster.faults.hang = True
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(raw.request("GET", CM_PATH), 0.5)
    raw.cluster.faults.hang = False
    code, _ = await raw.request("GET", CM_PATH)
    assert code == 200


async def test_refuse_ends_open_watches(raw: Raw) -> None:
    headers = {"Authorization": f"Bearer {raw.token}"}
    async with raw.session.get(
        raw.cluster.server + CM_PATH,
        params={"watch": "1", "resourceVersion": "1"},
        headers=headers,
    ) as response:
        assert response.status == 200
        await asyncio.sleep(0.05)
        raw.cluster.faults.refuse = True
        with pytest.raises((aiohttp.ClientError, asyncio.IncompleteReadError)):
            while await asyncio.wait_for(response.content.readline(), 3):
                pass
            raise aiohttp.ClientPayloadError("stream ended")


async def test_admin_endpoint_sets_faults(raw: Raw, sim: SimServer) -> None:
    url = f"{sim.url}/_sim/clusters/cluster-1/faults"
    headers = {"Authorization": f"Bearer {raw.token}"}
    async with raw.session.patch(url, json={"error_rate": 1.0}, headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["error_rate"] == 1.0
    assert raw.cluster.faults.error_rate == 1.0
    code, _ = await raw.request("GET", CM_PATH)
    assert code == 500
    async with raw.session.put(url, json={}, headers=headers) as response:
        assert await response.json() == {
            "latency": 0.0,
            "error_rate": 0.0,
            "refuse": False,
            "hang": False,
        }
    async with raw.session.get(url) as response:
        assert response.status == 401
