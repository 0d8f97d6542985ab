"""Fixtures of the hook suite: every cluster test runs on fleet.sim and on the session's shared
real kube-apiserver (`shared_real`, whose members run the e2e StatusAgent settling Jobs and
Pods), each in a namespace of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from dataclasses import dataclass

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.kube import Credentials, build_api_client, request_json


@dataclass(frozen=True)
class Target:
    """One member cluster to sync into."""

    backend: str
    server: str
    ca_pem: bytes
    token: str


@pytest.fixture(scope="session")
def sim_target() -> Iterator[Target]:
    from anyio.from_thread import start_blocking_portal

    from fleet.sim import SimServer

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(SimServer(clusters=1)) as sim,
    ):
        cluster = sim.clusters["cluster-1"]
        yield Target("sim", cluster.server, cluster.ca_file.read_bytes(), cluster.token)


@pytest.fixture(params=["sim", "real"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "sim":
        found: Target = request.getfixturevalue("sim_target")
        return found
    env = request.getfixturevalue("shared_real")
    member = env.members[0]
    return Target("real", member.server, member.ca_pem, member.token)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(target: Target) -> AsyncIterator[ApiClient]:
    client = build_api_client(
        Credentials(server=target.server, token=target.token, ca_pem=target.ca_pem)
    )
    async with client:
        yield client


@pytest.fixture
async def namespace(api: ApiClient) -> AsyncIterator[str]:
    """A fresh namespace name (the engine creates it: CreateNamespace=true), deleted after."""
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    yield name
    with suppress(Exception):
        await request_json(api, "DELETE", f"/api/v1/namespaces/{name}")
