"""What makes an ApplicationSet expand again, and what only re-plans from its last expansion.

Expansion (git reads, templates) is the expensive part; its Applications' own events (their
status moving through a rollout) change nothing it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.api.resources import APPLICATION
from fleet.kube import request_json
from tests.controllers.appset_support import (
    Running,
    app_names_become,
    app_template,
    cluster,
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

pytestmark = pytest.mark.anyio

NAMES = {"east-guestbook", "west-guestbook"}


async def started(run: Running) -> int:
    await create_appset(
        run.hub,
        list_appset("guestbook", [{"name": "east"}, {"name": "west"}], namespace=run.namespace),
    )
    await app_names_become(run, "guestbook", NAMES)
    await settle(run)
    return run.controller.expansions


async def set_health(run: Running, name: str, health: str) -> None:
    await request_json(
        run.hub,
        "PATCH",
        APPLICATION.status(run.namespace, name),
        body={"status": {"sync": {"status": "Synced"}, "health": {"status": health}}},
        content_type="application/merge-patch+json",
    )


async def test_application_status_events_do_not_expand_the_applicationset_again(
    tmp_path: Path,
) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        before = await started(run)
        for health in ("Progressing", "Healthy", "Degraded", "Healthy"):
            for name in NAMES:
                await set_health(run, name, health)

        async def status_refreshed() -> bool:
            appset = await get_appset(hub, ns, "guestbook")
            resources = (appset.get("status") or {}).get("resources") or []
            return {r.get("health", {}).get("status") for r in resources} == {"Healthy"}

        await eventually(status_refreshed, what="the ApplicationSet's status.resources refreshed")
        await settle(run)
        assert run.controller.expansions == before
        assert run.controller.expansions_reused > 0


async def test_a_hand_edited_application_is_reverted_from_the_last_expansion(
    tmp_path: Path,
) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        before = await started(run)
        await request_json(
            hub,
            "PATCH",
            APPLICATION.item(ns, "east-guestbook"),
            body={"spec": {"source": {"targetRevision": "hotfix"}}},
            content_type="application/merge-patch+json",
        )

        async def reverted() -> bool:
            live = await get_app(hub, ns, "east-guestbook")
            return live is not None and live["spec"]["source"]["targetRevision"] == "main"

        await eventually(reverted, what="targetRevision reverted to main")
        assert run.controller.expansions == before


async def test_a_spec_change_expands_again(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        before = await started(run)
        await replace_appset_spec(hub, ns, "guestbook", {"template": app_template("v2")})

        async def updated() -> bool:
            live = await get_app(hub, ns, "east-guestbook")
            return live is not None and live["spec"]["source"]["targetRevision"] == "v2"

        await eventually(updated, what="targetRevision v2")
        assert run.controller.expansions > before


async def test_a_cluster_change_expands_again(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        before = await started(run)
        run.clusters.items.append(cluster("north"))
        run.controller.clusters_changed()
        await settle(run)
        assert run.controller.expansions > before
