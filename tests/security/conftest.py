"""Fixtures shared by the hostile-input suite: a fleet.sim hub with two members, the Cluster
CRD installed, and a fresh hub namespace per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from tests.clusters.harness import Env, create_namespace, hub_client, install_crd, simulated_env


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Env]:
    async with simulated_env(tmp_path, ["member-1", "member-2"]) as env:
        yield env


@pytest.fixture
async def hub(sim: Env) -> AsyncIterator[ApiClient]:
    async with hub_client(sim) as api:
        await install_crd(api)
        yield api


@pytest.fixture
async def namespace(hub: ApiClient) -> str:
    return await create_namespace(hub)
