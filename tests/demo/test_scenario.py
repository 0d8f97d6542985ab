"""The demo's world sets up as a user would: CRDs, labelled Clusters, a served repo, the appset."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from fleet.api.crds import served_paths
from fleet.api.resources import APPLICATION_SET, CLUSTER, PROJECT
from fleet.demo import repo_content
from fleet.demo.scenario import MEMBERS, Scenario, scenario
from fleet.kube import request_json


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with scenario(tmp_path / "demo") as made:
        yield made


@pytest.mark.anyio
async def test_hub_serves_every_fleet_crd(world: Scenario) -> None:
    for path in served_paths().values():
        listing = await request_json(world.hub, "GET", path, timeout=10)
        assert "items" in listing


@pytest.mark.anyio
async def test_three_members_are_registered_with_env_and_region_labels(world: Scenario) -> None:
    listing = await request_json(world.hub, "GET", CLUSTER.collection(world.namespace), timeout=10)
    clusters = {item["metadata"]["name"]: item["spec"] for item in listing["items"]}
    assert {name: spec["labels"] for name, spec in clusters.items()} == {
        "staging-eu": {"env": "staging", "region": "eu"},
        "prod-eu": {"env": "production", "region": "eu"},
        "prod-us": {"env": "production", "region": "us"},
    }
    for member in MEMBERS:
        spec = clusters[member.name]
        assert spec["server"] == world.sim.clusters[member.name].server
        secret = await request_json(
            world.hub,
            "GET",
            f"/api/v1/namespaces/{world.namespace}/secrets/{spec['secretRef']['name']}",
            timeout=10,
        )
        assert secret["data"], f"credentials of {member.name} stored"
        assert base64.b64decode(next(iter(secret["data"].values())))


@pytest.mark.anyio
async def test_applicationset_and_default_project_are_on_the_hub(world: Scenario) -> None:
    appset = await request_json(
        world.hub,
        "GET",
        APPLICATION_SET.item(world.namespace, repo_content.APPSET_NAME),
        timeout=10,
    )
    git = appset["spec"]["generators"][0]["matrix"]["generators"][1]["git"]
    assert git["repoURL"] == world.repo_url
    assert appset["spec"]["template"]["spec"]["source"]["repoURL"] == world.repo_url
    project = await request_json(
        world.hub, "GET", PROJECT.item(world.namespace, "default"), timeout=10
    )
    assert project["spec"]["sourceRepos"] == ["*"]


@pytest.mark.anyio
async def test_config_repo_is_served_over_http_at_its_first_commit(world: Scenario) -> None:
    assert world.repo_url.startswith("http://127.0.0.1:")
    result = await anyio.run_process(["git", "ls-remote", world.repo_url, "refs/heads/main"])
    assert result.stdout.decode().split() == [world.initial_revision, "refs/heads/main"]


@pytest.mark.anyio
async def test_a_commit_in_the_work_tree_is_served(world: Scenario) -> None:
    sha = await anyio.to_thread.run_sync(world.repo.commit, {"extra.txt": "x\n"}, "extra")
    result = await anyio.run_process(["git", "ls-remote", world.repo_url, "refs/heads/main"])
    assert result.stdout.decode().split()[0] == sha != world.initial_revision


@pytest.mark.anyio
async def test_member_client_is_an_admin_of_that_member(world: Scenario) -> None:
    async with world.member_client("prod-us") as member:
        await request_json(
            member, "POST", "/api/v1/namespaces", body={"metadata": {"name": "probe"}}, timeout=10
        )
        found = await request_json(member, "GET", "/api/v1/namespaces/probe", timeout=10)
    assert found["metadata"]["name"] == "probe"
