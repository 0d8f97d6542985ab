"""The ApplicationSet controller on a fleet.sim hub: what it creates, updates and deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.api.resources import APPLICATION, APPSET_LABEL
from fleet.kube import request_json
from tests.controllers.appset_support import (
    Clusters,
    app_names_become,
    app_template,
    cluster,
    clusters_appset,
    create_appset,
    eventually,
    get_app,
    list_appset,
    replace_appset_spec,
    running,
    settle,
    sim_hub,
)

pytestmark = pytest.mark.anyio


async def test_list_generator_creates_applications_with_label_and_owner_reference(
    tmp_path: Path,
) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        made = await create_appset(
            hub, list_appset("guestbook", [{"name": "east"}, {"name": "west"}], namespace=ns)
        )
        apps = await app_names_become(run, "guestbook", {"east-guestbook", "west-guestbook"})
        app = apps["east-guestbook"]
        assert app["apiVersion"] == "fleet.gitops.dev/v1alpha1"
        assert app["metadata"]["labels"][APPSET_LABEL] == "guestbook"
        assert app["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "fleet.gitops.dev/v1alpha1",
                "kind": "ApplicationSet",
                "name": "guestbook",
                "uid": made["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert app["spec"]["destination"] == {"name": "east", "namespace": "guestbook"}


async def test_a_new_cluster_gets_its_application(tmp_path: Path) -> None:
    clusters = Clusters([cluster("east", env="prod")])
    async with (
        sim_hub(tmp_path) as (hub, ns),
        running(hub, ns, tmp_path / "cache", clusters) as run,
    ):
        await create_appset(hub, clusters_appset("guestbook", ns, {"matchLabels": {"env": "prod"}}))
        await app_names_become(run, "guestbook", {"east-guestbook"})
        clusters.items.append(cluster("west", env="prod"))
        run.controller.clusters_changed()
        await app_names_become(run, "guestbook", {"east-guestbook", "west-guestbook"})


async def test_a_label_change_moves_one_cluster_out_and_deletes_its_application(
    tmp_path: Path,
) -> None:
    clusters = Clusters([cluster(n, env="prod") for n in ("a", "b", "c", "d", "e")])
    async with (
        sim_hub(tmp_path) as (hub, ns),
        running(hub, ns, tmp_path / "cache", clusters) as run,
    ):
        await create_appset(hub, clusters_appset("guestbook", ns, {"matchLabels": {"env": "prod"}}))
        await app_names_become(run, "guestbook", {f"{n}-guestbook" for n in "abcde"})
        clusters.items[0] = cluster("a", env="staging")
        run.controller.clusters_changed()
        await app_names_become(run, "guestbook", {f"{n}-guestbook" for n in "bcde"})


async def test_no_write_on_a_reconcile_that_changes_nothing(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(hub, list_appset("guestbook", [{"name": "east"}], namespace=ns))
        await app_names_become(run, "guestbook", {"east-guestbook"})
        await settle(run)
        before = await get_app(hub, ns, "east-guestbook")
        writes = run.controller.writes
        assert await run.controller.reconcile("guestbook") is not None
        after = await get_app(hub, ns, "east-guestbook")
        assert run.controller.writes == writes
        assert before is not None and after is not None
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


async def test_a_manually_deleted_application_comes_back(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        # No resources finalizer (nothing here runs the Application controller to finalize it).
        body = list_appset(
            "guestbook",
            [{"name": "east"}],
            namespace=ns,
            sync_policy={"preserveResourcesOnDeletion": True},
        )
        await create_appset(hub, body)
        apps = await app_names_become(run, "guestbook", {"east-guestbook"})
        old_uid = apps["east-guestbook"]["metadata"]["uid"]
        await request_json(hub, "DELETE", APPLICATION.item(ns, "east-guestbook"))

        async def recreated() -> bool:
            app = await get_app(hub, ns, "east-guestbook")
            return app is not None and app["metadata"]["uid"] != old_uid

        await eventually(recreated, what="east-guestbook recreated")


async def test_a_manual_spec_edit_is_reverted_but_operation_and_status_survive(
    tmp_path: Path,
) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(hub, list_appset("guestbook", [{"name": "east"}], namespace=ns))
        apps = await app_names_become(run, "guestbook", {"east-guestbook"})
        app = apps["east-guestbook"]
        await request_json(
            hub,
            "PATCH",
            APPLICATION.status(ns, "east-guestbook"),
            body={"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}},
            content_type="application/merge-patch+json",
        )
        operation = {"sync": {"revision": "main"}, "initiatedBy": {"username": "alice"}}
        await request_json(
            hub,
            "PATCH",
            APPLICATION.item(ns, "east-guestbook"),
            body={"spec": {"source": {"targetRevision": "hotfix"}}, "operation": operation},
            content_type="application/merge-patch+json",
        )

        async def reverted() -> bool:
            live = await get_app(hub, ns, "east-guestbook")
            return (
                live is not None
                and live["spec"]["source"]["targetRevision"] == "main"
                and live["metadata"]["resourceVersion"] != app["metadata"]["resourceVersion"]
            )

        await eventually(reverted, what="targetRevision reverted to main")
        live = await get_app(hub, ns, "east-guestbook")
        assert live is not None
        assert live["operation"] == operation
        assert live["status"]["health"] == {"status": "Healthy"}


async def test_a_template_change_updates_the_generated_applications(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(hub, list_appset("guestbook", [{"name": "east"}], namespace=ns))
        await app_names_become(run, "guestbook", {"east-guestbook"})
        await replace_appset_spec(hub, ns, "guestbook", {"template": app_template("v2")})

        async def updated() -> bool:
            live = await get_app(hub, ns, "east-guestbook")
            return live is not None and live["spec"]["source"]["targetRevision"] == "v2"

        await eventually(updated, what="targetRevision v2")


async def test_a_generated_application_whose_label_was_removed_is_taken_back(
    tmp_path: Path,
) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(hub, list_appset("guestbook", [{"name": "east"}], namespace=ns))
        await app_names_become(run, "guestbook", {"east-guestbook"})
        await request_json(
            hub,
            "PATCH",
            APPLICATION.item(ns, "east-guestbook"),
            body={"metadata": {"labels": {APPSET_LABEL: None}}},
            content_type="application/merge-patch+json",
        )

        async def relabelled() -> bool:
            live = await get_app(hub, ns, "east-guestbook")
            labels = (live or {}).get("metadata", {}).get("labels") or {}
            return labels.get(APPSET_LABEL) == "guestbook"

        await eventually(relabelled, what="the ApplicationSet label restored")
