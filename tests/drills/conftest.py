"""Fixtures of the failure drills: a fleet.sim hub with 20 members (fault injection per
cluster) for the fleet-wide drills, and a hub with three members for the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.controllers.harness import Scenario
from tests.drills.support import FLEET_SIZE, sim_env


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fleet_scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    """A hub and 20 member clusters c00..c19 on fleet.sim, each on a port of its own."""
    async with (
        sim_env(tmp_path / "sim", FLEET_SIZE) as env,
        Scenario.open(env, tmp_path) as made,
    ):
        yield made


@pytest.fixture
async def small_scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    """A hub and three members m1..m3 on fleet.sim."""
    async with (
        sim_env(tmp_path / "sim", 3, prefix="m", start=1) as env,
        Scenario.open(env, tmp_path) as made,
    ):
        yield made
