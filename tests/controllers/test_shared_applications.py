"""Each Application version is held once in a process, though two controllers watch it; its
desired objects are held stamped only while a reconcile uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from fleet.controllers.runtime import Controller
from fleet.controllers.shared_objects import SharedObjects
from tests.controllers.harness import Scenario, synced_and_healthy


def app(uid: str, version: str, phase: str = "Synced") -> dict[str, object]:
    return {
        "kind": "Application",
        "metadata": {"name": "web", "uid": uid, "resourceVersion": version},
        "status": {"sync": {"status": phase}},
    }


def test_the_same_uid_and_version_is_handed_out_as_the_object_already_held() -> None:
    shared = SharedObjects()
    first = shared.share(app("u1", "7"))
    assert shared.share(app("u1", "7")) is first


def test_a_newer_version_replaces_the_one_held() -> None:
    shared = SharedObjects()
    shared.share(app("u1", "7"))
    newer = shared.share(app("u1", "8", "OutOfSync"))
    assert newer["status"] == {"sync": {"status": "OutOfSync"}}
    assert shared.share(app("u1", "8")) is newer


def test_an_object_without_uid_or_version_is_never_shared() -> None:
    shared = SharedObjects()
    bare = {"kind": "Application", "metadata": {"name": "web"}}
    assert shared.share(bare) is bare
    assert len(shared) == 0


def test_a_deleted_object_is_no_longer_held() -> None:
    shared = SharedObjects()
    shared.share(app("u1", "7"))
    shared.forget(app("u1", "7"))
    assert len(shared) == 0


@asynccontextmanager
async def converged(scenario: Scenario) -> AsyncIterator[Controller]:
    """A controller running over the scenario's ApplicationSet, its 6 Applications Synced and
    Healthy."""
    for member in scenario.env.members:
        await scenario.register(member)
    await scenario.apply_appset(scenario.appset())
    async with scenario.controller() as controller:
        await scenario.wait_apps(
            lambda apps: len(apps) == 6 and all(synced_and_healthy(a) for a in apps.values()),
            timeout=60,
        )
        yield controller


@pytest.mark.anyio
async def test_both_controllers_hold_the_same_object_for_each_application(
    sim_scenario: Scenario,
) -> None:
    async with converged(sim_scenario) as controller:
        apps, appsets = controller.applications, controller.appsets
        assert apps is not None and appsets is not None

        def version(obj: dict[str, object]) -> object:
            return obj["metadata"]["resourceVersion"]  # type: ignore[index]

        with anyio.fail_after(30):  # both watches deliver the last status write
            while sorted(apps.apps) != sorted(appsets._apps) or any(
                version(apps.apps[n]) != version(appsets._apps[n]) for n in apps.apps
            ):
                await anyio.sleep(0.05)
        assert all(apps.apps[name] is appsets._apps[name] for name in apps.apps)


@pytest.mark.anyio
async def test_no_engine_holds_a_stamped_object_between_reconciles(sim_scenario: Scenario) -> None:
    async with converged(sim_scenario) as controller:
        apps = controller.applications
        assert apps is not None
        engines = [rt.engine for rt in apps._runtimes.values() if rt.engine is not None]
        assert len(engines) == 6
        plans = [plan for engine in engines for plan in engine.desired.values()]
        assert plans
        assert not any(plan.holds_stamped for plan in plans)
