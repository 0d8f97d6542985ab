"""Fixtures of the notification tests: a recording HTTP receiver, and (for the controller
tests) a hub with a member and a git server (tests/controllers): fleet.sim, and for
`scenario` also the session's real kube-apiserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clusters.harness import Env, simulated_env
from tests.controllers.harness import Scenario
from tests.notify.receiver import Receiver, receiver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sink() -> AsyncIterator[Receiver]:
    async with receiver() as made:
        yield made


@pytest.fixture
async def sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    async with simulated_env(tmp_path, ["m1"]) as env:
        yield env


@pytest.fixture
async def sim_scenario(sim_env: Env, tmp_path: Path) -> AsyncIterator[Scenario]:
    async with Scenario.open(sim_env, tmp_path) as made:
        yield made


@pytest.fixture(params=["sim", "real"])
async def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Scenario]:
    """fleet.sim, then the session's real kube-apiserver (tests/realshared.py)."""
    if request.param == "real":
        env: Env = request.getfixturevalue("shared_real")
        async with Scenario.open(env, tmp_path) as made:
            yield made
        return
    async with simulated_env(tmp_path, ["m1"]) as sim, Scenario.open(sim, tmp_path) as made:
        yield made
