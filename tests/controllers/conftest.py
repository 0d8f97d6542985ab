"""Fixtures of the controller suites: a hub and three members on fleet.sim or on real
kube-apiservers (with StatusAgents settling workloads), a git server, and the controller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clusters.harness import Env, simulated_env
from tests.controllers.harness import Scenario


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def real_env(shared_real: Env) -> Env:
    """The session's real hub and its three members (StatusAgents settle workloads)."""
    return shared_real


async def _sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    async with simulated_env(tmp_path, ["m1", "m2", "m3"]) as env:
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
    async for made in _sim_env(tmp_path):
        yield made


@pytest.fixture
async def scenario(env: Env, tmp_path: Path) -> AsyncIterator[Scenario]:
    async with Scenario.open(env, tmp_path) as made:
        yield made


@pytest.fixture
async def sim_scenario(sim_env: Env, tmp_path: Path) -> AsyncIterator[Scenario]:
    async with Scenario.open(sim_env, tmp_path) as made:
        yield made
