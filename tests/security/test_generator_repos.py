"""One tenant reading another's repositories through an ApplicationSet's git generators.

A generator's files and directory names become the generated Applications' fields, so reading a
repository is as good as deploying from it. Argo CD lets any generator read any repository;
fleet refuses an ApplicationSet whose git generators (at any matrix/merge depth) read a
repository that the Project of an Application it generates does not list in sourceRepos.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.api.resources import API_VERSION, APPLICATION_SET
from fleet.kube import request_json
from tests.clusters.harness import simulated_env
from tests.controllers.harness import Scenario, condition, configmap
from tests.git.support import Upstream

pytestmark = pytest.mark.anyio

Obj = dict[str, Any]


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with (
        simulated_env(tmp_path, ["m1"]) as env,
        Scenario.open(env, tmp_path / "work") as opened,
    ):
        await opened.register(opened.member(0))
        # Team B's private repository: its directory names are what team A wants to read.
        Upstream(opened.git.base, "team-b").commit(
            {"customers/acme/cm.yaml": configmap("x", {}), "customers/globex/cm.yaml": ""}
        )
        await opened.put_project(
            "team-a",
            {
                "sourceRepos": [opened.repo_url],
                "destinations": [{"name": "*", "namespace": "*"}],
            },
        )
        yield opened


def reading_team_b(scenario: Scenario, project: str = "team-a", **spec: Any) -> Obj:
    """clusters x git directories of team B's repository, Applications in `project`."""
    body: Obj = {
        "generators": [
            {
                "matrix": {
                    "generators": [
                        {"clusters": {}},  # the members only: in-cluster is off here
                        {
                            "git": {
                                "repoURL": scenario.git.url("team-b"),
                                "revision": "main",
                                "directories": [{"path": "customers/*"}],
                            }
                        },
                    ]
                }
            }
        ],
        "template": {
            "metadata": {"name": "{{path.basename}}-{{name}}"},
            "spec": {
                "project": project,
                "source": {"repoURL": scenario.repo_url, "path": "apps/web"},
                "destination": {"name": "{{name}}", "namespace": scenario.app_namespace},
            },
        },
    }
    body.update(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": "reader", "namespace": scenario.namespace},
        "spec": body,
    }


async def wait_error(scenario: Scenario, reason: str = "RepositoryNotPermitted") -> Obj:
    """The ApplicationSet once its ErrorOccurred condition has `reason` (bounded wait)."""
    obj: Obj = {}
    with anyio.fail_after(30):
        while condition(obj, "ErrorOccurred").get("reason") != reason:
            await anyio.sleep(0.2)
            obj = await request_json(
                scenario.hub, "GET", APPLICATION_SET.item(scenario.namespace, "reader")
            )
    return condition(obj, "ErrorOccurred")


async def test_a_git_generator_reading_a_repository_outside_the_project_is_refused(
    scenario: Scenario,
) -> None:
    async with scenario.controller(in_cluster_enabled=False):
        await scenario.apply_appset(reading_team_b(scenario))
        error = await wait_error(scenario)
        apps = await scenario.applications()
    path = "spec.generators[0].matrix.generators[1].git"
    assert f"{path}: repository {scenario.git.url('team-b')} is not permitted" in error["message"]
    assert "project 'team-a'" in error["message"]
    assert apps == {}


async def test_a_refused_applicationset_updates_and_deletes_nothing_it_made_before(
    scenario: Scenario,
) -> None:
    await scenario.put_project(
        "wide", {"sourceRepos": ["*"], "destinations": [{"name": "*", "namespace": "*"}]}
    )
    async with scenario.controller(in_cluster_enabled=False):
        await scenario.apply_appset(reading_team_b(scenario, project="wide"))
        before = await scenario.wait_apps(lambda apps: len(apps) == 2, what="two Applications")
        # The Applications move to team-a's Project (which does not list team B's repository)
        # and gain a label: neither change, nor any deletion, may come from the refused set.
        changed = reading_team_b(scenario)
        changed["spec"]["template"]["metadata"]["labels"] = {"changed": "yes"}
        await scenario.apply_appset(changed)
        await wait_error(scenario)
        after = await scenario.applications()
    assert set(after) == set(before)
    for app in after.values():
        assert app["spec"]["project"] == "wide"
        assert "changed" not in (app["metadata"].get("labels") or {})


async def test_a_templated_project_is_checked_for_every_generated_application(
    scenario: Scenario,
) -> None:
    await scenario.put_project(
        "team-b",
        {
            "sourceRepos": [scenario.git.url("team-b")],
            "destinations": [{"name": "*", "namespace": "*"}],
        },
    )
    generators = reading_team_b(scenario)["spec"]["generators"]
    generators[0]["matrix"]["generators"][0] = {
        "list": {"elements": [{"name": "m1", "owner": "team-b"}, {"name": "m1", "owner": "team-a"}]}
    }
    doc = reading_team_b(scenario, project="{{owner}}", generators=generators)
    doc["spec"]["template"]["metadata"]["name"] = "{{path.basename}}-{{owner}}"
    async with scenario.controller(in_cluster_enabled=False):
        await scenario.apply_appset(doc)
        error = await wait_error(scenario)
        apps = await scenario.applications()
    assert "project 'team-a'" in error["message"] and "project 'team-b'" not in error["message"]
    assert apps == {}


async def test_the_operator_can_let_generators_read_outside_the_project(
    scenario: Scenario,
) -> None:
    async with scenario.controller(
        allow_generator_repos_outside_project=True, in_cluster_enabled=False
    ):
        await scenario.apply_appset(reading_team_b(scenario))
        apps = await scenario.wait_apps(lambda apps: len(apps) == 2, what="two Applications")
    assert set(apps) == {"acme-m1", "globex-m1"}
