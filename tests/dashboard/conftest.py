"""A controller with its dashboard on fleet.sim: hub, two members, a git repo, one
ApplicationSet (automated sync without selfHeal, so drift stays visible)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.controllers.runtime import Controller
from tests.clusters.harness import simulated_env
from tests.controllers.harness import Scenario, synced_and_healthy


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Running:
    scenario: Scenario
    controller: Controller

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.controller.port}"


def no_self_heal(scenario: Scenario) -> dict[str, Any]:
    doc = scenario.appset("demo")
    doc["spec"]["template"]["spec"]["syncPolicy"] = {
        "automated": {"prune": True},
        "syncOptions": ["CreateNamespace=true"],
    }
    return doc


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with (
        simulated_env(tmp_path, ["m1", "m2"]) as env,
        Scenario.open(env, tmp_path) as scenario,
    ):
        for member in env.members:
            await scenario.register(member)
        await scenario.apply_appset(no_self_heal(scenario))
        async with scenario.controller() as controller:
            await scenario.wait_apps(
                lambda apps: len(apps) == 4 and all(synced_and_healthy(a) for a in apps.values()),
                timeout=60,
            )
            dashboard = controller.dashboard
            assert dashboard is not None
            with anyio.fail_after(30):  # the feed reads the ApplicationSet cache in turn
                while "demo" not in dashboard.store.appsets:
                    await anyio.sleep(0.05)
            yield Running(scenario, controller)
