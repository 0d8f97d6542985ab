"""`port_per_cluster=True`: every cluster also gets a port of its own."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import pytest

from fleet.sim import SimServer
from tests.sim.conftest import CM_PATH, Raw

pytestmark = pytest.mark.anyio


async def test_port_per_cluster_refuse_stops_listening() -> None:
    async with SimServer(2, port_per_cluster=True) as sim:
        first, second = sim.clusters["cluster-1"], sim.clusters["cluster-2"]
        assert first.port != second.port != sim.port
        context = ssl.create_default_context(cafile=str(first.ca_file))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as s:
            raw = Raw(first, s, first.token)
            code, _ = await raw.request("GET", CM_PATH)
            assert code == 200
            first.faults.refuse = True
            with pytest.raises(aiohttp.ClientConnectorError) as info:
                await raw.request("GET", CM_PATH)
            assert isinstance(info.value.os_error, ConnectionRefusedError)
            code, _ = await Raw(second, s, second.token).request("GET", CM_PATH)
            assert code == 200
            first.faults.refuse = False
            await asyncio.sleep(0.01)
            code, _ = await raw.request("GET", CM_PATH)
            assert code == 200


async def test_port_per_cluster_serves_paths_without_prefix() -> None:
    async with SimServer(2, port_per_cluster=True) as sim:
        cluster = sim.clusters["cluster-2"]
        context = ssl.create_default_context(cafile=str(cluster.ca_file))
        headers = {"Authorization": f"Bearer {cluster.token}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as s:
            url = f"https://127.0.0.1:{cluster.port}/api/v1/namespaces/default"
            async with s.get(url, headers=headers) as response:
                assert response.status == 200
            async with s.get(f"{sim.url}/api/v1/namespaces", headers=headers) as response:
                assert response.status == 404
