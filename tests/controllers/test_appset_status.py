"""ApplicationSet status conditions and resources, and the difference rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.api.resources import APPLICATION
from fleet.controllers.appset import AppSetSettings
from fleet.kube import request_json
from tests.controllers.appset_support import (
    app_names_become,
    applications,
    condition,
    create_appset,
    eventually,
    get_app,
    get_appset,
    list_appset,
    running,
    settle,
    sim_hub,
)

pytestmark = pytest.mark.anyio


async def test_a_generated_appset_reports_all_three_conditions_healthy(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(hub, list_appset("gb", [{"name": "east"}], namespace=ns))
        await app_names_become(run, "gb", {"east-guestbook"})

        async def written() -> bool:
            return bool(((await get_appset(hub, ns, "gb")).get("status") or {}).get("conditions"))

        await eventually(written, what="status conditions")
        appset = await get_appset(hub, ns, "gb")
        assert condition(appset, "ErrorOccurred")["status"] == "False"
        assert condition(appset, "ParametersGenerated")["status"] == "True"
        up_to_date = condition(appset, "ResourcesUpToDate")
        assert up_to_date["status"] == "True"
        assert up_to_date["reason"] == "ApplicationSetUpToDate"
        assert up_to_date["lastTransitionTime"]


async def test_a_parse_error_names_the_field_and_creates_nothing(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache"):
        body = list_appset("gb", [{"name": "east"}], namespace=ns)
        body["spec"]["generators"] = [{"list": {"elementz": [{"name": "east"}]}}]
        await create_appset(hub, body)

        async def reported() -> bool:
            conditions = ((await get_appset(hub, ns, "gb")).get("status") or {}).get("conditions")
            return bool(conditions)

        await eventually(reported, what="status conditions")
        error = condition(await get_appset(hub, ns, "gb"), "ErrorOccurred")
        assert error["status"] == "True"
        assert error["reason"] == "InvalidApplicationSet"
        assert "spec.generators[0].list" in error["message"]
        assert "elementz" in error["message"]
        assert await applications(hub, ns, "gb") == {}


async def test_status_resources_carry_each_application_sync_and_health(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        await create_appset(hub, list_appset("gb", [{"name": "east"}], namespace=ns))
        await app_names_become(run, "gb", {"east-guestbook"})
        await request_json(
            hub,
            "PATCH",
            APPLICATION.status(ns, "east-guestbook"),
            body={"status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded"}}},
            content_type="application/merge-patch+json",
        )

        async def reported() -> bool:
            status = (await get_appset(hub, ns, "gb")).get("status") or {}
            resources = status.get("resources") or []
            return bool(resources) and resources[0].get("status") == "OutOfSync"

        await eventually(reported, what="status.resources with the sync status")
        [entry] = (await get_appset(hub, ns, "gb"))["status"]["resources"]
        assert entry == {
            "group": "fleet.gitops.dev",
            "version": "v1alpha1",
            "kind": "Application",
            "namespace": ns,
            "name": "east-guestbook",
            "status": "OutOfSync",
            "health": {"status": "Degraded"},
        }


async def test_ignored_application_differences_keep_a_manual_edit(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        body = list_appset(
            "gb",
            [{"name": "east"}],
            namespace=ns,
            ignoreApplicationDifferences=[{"jsonPointers": ["/spec/source/targetRevision"]}],
        )
        await create_appset(hub, body)
        await app_names_become(run, "gb", {"east-guestbook"})
        await request_json(
            hub,
            "PATCH",
            APPLICATION.item(ns, "east-guestbook"),
            body={"spec": {"source": {"targetRevision": "pinned"}, "destination": {"name": "x"}}},
            content_type="application/merge-patch+json",
        )

        async def reverted_destination() -> bool:
            live = await get_app(hub, ns, "east-guestbook")
            return live is not None and live["spec"]["destination"]["name"] == "east"

        await eventually(reverted_destination, what="destination reverted")
        await settle(run)
        live = await get_app(hub, ns, "east-guestbook")
        assert live is not None
        assert live["spec"]["source"]["targetRevision"] == "pinned"


async def test_jq_path_expressions_are_reported_as_not_supported(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns), running(hub, ns, tmp_path / "cache") as run:
        body = list_appset(
            "gb",
            [{"name": "east"}],
            namespace=ns,
            ignoreApplicationDifferences=[{"jqPathExpressions": [".spec.source"]}],
        )
        await create_appset(hub, body)
        await app_names_become(run, "gb", {"east-guestbook"})
        # Only an existing Application meets the rule: touch it so the next reconcile compares.
        await request_json(
            hub,
            "PATCH",
            APPLICATION.item(ns, "east-guestbook"),
            body={"metadata": {"annotations": {"touched": "yes"}}},
            content_type="application/merge-patch+json",
        )

        async def reported() -> bool:
            error = condition(await get_appset(hub, ns, "gb"), "ErrorOccurred")
            return "jqPathExpressions are not supported" in error["message"]

        await eventually(reported, what="jqPathExpressions not supported")


async def test_status_lists_at_most_the_cap_of_applications_and_counts_them_all(
    tmp_path: Path,
) -> None:
    """Argo CD's cap on `status.resources`, with `resourcesCount` for the total: at 10,000
    Applications the whole list would not fit in an object."""
    settings = AppSetSettings(in_cluster_enabled=False, max_resources_status=3)
    names = [f"c{i}" for i in range(5)]
    async with (
        sim_hub(tmp_path) as (hub, ns),
        running(hub, ns, tmp_path / "cache", settings=settings) as run,
    ):
        await create_appset(hub, list_appset("gb", [{"name": n} for n in names], namespace=ns))
        await app_names_become(run, "gb", {f"{n}-guestbook" for n in names})

        async def counted() -> bool:
            status = (await get_appset(hub, ns, "gb")).get("status") or {}
            return status.get("resourcesCount") == 5

        await eventually(counted, what="resourcesCount 5")
        status = (await get_appset(hub, ns, "gb"))["status"]
        assert len(status["resources"]) == 3
