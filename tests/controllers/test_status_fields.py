"""Status fields Argo CD's tools and notification templates read besides sync and health:
`sync.comparedTo`, `sourceType`, `operationState.operation` with its `initiatedBy` (for
automated sync `automated: true`; for a requested sync what was asked, bounded, since the
request is user input echoed into status), and each history entry's `source` and
`initiatedBy`."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.api.group import FLEET
from fleet.kube import request_json
from tests.controllers.harness import Scenario, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio


async def test_an_automated_sync_records_what_it_compared_and_that_it_was_automated(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    policy = {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]}
    wanted = scenario.api_spec(policy)
    async with scenario.controller():
        await scenario.create_application("api", wanted)
        apps = await scenario.wait_apps(
            lambda apps: "api" in apps and synced_and_healthy(apps["api"]),
            what="api Synced and Healthy",
        )
    status = apps["api"]["status"]
    revision = status["sync"]["revision"]
    assert status["sync"]["comparedTo"] == {
        "source": wanted["source"],
        "destination": wanted["destination"],
    }
    assert status["sourceType"] == "Directory"
    assert status["operationState"]["operation"] == {
        "sync": {"revision": revision, "prune": True, "syncOptions": ["CreateNamespace=true"]},
        "initiatedBy": {"automated": True},
    }
    assert status["operationState"]["syncResult"]["revision"] == revision
    last = status["history"][-1]
    assert last["revision"] == revision
    assert last["source"] == wanted["source"]
    assert last["initiatedBy"] == {"automated": True}


async def test_a_requested_sync_is_echoed_with_its_user_and_only_its_known_bounded_fields(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    async with scenario.controller():
        await scenario.create_application(
            "api", scenario.api_spec({"syncOptions": ["CreateNamespace=true"]})
        )
        await scenario.wait_apps(
            lambda apps: (
                "api" in apps
                and (apps["api"].get("status") or {}).get("sync", {}).get("status") == "OutOfSync"
            ),
            what="api compared, OutOfSync (no automated sync)",
        )
        operation = {
            "sync": {
                "revision": "main",
                "prune": True,
                "syncOptions": [f"Option{i}=true" for i in range(100)],
                "unknown": "x" * 10_000,
            },
            "initiatedBy": {"username": "alice", "extra": "y" * 10_000},
            "extra": {"z": "z" * 10_000},
        }
        await request_json(
            scenario.hub,
            "PATCH",
            FLEET.application.item(scenario.namespace, "api"),
            body={"operation": operation},
            content_type="application/merge-patch+json",
        )
        apps = await scenario.wait_apps(
            lambda apps: synced_and_healthy(apps["api"]) and "operation" not in apps["api"],
            what="the requested sync done and its operation cleared",
        )
    echoed = apps["api"]["status"]["operationState"]["operation"]
    assert echoed["initiatedBy"] == {"username": "alice"}
    assert echoed["sync"]["revision"] == "main"
    assert echoed["sync"]["prune"] is True
    assert echoed["sync"]["syncOptions"] == [f"Option{i}=true" for i in range(32)]
    assert set(echoed) == {"sync", "initiatedBy"} and "unknown" not in echoed["sync"]
    assert apps["api"]["status"]["history"][-1]["initiatedBy"] == {"username": "alice"}


async def test_the_summary_lists_the_images_the_application_runs_and_its_links(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    spec = scenario.api_spec({"automated": {}, "syncOptions": ["CreateNamespace=true"]})
    spec["source"] = {**spec["source"], "path": "apps/web"}  # a ConfigMap and nginx:1.27
    link = "https://grafana.example.com/d/web"
    async with scenario.controller():
        await scenario.create_application("web", spec)
        await request_json(
            scenario.hub,
            "PATCH",
            FLEET.application.item(scenario.namespace, "web"),
            body={"metadata": {"annotations": {"link.argocd.argoproj.io/dashboard": link}}},
            content_type="application/merge-patch+json",
        )
        apps = await scenario.wait_apps(
            lambda apps: (
                "web" in apps
                and synced_and_healthy(apps["web"])
                and bool(apps["web"]["status"].get("summary", {}).get("externalURLs"))
            ),
            what="web Synced and Healthy with its link in the summary",
        )
    assert apps["web"]["status"]["summary"] == {"images": ["nginx:1.27"], "externalURLs": [link]}
