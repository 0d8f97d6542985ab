"""Drill: an ApplicationSet whose generator starts failing deletes nothing. (A broken
template and an unreachable repository are covered by tests/controllers/test_controller_e2e.py;
these are the other ways: a parameter file that turns into invalid YAML or into something
that is not a mapping in a new commit, and a directory glob edited into a malformed one.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
import yaml

from fleet.api.resources import APPLICATION_SET
from fleet.kube import request_json
from tests.controllers.harness import Scenario, condition
from tests.drills.support import all_converged, app_names, tracked_objects

pytestmark = pytest.mark.anyio

Obj = dict[str, Any]
HARM_WINDOW = 3.0
"""Seconds left to the controller after the failure is reported: several reconciles."""
RESYNC = 1.0


def files_appset(scenario: Scenario) -> Obj:
    """clusters x git files targets/*.yaml (each file names an app directory)."""
    doc = scenario.appset()
    doc["spec"]["generators"][0]["matrix"]["generators"][1] = {
        "git": {
            "repoURL": scenario.repo_url,
            "revision": "main",
            "files": [{"path": "targets/*.yaml"}],
        }
    }
    doc["spec"]["template"]["metadata"]["name"] = "{{app}}-{{name}}"
    doc["spec"]["template"]["spec"]["source"]["path"] = "apps/{{app}}"
    return doc


TARGETS = {f"targets/{app}.yaml": yaml.safe_dump({"app": app}) for app in ("web", "api")}


async def wait_appset(
    scenario: Scenario, predicate: Callable[[Obj], bool], timeout: float = 30
) -> Obj:
    obj: Obj = {}
    try:
        with anyio.fail_after(timeout):
            while True:
                obj = await request_json(
                    scenario.hub, "GET", APPLICATION_SET.item(scenario.namespace, "demo")
                )
                if predicate(obj):
                    return obj
                await anyio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"ApplicationSet demo never matched; last status {obj.get('status')}")


def erroring(obj: Obj) -> bool:
    return condition(obj, "ErrorOccurred").get("status") == "True"


async def break_and_check(
    scenario: Scenario, appset: Obj, breaking: Callable[[], Any], expect: str
) -> None:
    """Converge `appset`, run `breaking`, then: the ApplicationSet reports `expect`, and
    neither the Applications nor any member object changed."""
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    names = app_names(members)
    async with scenario.controller(deletion_budget="100%", resync_period=RESYNC):
        await scenario.apply_appset(appset)
        before = await scenario.wait_apps(all_converged(names), what="convergence")
        await anyio.sleep(1)
        objects = {m.name: await tracked_objects(scenario, m) for m in members}
        result = breaking()
        if hasattr(result, "__await__"):
            await result
        reported = await wait_appset(scenario, erroring)
        await anyio.sleep(HARM_WINDOW)
        after = await scenario.applications()
        assert {m.name: await tracked_objects(scenario, m) for m in members} == objects
    assert set(after) == set(before)
    assert all(a["metadata"].get("deletionTimestamp") is None for a in after.values())
    assert {n: a["metadata"]["uid"] for n, a in after.items()} == {
        n: a["metadata"]["uid"] for n, a in before.items()
    }
    message = condition(reported, "ErrorOccurred")["message"]
    assert expect in message, message


async def test_a_parameter_file_turned_invalid_yaml_deletes_nothing(
    small_scenario: Scenario,
) -> None:
    scenario = small_scenario
    scenario.upstream.commit(TARGETS, "targets")
    await break_and_check(
        scenario,
        files_appset(scenario),
        lambda: scenario.upstream.commit({"targets/web.yaml": "app: [web\n"}, "oops"),
        "targets/web.yaml",
    )


async def test_a_parameter_file_turned_into_a_list_of_strings_deletes_nothing(
    small_scenario: Scenario,
) -> None:
    scenario = small_scenario
    scenario.upstream.commit(TARGETS, "targets")
    await break_and_check(
        scenario,
        files_appset(scenario),
        lambda: scenario.upstream.commit({"targets/api.yaml": "- api\n- web\n"}, "oops"),
        "targets/api.yaml",
    )


async def test_a_directory_glob_edited_into_a_malformed_one_deletes_nothing(
    small_scenario: Scenario,
) -> None:
    scenario = small_scenario
    broken = scenario.appset()
    git = broken["spec"]["generators"][0]["matrix"]["generators"][1]["git"]
    git["directories"] = [{"path": "apps/[a-z*"}]
    await break_and_check(
        scenario, scenario.appset(), lambda: scenario.apply_appset(broken), "apps/[a-z*"
    )


async def test_the_generator_branch_deleted_from_the_repository_deletes_nothing(
    small_scenario: Scenario,
) -> None:
    scenario = small_scenario
    scenario.upstream.git("push", "-q", "origin", "HEAD:refs/heads/release")
    appset = scenario.appset()
    appset["spec"]["generators"][0]["matrix"]["generators"][1]["git"]["revision"] = "release"
    await break_and_check(
        scenario,
        appset,
        lambda: scenario.upstream.git("push", "-q", "origin", "--delete", "release"),
        "release",
    )
