"""Fixtures of the Argo CD mode suites: a hub and three members on fleet.sim or on the
session's real kube-apiservers (tests/realshared.py), as in tests/controllers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clusters.harness import Env, simulated_env


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sim", "real"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    if request.param == "real":
        yield request.getfixturevalue("shared_real")
        return
    async with simulated_env(tmp_path, ["m1", "m2", "m3"]) as made:
        yield made
