"""Deletion safety: policies, incomplete expansions and the deletion budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.controllers.appset import AppSetSettings
from fleet.kube import request_json
from tests.controllers.appset_support import (
    SETTINGS,
    Clusters,
    app_names_become,
    app_template,
    cluster,
    clusters_appset,
    condition,
    create_appset,
    eventually,
    get_app,
    get_appset,
    list_appset,
    replace_appset_spec,
    running,
    settle,
    sim_hub,
)
from tests.git.support import GitDaemon, Upstream

pytestmark = pytest.mark.anyio

NO_FINALIZER = {"preserveResourcesOnDeletion": True}


def elements(*names: str) -> list[dict[str, Any]]:
    return [{"name": n} for n in names]


@pytest.mark.parametrize(
    ("policy", "kept_a", "updated_b"),
    [
        ("create-only", True, False),
        ("create-update", True, True),
        ("create-delete", False, False),
        ("sync", False, True),
    ],
)
async def test_each_policy_does_exactly_its_part(
    tmp_path: Path, policy: str, kept_a: bool, updated_b: bool
) -> None:
    sync_policy = {**NO_FINALIZER, "applicationsSync": policy}
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(
            hub, list_appset("gb", elements("a", "b"), namespace=ns, sync_policy=sync_policy)
        )
        await app_names_become(run, "gb", {"a-guestbook", "b-guestbook"})
        await replace_appset_spec(
            hub,
            ns,
            "gb",
            {
                "generators": [{"list": {"elements": elements("b", "c")}}],
                "template": app_template("v2"),
            },
        )
        expected = {"b-guestbook", "c-guestbook"} | ({"a-guestbook"} if kept_a else set())
        await app_names_become(run, "gb", expected)
        await settle(run)
        b = await get_app(hub, ns, "b-guestbook")
        c = await get_app(hub, ns, "c-guestbook")
        assert b is not None and c is not None
        assert b["spec"]["source"]["targetRevision"] == ("v2" if updated_b else "main")
        assert c["spec"]["source"]["targetRevision"] == "v2"
        apps = await app_names_become(run, "gb", expected)
        assert set(apps) == expected


async def test_a_bad_template_in_one_element_still_creates_the_others_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(
            hub, list_appset("gb", elements("a", "b"), namespace=ns, sync_policy=NO_FINALIZER)
        )
        await app_names_become(run, "gb", {"a-guestbook", "b-guestbook"})
        await replace_appset_spec(
            hub, ns, "gb", {"generators": [{"list": {"elements": elements("a", "Bad_Name", "c")}}]}
        )
        await app_names_become(run, "gb", {"a-guestbook", "b-guestbook", "c-guestbook"})
        await settle(run)
        await app_names_become(run, "gb", {"a-guestbook", "b-guestbook", "c-guestbook"})
        status = condition(await get_appset(hub, ns, "gb"), "ErrorOccurred")
        assert status["status"] == "True"
        assert "spec.generators[0]" in status["message"]
        assert "Bad_Name" in status["message"]
        assert "deletions are suspended until every generator evaluates" in status["message"]


def git_appset(name: str, namespace: str, repo_url: str) -> dict[str, Any]:
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "generators": [{"git": {"repoURL": repo_url, "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "{{path.basename}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": repo_url, "path": "{{path}}"},
                    "destination": {"name": "east", "namespace": "{{path.basename}}"},
                },
            },
            "syncPolicy": NO_FINALIZER,
        },
    }


async def test_an_unreachable_git_repository_deletes_nothing(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    upstream = Upstream(served, "apps")
    upstream.commit({"apps/one/cm.yaml": "a: 1\n", "apps/two/cm.yaml": "b: 2\n"})
    daemon = GitDaemon(served)
    daemon.start()
    url = daemon.url("apps")
    try:
        await _unreachable_repo_scenario(tmp_path, url, upstream.bare)
    finally:
        daemon.stop()


async def _unreachable_repo_scenario(tmp_path: Path, url: str, bare: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns):
        async with running(hub, ns, tmp_path / "cache1") as run:
            await create_appset(hub, git_appset("gitapps", ns, url))
            await app_names_become(run, "gitapps", {"one", "two"})
        # The controller restarts with an empty cache while the repository is gone.
        bare.rename(tmp_path / "moved-away")
        async with running(hub, ns, tmp_path / "cache2") as run:

            async def reported() -> bool:
                message = condition(await get_appset(hub, ns, "gitapps"), "ErrorOccurred")
                return "could not be fetched" in message["message"]

            await eventually(reported, what="a git fetch error in the status")
            await settle(run)
            await app_names_become(run, "gitapps", {"one", "two"})
            message = condition(await get_appset(hub, ns, "gitapps"), "ResourcesUpToDate")
            assert message["status"] == "False"
            assert "spec.generators[0].git" in message["message"]
            assert "deletions are suspended" in message["message"]


async def test_an_unavailable_cluster_list_deletes_nothing(tmp_path: Path) -> None:
    clusters = Clusters([cluster("east", env="prod"), cluster("west", env="prod")])
    async with (
        sim_hub(tmp_path) as (hub, ns),
        running(hub, ns, tmp_path / "cache", clusters) as run,
    ):
        body = clusters_appset("gb", ns, {"matchLabels": {"env": "prod"}})
        body["spec"]["syncPolicy"] = NO_FINALIZER
        await create_appset(hub, body)
        await app_names_become(run, "gb", {"east-guestbook", "west-guestbook"})
        clusters.items.clear()
        clusters.unavailable = "the hub Cluster watch is failing"
        run.controller.clusters_changed()

        async def reported() -> bool:
            message = condition(await get_appset(hub, ns, "gb"), "ErrorOccurred")
            return "cluster list is unavailable" in message["message"]

        await eventually(reported, what="the cluster-list error in the status")
        await settle(run)
        await app_names_become(run, "gb", {"east-guestbook", "west-guestbook"})


async def test_the_deletion_budget_holds_back_a_mass_deletion_then_proceeds(
    tmp_path: Path,
) -> None:
    settings = AppSetSettings(
        in_cluster_enabled=False, resync_period=600.0, deletion_budget="20%", budget_window=4.0
    )
    names = [f"c{i}" for i in range(10)]
    async with (
        sim_hub(tmp_path) as (hub, ns),
        running(hub, ns, tmp_path / "cache", settings=settings) as run,
    ):
        await create_appset(
            hub, list_appset("gb", elements(*names), namespace=ns, sync_policy=NO_FINALIZER)
        )
        everything = {f"{n}-guestbook" for n in names}
        await app_names_become(run, "gb", everything)
        await replace_appset_spec(hub, ns, "gb", {"generators": [{"list": {"elements": []}}]})

        async def budget_reported() -> bool:
            status = condition(await get_appset(hub, ns, "gb"), "ResourcesUpToDate")
            return bool(status["reason"] == "DeletionBudgetExceeded")

        await eventually(budget_reported, what="DeletionBudgetExceeded")
        status = condition(await get_appset(hub, ns, "gb"), "ResourcesUpToDate")
        assert status["status"] == "False"
        assert status["message"].startswith("8 Application(s) no longer generated are held back")
        assert "2 of 10" in status["message"]
        assert "fleet.gitops.dev/deletion-budget" in status["message"]

        async def held_event_written() -> bool:
            listed = await request_json(
                hub,
                "GET",
                f"/api/v1/namespaces/{ns}/events",
                query={"fieldSelector": "involvedObject.name=gb"},
            )
            return any(e.get("reason") == "DeletionsHeld" for e in listed.get("items") or [])

        await eventually(held_event_written, what="a DeletionsHeld Event on the ApplicationSet")
        # The oldest go first; the rest wait for the next window, then proceed.
        remaining = await app_names_become(run, "gb", everything - {"c0-guestbook", "c1-guestbook"})
        assert len(remaining) == 8
        await app_names_become(run, "gb", set(), timeout=60)


async def test_a_deletion_budget_annotation_overrides_the_default(tmp_path: Path) -> None:
    names = [f"c{i}" for i in range(4)]
    async with (
        sim_hub(tmp_path) as (hub, ns),
        running(hub, ns, tmp_path / "cache", settings=SETTINGS) as run,
    ):
        body = list_appset("gb", elements(*names), namespace=ns, sync_policy=NO_FINALIZER)
        body["metadata"]["annotations"] = {"fleet.gitops.dev/deletion-budget": "100%"}
        await create_appset(hub, body)
        await app_names_become(run, "gb", {f"{n}-guestbook" for n in names})
        await replace_appset_spec(hub, ns, "gb", {"generators": [{"list": {"elements": []}}]})
        await app_names_become(run, "gb", set())


async def test_a_new_git_directory_creates_its_application_when_the_repository_moves(
    tmp_path: Path,
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    upstream = Upstream(served, "apps")
    upstream.commit({"apps/one/cm.yaml": "a: 1\n"})
    daemon = GitDaemon(served)
    daemon.start()
    url = daemon.url("apps")
    try:
        async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
            await create_appset(hub, git_appset("gitapps", ns, url))
            await app_names_become(run, "gitapps", {"one"})
            upstream.commit({"apps/two/cm.yaml": "b: 2\n"})
            await run.cache.refresh(url)  # what the poller or a webhook does: emits RepoMoved
            await app_names_become(run, "gitapps", {"one", "two"})
    finally:
        daemon.stop()
