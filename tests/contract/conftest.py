"""Fixtures of the contract suite: every test runs once per backend, through the wire protocol."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from kubernetes_asyncio import client

from tests.contract.backends import Backend, real_backend, sim_backend

TIMEOUT = 15


@pytest.fixture(scope="session", params=["sim", "real"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    starter = sim_backend if request.param == "sim" else real_backend
    with starter() as started:
        yield started


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def api_client(backend: Backend, token: str | None = None) -> client.ApiClient:
    config = client.Configuration()
    config.host = backend.server
    config.ssl_ca_cert = str(backend.ca_file)
    config.api_key = {"BearerToken": token or backend.token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(config)


@pytest.fixture
async def api(backend: Backend) -> AsyncIterator[client.ApiClient]:
    async with api_client(backend) as api_client_:
        yield api_client_


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session for what the typed client hides: status bodies, watch streams, discovery."""
    context = ssl.create_default_context(cafile=str(backend.ca_file))
    async with aiohttp.ClientSession(
        base_url=backend.server.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {backend.token}"},
        connector=aiohttp.TCPConnector(ssl=context),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT),
    ) as session:
        yield session


@pytest.fixture
async def namespace(api: client.ApiClient) -> AsyncIterator[str]:
    name = f"contract-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": name}}, _request_timeout=TIMEOUT)
    yield name
    await core.delete_namespace(name, _request_timeout=TIMEOUT)
