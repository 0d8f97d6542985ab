"""TLS with the generated CA and per-cluster bearer tokens."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
from kubernetes_asyncio import client

from fleet.sim import SimServer
from tests.sim.conftest import CM_PATH, Raw, configmap

pytestmark = pytest.mark.anyio


async def test_admin_token_lists_namespaces_over_verified_tls(api_client: client.ApiClient) -> None:
    namespaces = await client.CoreV1Api(api_client).list_namespace(_request_timeout=10)
    names = {ns.metadata.name for ns in namespaces.items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


async def test_missing_token_is_401_status(raw: Raw) -> None:
    code, body = await raw.request("GET", CM_PATH, token="")
    assert code == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


async def test_token_of_another_cluster_is_401(raw: Raw, sim: SimServer) -> None:
    code, _ = await raw.request("GET", CM_PATH, token=sim.clusters["cluster-2"].token)
    assert code == 401


async def test_readonly_token_reads(raw: Raw) -> None:
    code, body = await raw.request("GET", CM_PATH, token=raw.cluster.readonly_token)
    assert code == 200
    assert body["kind"] == "ConfigMapList"


async def test_readonly_token_write_is_403_forbidden(raw: Raw) -> None:
    code, body = await raw.request(
        "POST", CM_PATH, configmap("x"), token=raw.cluster.readonly_token
    )
    assert code == 403
    assert body["reason"] == "Forbidden"
    assert body["details"] == {"kind": "configmaps"}
    assert 'cannot create resource "configmaps" in API group ""' in body["message"]
    assert 'in the namespace "default"' in body["message"]


async def test_tls_rejects_clients_without_the_ca(sim: SimServer) -> None:
    context = ssl.create_default_context()  # system CAs only
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(sim.clusters["cluster-1"].server + "/version")


async def test_unknown_cluster_is_404(raw: Raw, sim: SimServer) -> None:
    async with raw.session.get(f"{sim.url}/clusters/nope/api") as response:
        assert response.status == 404
