"""Fixtures of the notification tests: a recording HTTP receiver, and (for the controller
tests) a fleet.sim hub with three members and a git server (tests/controllers)."""

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
