"""Argo CD's refresh annotation (`kubectl annotate application NAME argocd.argoproj.io/refresh=
normal|hard`): the repository is fetched now instead of at the next poll, the Application is
compared with what it holds, and the annotation is removed, as Argo CD's controller does. The
git poll is an hour away here, so only the refresh can be what fetched the new commit."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from fleet.api.group import FLEET
from fleet.api.resources import REFRESH_ANNOTATION
from fleet.kube import request_json
from tests.controllers.harness import Scenario, configmap, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio

HOUR = 3600.0


async def annotate(scenario: Scenario, name: str, value: str) -> None:
    await request_json(
        scenario.hub,
        "PATCH",
        FLEET.application.item(scenario.namespace, name),
        body={"metadata": {"annotations": {REFRESH_ANNOTATION: value}}},
        content_type="application/merge-patch+json",
    )


async def converged_api(scenario: Scenario) -> str:
    """Create the `api` Application (automated sync) and wait for it: its revision."""
    policy = {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]}
    await scenario.create_application("api", scenario.api_spec(policy))
    apps = await scenario.wait_apps(
        lambda apps: "api" in apps and synced_and_healthy(apps["api"]),
        what="api Synced and Healthy",
    )
    return str(apps["api"]["status"]["sync"]["revision"])


def annotations(app: Obj) -> Obj:
    return dict((app.get("metadata") or {}).get("annotations") or {})


@pytest.mark.parametrize("value", ["normal", "hard", "true"])
async def test_a_refresh_annotation_fetches_the_new_commit_now_and_is_then_removed(
    sim_scenario: Scenario, value: str
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    async with scenario.controller(git_poll_interval=HOUR, resync_period=HOUR):
        old = await converged_api(scenario)
        new = scenario.upstream.commit(
            {"apps/api/configmap.yaml": configmap("api-config", {"mode": "slow"})}, "slow"
        )
        await anyio.sleep(1.0)  # no poll, no webhook: the new commit is not seen on its own
        apps = await scenario.applications()
        assert apps["api"]["status"]["sync"]["revision"] == old

        await annotate(scenario, "api", value)
        await scenario.wait_apps(
            lambda apps: (
                synced_and_healthy(apps["api"], new)
                and REFRESH_ANNOTATION not in annotations(apps["api"])
            ),
            what=f"api at {new[:8]} with the refresh annotation removed",
        )
    live = await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
    assert live is not None and live["data"] == {"mode": "slow"}


async def test_a_refresh_that_cannot_fetch_says_why_changes_nothing_and_is_retried(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    async with scenario.controller(git_poll_interval=HOUR, resync_period=HOUR):
        revision = await converged_api(scenario)
        scenario.git.stop()
        try:
            await annotate(scenario, "api", "hard")
            apps = await scenario.wait_apps(
                lambda apps: "spec.source: refresh:" in str(apps["api"].get("status")),
                what="a condition saying the refresh could not fetch",
            )
            assert annotations(apps["api"])[REFRESH_ANNOTATION] == "hard"
            live = await scenario.member_object(
                scenario.member(0), "api/v1/configmaps", "api-config"
            )
            assert live is not None and live["data"] == {"mode": "fast"}
        finally:
            scenario.git.start()
        await scenario.wait_apps(
            lambda apps: (
                synced_and_healthy(apps["api"], revision)
                and REFRESH_ANNOTATION not in annotations(apps["api"])
                and "spec.source: refresh:" not in str(apps["api"].get("status"))
            ),
            what="the retried refresh done once git is back, the annotation removed",
        )
