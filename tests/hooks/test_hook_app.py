"""The classic case through the controller, from a git repository: a failing PreSync
migration Job fails the Application's sync, the old version keeps running and the status
names the hook; the fixed commit rolls out. On fleet.sim and on the shared real apiserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.kube import request_json
from tests.clusters.harness import Env, simulated_env
from tests.controllers.harness import Scenario, synced_and_healthy
from tests.hooks.manifests import image_of, job
from tests.sync.helpers import deployment

pytestmark = pytest.mark.anyio

Obj = dict[str, Any]


@pytest.fixture(params=["sim", "real"])
async def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Scenario]:
    if request.param == "real":
        env: Env = request.getfixturevalue("shared_real")
        async with Scenario.open(env, tmp_path) as made:
            yield made
        return
    async with (
        simulated_env(tmp_path, ["m1"]) as sim,
        Scenario.open(sim, tmp_path) as made,
    ):
        yield made


def files(image: str, *, migration_fails: bool) -> dict[str, str]:
    return {
        "hooked/deployment.yaml": yaml.safe_dump(deployment("web", image)),
        "hooked/migrate.yaml": yaml.safe_dump(job("migrate", failing=migration_fails)),
    }


def operation(app: Obj) -> Obj:
    state: Obj = (app.get("status") or {}).get("operationState") or {}
    return state


async def test_a_failing_presync_hook_keeps_the_old_version_and_status_names_it(
    scenario: Scenario,
) -> None:
    member = scenario.member(0)
    await scenario.register(member)
    first = scenario.upstream.commit(
        {"hooked/deployment.yaml": yaml.safe_dump(deployment("web", "web:1"))}, "v1"
    )
    await scenario.create_application(
        "hooked",
        {
            "project": "default",
            "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": "hooked"},
            "destination": {"name": member.name, "namespace": scenario.app_namespace},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
        },
    )
    async with scenario.controller():
        await scenario.wait_apps(
            lambda apps: synced_and_healthy(apps.get("hooked") or {}, first), what="v1 deployed"
        )
        broken = scenario.upstream.commit(files("web:2", migration_fails=True), "v2")
        apps = await scenario.wait_apps(
            lambda apps: (
                operation(apps["hooked"]).get("phase") == "Failed"
                and operation(apps["hooked"]).get("syncResult", {}).get("revision") == broken
            ),
            what="the v2 sync failed",
        )
        state = operation(apps["hooked"])
        assert "PreSync hook Job/migrate" in state["message"]
        [hook] = [r for r in state["syncResult"]["resources"] if r.get("hookType")]
        assert (hook["kind"], hook["name"], hook["hookType"], hook["hookPhase"]) == (
            "Job", "migrate", "PreSync", "Failed",
        )  # fmt: skip
        web = await scenario.member_object(member, "apis/apps/v1/deployments", "web")
        assert image_of(web) == "web:1"

        fixed = scenario.upstream.commit(files("web:2", migration_fails=False), "v2, fixed")
        await scenario.wait_apps(
            lambda apps: synced_and_healthy(apps["hooked"], fixed), what="v2 deployed"
        )
    web = await scenario.member_object(member, "apis/apps/v1/deployments", "web")
    assert image_of(web) == "web:2"
    migrate = await scenario.member_object(member, "apis/batch/v1/jobs", "migrate")
    assert migrate is not None and "fleet.gitops.dev/sim-fail" not in (
        migrate["metadata"].get("annotations") or {}
    )


async def test_a_commit_that_changes_nothing_of_the_app_does_not_rerun_its_hooks(
    scenario: Scenario,
) -> None:
    member = scenario.member(0)
    await scenario.register(member)
    first = scenario.upstream.commit(files("web:1", migration_fails=False), "v1")
    await scenario.create_application(
        "hooked",
        {
            "project": "default",
            "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": "hooked"},
            "destination": {"name": member.name, "namespace": scenario.app_namespace},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
        },
    )
    async with scenario.controller():
        await scenario.wait_apps(
            lambda apps: synced_and_healthy(apps.get("hooked") or {}, first), what="v1 deployed"
        )
        ran = await scenario.member_object(member, "apis/batch/v1/jobs", "migrate")
        assert ran is not None
        elsewhere = scenario.upstream.commit({"other/readme.yaml": "{}\n"}, "unrelated")
        await scenario.wait_apps(
            lambda apps: synced_and_healthy(apps["hooked"], elsewhere), what="revision moved"
        )
    again = await scenario.member_object(member, "apis/batch/v1/jobs", "migrate")
    assert again is not None and again["metadata"]["uid"] == ran["metadata"]["uid"]


async def test_a_running_hook_shows_in_the_application_status_while_it_runs(
    scenario: Scenario,
) -> None:
    member = scenario.member(0)
    await scenario.register(member)
    revision = scenario.upstream.commit(
        {
            "hooked/deployment.yaml": yaml.safe_dump(deployment("web", "web:1")),
            "hooked/migrate.yaml": yaml.safe_dump(job("migrate", suspend=True)),
        },
        "v1 with a long migration",
    )
    await scenario.create_application(
        "hooked",
        {
            "project": "default",
            "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": "hooked"},
            "destination": {"name": member.name, "namespace": scenario.app_namespace},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
        },
    )

    def hook_running(apps: dict[str, Obj]) -> bool:
        state = operation(apps.get("hooked") or {})
        hooks = [r for r in state.get("syncResult", {}).get("resources", []) if r.get("hookType")]
        return state.get("phase") == "Running" and [h.get("hookPhase") for h in hooks] == [
            "Running"
        ]

    async with scenario.controller():
        await scenario.wait_apps(hook_running, what="the migration shown Running")
        await request_json(  # the migration's pods finish
            scenario.members[member.name],
            "PATCH",
            f"/apis/batch/v1/namespaces/{scenario.app_namespace}/jobs/migrate",
            body={"spec": {"suspend": False}},
            content_type="application/merge-patch+json",
        )
        apps = await scenario.wait_apps(
            lambda apps: synced_and_healthy(apps["hooked"], revision), what="v1 deployed"
        )
    state = operation(apps["hooked"])
    assert state["phase"] == "Succeeded"
    [hook] = [r for r in state["syncResult"]["resources"] if r.get("hookType")]
    assert hook["hookPhase"] == "Succeeded"
