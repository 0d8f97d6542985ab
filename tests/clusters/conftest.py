"""Fixtures: every backend-parametrised test runs on fleet.sim and on real kube-apiservers.

The real harness (etcd + hub + 2 members) is started once per session; the simulator is
started per test (well under a second) so fault injection never leaks between tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from tests.clusters.harness import (
    Env,
    create_namespace,
    hub_client,
    install_crd,
    simulated_env,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def real_env(shared_real: Env) -> Env:
    """The session's real hub with two of its members."""
    return Env("real", shared_real.hub, shared_real.members[:2])


async def _sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    async with simulated_env(tmp_path, ["member-1", "member-2"]) as env:
        yield env


@pytest.fixture(params=["sim", "real"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    if request.param == "real":
        yield request.getfixturevalue("real_env")
        return
    async for made in _sim_env(tmp_path):
        yield made


@pytest.fixture
async def sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    """The simulator only: for fault injection (refuse, hang, error rate)."""
    async for made in _sim_env(tmp_path):
        yield made


@pytest.fixture
async def hub(env: Env) -> AsyncIterator[ApiClient]:
    async with hub_client(env) as api:
        await install_crd(api)
        yield api


@pytest.fixture
async def namespace(hub: ApiClient) -> str:
    return await create_namespace(hub)


@pytest.fixture
async def sim_hub(sim_env: Env) -> AsyncIterator[ApiClient]:
    async with hub_client(sim_env) as api:
        await install_crd(api)
        yield api


@pytest.fixture
async def sim_namespace(sim_hub: ApiClient) -> str:
    return await create_namespace(sim_hub)
