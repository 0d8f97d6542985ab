"""Argo CD's in-cluster destination: `https://kubernetes.default.svc` and `in-cluster` are the
hub, reached with the controller's own hub credentials; `--no-in-cluster` refuses them with
Argo CD's message; a cluster Secret registering that URL takes the implicit one's place; the
clusters generator keeps Argo CD's rules for the local cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.kube import NotFound, request_json
from tests.clusters.harness import put_secret
from tests.controllers.harness import Scenario, condition, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio

IN_CLUSTER = "https://kubernetes.default.svc"


def app_spec(scenario: Scenario, destination: Obj) -> Obj:
    return {
        "project": "default",
        "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": "apps/api"},
        "destination": {**destination, "namespace": scenario.app_namespace},
        "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
    }


async def hub_configmap(scenario: Scenario, name: str) -> Obj | None:
    path = f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/{name}"
    try:
        found: Obj = await request_json(scenario.hub, "GET", path)
        return found
    except NotFound:
        return None


async def test_an_application_for_kubernetes_default_svc_deploys_to_the_hub(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    async with scenario.controller():
        await scenario.create_application("local", app_spec(scenario, {"server": IN_CLUSTER}))
        await scenario.wait_apps(
            lambda apps: "local" in apps and synced_and_healthy(apps["local"]),
            what="the in-cluster Application Synced and Healthy",
        )
    found = await hub_configmap(scenario, "api-config")
    assert found is not None and found["data"] == {"mode": "fast"}


async def test_destination_name_in_cluster_deploys_to_the_hub(sim_scenario: Scenario) -> None:
    scenario = sim_scenario
    async with scenario.controller():
        await scenario.create_application("local", app_spec(scenario, {"name": "in-cluster"}))
        await scenario.wait_apps(
            lambda apps: "local" in apps and synced_and_healthy(apps["local"]),
            what="the in-cluster Application Synced and Healthy",
        )
    assert await hub_configmap(scenario, "api-config") is not None


async def test_with_in_cluster_disabled_the_application_gets_argo_cds_error(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    async with scenario.controller(in_cluster_enabled=False):
        await scenario.create_application("local", app_spec(scenario, {"server": IN_CLUSTER}))
        apps = await scenario.wait_apps(
            lambda apps: bool(condition(apps.get("local") or {}, "InvalidSpecError")),
            what="an InvalidSpecError on the in-cluster Application",
        )
    message = condition(apps["local"], "InvalidSpecError")["message"]
    assert f'cluster "{IN_CLUSTER}" is disabled' in message
    assert await hub_configmap(scenario, "api-config") is None


async def test_a_secret_registering_the_in_cluster_url_takes_its_name_and_the_hub_credentials(
    sim_scenario: Scenario,
) -> None:
    """As Argo CD: such a Secret (often with no credentials, only a name and labels) replaces
    the implicit `in-cluster`; the controller's own credentials still reach the hub."""
    scenario = sim_scenario
    await put_secret(
        scenario.hub,
        scenario.namespace,
        "hub-local",
        {
            "name": "hub",
            "server": IN_CLUSTER,
            "config": json.dumps({"tlsClientConfig": {"insecure": False}}),
        },
        labels={"argocd.argoproj.io/secret-type": "cluster", "env": "prod"},
    )
    async with scenario.controller():
        await scenario.create_application("by-name", app_spec(scenario, {"name": "hub"}))
        await scenario.create_application("old-name", app_spec(scenario, {"name": "in-cluster"}))
        apps = await scenario.wait_apps(
            lambda apps: (
                synced_and_healthy(apps.get("by-name") or {})
                and bool(condition(apps.get("old-name") or {}, "InvalidSpecError"))
            ),
            what="the Secret's name served, the implicit name gone",
        )
    assert (
        "cluster 'in-cluster' has not been configured"
        in (condition(apps["old-name"], "InvalidSpecError")["message"])
    )
    assert await hub_configmap(scenario, "api-config") is not None


def local_appset(scenario: Scenario, generator: Obj) -> Obj:
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "local", "namespace": scenario.namespace},
        "spec": {
            "generators": [{"clusters": generator}],
            "template": {
                "metadata": {"name": "api-{{name}}"},
                "spec": app_spec(scenario, {"server": "{{server}}"}),
            },
        },
    }


async def test_a_clusters_generator_without_selector_includes_the_hub_as_in_cluster(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    async with scenario.controller():
        await scenario.apply_appset(local_appset(scenario, {}))
        apps = await scenario.wait_apps(
            lambda apps: (
                set(apps) == {"api-in-cluster", f"api-{scenario.member(0).name}"}
                and all(map(synced_and_healthy, apps.values()))
            ),
            what="one Application for in-cluster and one for the member, converged",
        )
    assert apps["api-in-cluster"]["spec"]["destination"]["server"] == IN_CLUSTER
    assert await hub_configmap(scenario, "api-config") is not None


async def test_a_secret_type_selector_selects_registered_clusters_and_not_the_hub(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    selector = {"selector": {"matchLabels": {"argocd.argoproj.io/secret-type": "cluster"}}}
    async with scenario.controller():
        await scenario.apply_appset(local_appset(scenario, selector))
        apps = await scenario.wait_apps(
            lambda apps: set(apps) == {f"api-{scenario.member(0).name}"},
            what="only the registered member's Application",
        )
    assert "api-in-cluster" not in apps
