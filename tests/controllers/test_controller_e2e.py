"""The controller end to end, on fleet.sim and on real kube-apiservers: ApplicationSet ->
Applications -> objects on the member clusters, and what happens when things change or fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from fleet.api.resources import APPLICATION_SET
from fleet.kube import request_json
from tests.clusters.harness import Member
from tests.controllers.harness import Scenario, condition, configmap, synced_and_healthy
from tests.git.support import free_port

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio


async def test_an_applicationset_over_three_clusters_converges_synced_and_healthy(
    scenario: Scenario,
) -> None:
    for member in scenario.env.members:
        await scenario.register(member)
    async with scenario.controller():
        await scenario.apply_appset(scenario.appset())
        names = {f"{app}-{m.name}" for app in ("web", "api") for m in scenario.env.members}
        apps = await scenario.wait_apps(
            lambda apps: set(apps) == names and all(map(synced_and_healthy, apps.values())),
            what="all six Applications Synced and Healthy",
        )
    for member in scenario.env.members:
        cm = await scenario.member_object(member, "api/v1/configmaps", "web-config")
        assert cm is not None and cm["data"] == {"color": "blue"}
    assert len(apps) == 6


async def converged(
    scenario: Scenario, members: list[Member], revision: str | None = None
) -> dict[str, Obj]:
    names = {f"{app}-{m.name}" for app in ("web", "api") for m in members}
    return await scenario.wait_apps(
        lambda apps: (
            set(apps) == names and all(synced_and_healthy(a, revision) for a in apps.values())
        ),
        what=f"Applications {sorted(names)} Synced and Healthy",
    )


async def test_a_newly_registered_cluster_gets_its_applications(scenario: Scenario) -> None:
    first, second, third = scenario.env.members
    await scenario.register(first)
    await scenario.register(second)
    async with scenario.controller():
        await scenario.apply_appset(scenario.appset())
        await converged(scenario, [first, second])
        await scenario.register(third)
        await converged(scenario, [first, second, third])
    assert await scenario.member_object(third, "api/v1/configmaps", "api-config") is not None


async def test_a_cluster_relabelled_out_of_the_selector_loses_its_applications_and_objects(
    scenario: Scenario,
) -> None:
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    async with scenario.controller(deletion_budget="100%"):
        await scenario.apply_appset(scenario.appset())
        await converged(scenario, members)
        await scenario.relabel(members[2], {"fleet-test": "off"})
        await converged(scenario, members[:2])
        await scenario.wait_member(
            members[2], "api/v1/configmaps", "web-config", lambda obj: obj is None
        )
    assert await scenario.member_object(members[0], "api/v1/configmaps", "web-config")


async def test_a_git_commit_rolls_out_to_every_cluster(scenario: Scenario) -> None:
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    async with scenario.controller():
        await scenario.apply_appset(scenario.appset())
        await converged(scenario, members)
        new = scenario.upstream.commit(
            {"apps/web/configmap.yaml": configmap("web-config", {"color": "green"})}, "green"
        )
        await converged(scenario, members, revision=new)
        for member in members:
            await scenario.wait_member(
                member,
                "api/v1/configmaps",
                "web-config",
                lambda obj: obj is not None and obj["data"] == {"color": "green"},
            )


async def test_drift_on_a_member_is_reverted(scenario: Scenario) -> None:
    member = scenario.member(0)
    await scenario.register(member)
    async with scenario.controller():
        await scenario.apply_appset(scenario.appset())
        await converged(scenario, [member])
        path = f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config"
        await request_json(
            scenario.members[member.name],
            "PATCH",
            path,
            body={"data": {"color": "hacked"}},
            content_type="application/merge-patch+json",
        )
        await scenario.wait_member(
            member,
            "api/v1/configmaps",
            "web-config",
            lambda obj: obj is not None and obj["data"] == {"color": "blue"},
            timeout=20,
        )


async def test_a_broken_template_deletes_nothing_and_says_why(scenario: Scenario) -> None:
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    async with scenario.controller(deletion_budget="100%"):
        await scenario.apply_appset(scenario.appset())
        before = await converged(scenario, members)
        broken = scenario.appset()
        broken["spec"]["template"]["metadata"]["name"] = "{{path.basename}}-{{nosuchparam}}"
        await scenario.apply_appset(broken)
        appset = await wait_appset(
            scenario, "demo", lambda a: condition(a, "ErrorOccurred").get("status") == "True"
        )
        await anyio.sleep(2)  # several reconciles' worth of time to do harm
        after = await scenario.applications()
    assert set(after) == set(before)
    assert all(a["metadata"].get("deletionTimestamp") is None for a in after.values())
    assert "spec.template.metadata.name" in condition(appset, "ErrorOccurred")["message"]


async def test_an_unreachable_git_repository_deletes_nothing(scenario: Scenario) -> None:
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    async with scenario.controller(deletion_budget="100%"):
        await scenario.apply_appset(scenario.appset())
        before = await converged(scenario, members)
        moved = scenario.appset()
        git = moved["spec"]["generators"][0]["matrix"]["generators"][1]["git"]
        git["repoURL"] = f"git://127.0.0.1:{free_port()}/gone.git"  # nothing listens there
        await scenario.apply_appset(moved)
        appset = await wait_appset(
            scenario, "demo", lambda a: condition(a, "ErrorOccurred").get("status") == "True"
        )
        await anyio.sleep(2)
        after = await scenario.applications()
    assert set(after) == set(before)
    assert all(a["metadata"].get("deletionTimestamp") is None for a in after.values())
    assert "gone.git" in condition(appset, "ErrorOccurred")["message"]
    for member in members:
        assert await scenario.member_object(member, "api/v1/configmaps", "web-config")


async def test_the_deletion_budget_holds_back_a_mass_deletion(scenario: Scenario) -> None:
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    async with scenario.controller(deletion_budget="20%"):
        await scenario.apply_appset(scenario.appset())
        await converged(scenario, members)
        for member in members:
            await scenario.relabel(member, {"fleet-test": "off"})
        appset = await wait_appset(
            scenario,
            "demo",
            lambda a: condition(a, "ResourcesUpToDate").get("reason") == "DeletionBudgetExceeded",
        )
        await anyio.sleep(2)
        apps = await scenario.applications()
    # 20 % of 6 Applications: one deletion per window (30 s here); the other five are held.
    assert len(apps) >= 5
    assert "held" in condition(appset, "ResourcesUpToDate")["message"]


async def test_an_application_outside_its_project_is_not_synced(scenario: Scenario) -> None:
    member = scenario.member(0)
    await scenario.register(member)
    await scenario.put_project(
        "restricted",
        {
            "sourceRepos": ["*"],
            "destinations": [{"name": "*", "namespace": "only-this-one"}],
        },
    )
    async with scenario.controller():
        await scenario.create_application(
            "outsider",
            {
                "project": "restricted",
                "source": {"repoURL": scenario.repo_url, "path": "apps/api"},
                "destination": {"name": member.name, "namespace": scenario.app_namespace},
                "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
            },
        )
        apps = await scenario.wait_apps(
            lambda apps: condition(apps.get("outsider", {}), "InvalidSpecError") != {},
            what="InvalidSpecError on outsider",
        )
        await anyio.sleep(1)
    message = condition(apps["outsider"], "InvalidSpecError")["message"]
    assert "restricted" in message and scenario.app_namespace in message
    assert await scenario.member_object(member, "api/v1/configmaps", "api-config") is None


async def wait_appset(
    scenario: Scenario, name: str, predicate: Callable[[Obj], bool], timeout: float = 30
) -> Obj:
    obj: Obj = {}
    try:
        with anyio.fail_after(timeout):
            while True:
                obj = await request_json(
                    scenario.hub, "GET", APPLICATION_SET.item(scenario.namespace, name)
                )
                if predicate(obj):
                    return obj
                await anyio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"ApplicationSet {name} never matched; last status {obj.get('status')}")
