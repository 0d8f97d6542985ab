"""Drift is seen, not only healed: without selfHeal (or without automated sync) a change on a
member turns the Application OutOfSync from the shared watch within seconds, as Argo CD's live
cache does, and nothing is written to the member. The resync period is an hour here, so only
the watch can be what noticed."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from fleet.kube import request_json
from tests.controllers.harness import Scenario, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio

HOUR = 3600.0


def sync_status(apps: dict[str, Obj], name: str) -> str:
    return str(((apps.get(name) or {}).get("status") or {}).get("sync", {}).get("status"))


async def edit_member_configmap(scenario: Scenario, mode: str) -> None:
    member = scenario.members[scenario.member(0).name]
    path = f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/api-config"
    await request_json(
        member,
        "PATCH",
        path,
        body={"data": {"mode": mode}},
        content_type="application/merge-patch+json",
    )


async def converge(scenario: Scenario, name: str) -> None:
    await scenario.register(scenario.member(0))
    await scenario.create_application(
        name,
        scenario.api_spec(
            {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
        ),
    )
    await scenario.wait_apps(
        lambda apps: name in apps and synced_and_healthy(apps[name]),
        what=f"{name} Synced and Healthy",
    )


async def test_without_self_heal_a_member_change_turns_the_application_out_of_sync(
    scenario: Scenario,
) -> None:
    async with scenario.controller(resync_period=HOUR):
        await converge(scenario, "api")
        await edit_member_configmap(scenario, "slow")
        await scenario.wait_apps(
            lambda apps: sync_status(apps, "api") == "OutOfSync",
            timeout=60.0,
            what="api OutOfSync from the watch (resync is an hour away)",
        )
        await anyio.sleep(1.0)  # automated sync without selfHeal must not revert it
        live = await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
    assert live is not None and live["data"] == {"mode": "slow"}


async def test_a_change_reverted_by_hand_turns_the_application_synced_again(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    async with scenario.controller(resync_period=HOUR):
        await converge(scenario, "api")
        await edit_member_configmap(scenario, "slow")
        await scenario.wait_apps(
            lambda apps: sync_status(apps, "api") == "OutOfSync", what="api OutOfSync"
        )
        await edit_member_configmap(scenario, "fast")
        await scenario.wait_apps(
            lambda apps: sync_status(apps, "api") == "Synced", what="api Synced again"
        )


async def test_without_automated_sync_drift_is_seen_and_nothing_is_written(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    async with scenario.controller(resync_period=HOUR) as controller:
        await converge(scenario, "api")
        path = f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{scenario.namespace}/applications/api"
        await request_json(
            scenario.hub,
            "PATCH",
            path,
            body={"spec": {"syncPolicy": {"automated": None}}},
            content_type="application/merge-patch+json",
        )
        assert controller.applications is not None
        apps = controller.applications
        with anyio.fail_after(60):  # the manual spec reached the controller's cache
            while (
                (apps.apps.get("api") or {}).get("spec", {}).get("syncPolicy", {}).get("automated")
            ):
                await anyio.sleep(0.1)
        await anyio.sleep(0.5)
        await edit_member_configmap(scenario, "slow")
        await scenario.wait_apps(
            lambda apps: sync_status(apps, "api") == "OutOfSync", what="manual api OutOfSync"
        )
        live = await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
    assert live is not None and live["data"] == {"mode": "slow"}
