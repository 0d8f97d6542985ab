"""Argo CD's sync options end to end: each either works or is refused with a condition naming
it; and `ignoreDifferences` on `/spec/replicas` keeps an HPA's replica count across syncs and
self-heal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from fleet.kube import NotFound, request_json
from tests.clusters.harness import Env
from tests.controllers.harness import Scenario, condition, configmap, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio

APPS = "/apis/fleet.gitops.dev/v1alpha1/namespaces/{ns}/applications/{name}"


def spec(scenario: Scenario, path: str = "apps/api", **policy: Any) -> Obj:
    sync_policy: Obj = {"syncOptions": ["CreateNamespace=true"]}
    sync_policy.update(policy)
    return {
        "project": "default",
        "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": path},
        "destination": {"name": scenario.member(0).name, "namespace": scenario.app_namespace},
        "syncPolicy": sync_policy,
    }


def operation_message(app: Obj) -> str:
    return str(((app.get("status") or {}).get("operationState") or {}).get("message") or "")


def deployment_doc(replicas: int, note: str) -> str:
    labels = {"app": "web"}
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"note": note}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
                },
            },
        }
    )


async def patch_member_deployment(scenario: Scenario, body: Obj, manager: str) -> None:
    api = scenario.members[scenario.member(0).name]
    path = f"/apis/apps/v1/namespaces/{scenario.app_namespace}/deployments/web"
    await request_json(
        api,
        "PATCH",
        path,
        body=body,
        query={"fieldManager": manager},
        content_type="application/merge-patch+json",
    )


async def test_ignored_replicas_survive_a_new_commit_and_a_self_heal(scenario: Scenario) -> None:
    """The HPA case: the member's replica count (set by another manager) stays through a sync
    of a new commit and through the self-heal of an unrelated manual edit."""
    await scenario.register(scenario.member(0))
    app = spec(scenario, "apps/web", automated={"prune": True, "selfHeal": True})
    app["ignoreDifferences"] = [
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
    ]
    async with scenario.controller():
        await scenario.create_application("web", app)
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("web") or {}), what="web")
        await patch_member_deployment(scenario, {"spec": {"replicas": 3}}, "hpa-controller")
        revision = scenario.upstream.commit(
            {"apps/web/deployment.yaml": deployment_doc(1, "second")}, "annotate web"
        )
        await scenario.wait_apps(
            lambda a: synced_and_healthy(a.get("web") or {}, revision), what="web at commit 2"
        )
        live = await scenario.wait_member(
            scenario.member(0),
            "apis/apps/v1/deployments",
            "web",
            lambda obj: obj is not None and obj["metadata"]["annotations"].get("note") == "second",
        )
        assert live is not None and live["spec"]["replicas"] == 3
        await patch_member_deployment(
            scenario, {"metadata": {"annotations": {"note": "by hand"}}}, "kubectl-edit"
        )
        healed = await scenario.wait_member(
            scenario.member(0),
            "apis/apps/v1/deployments",
            "web",
            lambda obj: obj is not None and obj["metadata"]["annotations"].get("note") == "second",
        )
    assert healed is not None and healed["spec"]["replicas"] == 3


async def test_delete_false_keeps_the_resource_when_the_application_is_deleted(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    options = ["CreateNamespace=true", "Delete=false"]
    app = spec(scenario, automated={"prune": True}, syncOptions=options)
    async with scenario.controller():
        await scenario.create_application("api", app)
        path = APPS.format(ns=scenario.namespace, name="api")
        await request_json(
            scenario.hub,
            "PATCH",
            path,
            body={"metadata": {"finalizers": ["resources-finalizer.argocd.argoproj.io"]}},
            content_type="application/merge-patch+json",
        )
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("api") or {}), what="api")
        await request_json(scenario.hub, "DELETE", path)
        await scenario.wait_apps(lambda a: "api" not in a, what="api deleted")
    kept = await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
    assert kept is not None


async def test_fail_on_shared_resource_fails_the_sync_naming_the_other_application(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    async with scenario.controller():
        await scenario.create_application("first", spec(scenario, automated={}))
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("first") or {}), what="first")
        await scenario.create_application(
            "second",
            spec(
                scenario,
                automated={},
                syncOptions=["CreateNamespace=true", "FailOnSharedResource=true"],
            ),
        )
        apps = await scenario.wait_apps(
            lambda a: "FailOnSharedResource" in operation_message(a.get("second") or {}),
            what="second's sync failed on the shared ConfigMap",
        )
    message = operation_message(apps["second"])
    assert "ConfigMap" in message and "api-config" in message and "first" in message
    live = await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
    assert live is not None
    assert (
        live["metadata"]["annotations"]["fleet.gitops.dev/tracking-id"]
        .split(":")[0]
        .endswith("/first")
    )


async def test_managed_namespace_metadata_labels_the_created_namespace(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    app = spec(
        scenario,
        automated={},
        managedNamespaceMetadata={"labels": {"team": "payments"}, "annotations": {"a": "b"}},
    )
    async with scenario.controller():
        await scenario.create_application("api", app)
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("api") or {}), what="api")
    api = scenario.members[scenario.member(0).name]
    namespace = await request_json(api, "GET", f"/api/v1/namespaces/{scenario.app_namespace}")
    assert namespace["metadata"]["labels"]["team"] == "payments"
    assert namespace["metadata"]["annotations"]["a"] == "b"


async def test_a_sync_option_fleet_cannot_honour_is_a_condition_naming_it(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    app = spec(scenario, automated={}, syncOptions=["CreateNamespace=true", "Prune=confirm"])
    async with scenario.controller():
        await scenario.create_application("api", app)
        apps = await scenario.wait_apps(
            lambda a: bool(condition(a.get("api") or {}, "InvalidSpecError")),
            what="an InvalidSpecError naming Prune=confirm",
        )
    message = condition(apps["api"], "InvalidSpecError")["message"]
    assert "spec.syncPolicy.syncOptions[1]" in message and "Prune=confirm" in message
    with pytest.raises(NotFound):
        await request_json(
            scenario.members[scenario.member(0).name],
            "GET",
            f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/api-config",
        )


async def test_a_refused_sync_options_annotation_names_the_object(sim_scenario: Scenario) -> None:
    scenario = sim_scenario
    await scenario.register(scenario.member(0))
    doc = yaml.safe_load(configmap("forced", {"k": "v"}))
    doc["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "Force=true,Replace=true"}
    scenario.upstream.commit({"apps/forced/cm.yaml": yaml.safe_dump(doc)}, "forced")
    async with scenario.controller():
        await scenario.create_application("forced", spec(scenario, "apps/forced", automated={}))
        apps = await scenario.wait_apps(
            lambda a: bool(condition(a.get("forced") or {}, "ComparisonError")),
            what="a ComparisonError naming the annotation",
        )
        await anyio.sleep(0)
    message = condition(apps["forced"], "ComparisonError")["message"]
    assert "ConfigMap/forced" in message and "Force=true" in message


async def test_prune_propagation_orphan_leaves_the_dependants_of_a_pruned_object(
    real_env: Env, tmp_path: Path
) -> None:
    """Real API server only: its garbage collector is what honours the propagation policy.
    A Secret owned by the Deployment stays (its owner reference removed) when the Deployment
    is pruned with PrunePropagationPolicy=orphan."""
    async with Scenario.open(real_env, tmp_path) as scenario:
        await scenario.register(scenario.member(0))
        options = ["CreateNamespace=true", "PrunePropagationPolicy=orphan"]
        app = spec(scenario, "apps/web", automated={"prune": True}, syncOptions=options)
        api = scenario.members[scenario.member(0).name]
        secret = f"/api/v1/namespaces/{scenario.app_namespace}/secrets/dependant"
        async with scenario.controller():
            await scenario.create_application("web", app)
            await scenario.wait_apps(lambda a: synced_and_healthy(a.get("web") or {}), what="web")
            member = scenario.member(0)
            owner = await scenario.member_object(member, "apis/apps/v1/deployments", "web")
            assert owner is not None
            reference = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "web",
                "uid": owner["metadata"]["uid"],
            }
            await request_json(
                api,
                "POST",
                secret.rpartition("/")[0],
                body={
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "dependant", "ownerReferences": [reference]},
                },
            )
            (scenario.upstream.work / "apps/web/deployment.yaml").unlink()
            scenario.upstream.commit({}, "remove the Deployment")
            await scenario.wait_member(
                scenario.member(0), "apis/apps/v1/deployments", "web", lambda obj: obj is None
            )
        with anyio.fail_after(60):  # the garbage collector drops the owner reference
            while True:
                left = await request_json(api, "GET", secret)
                if not left["metadata"].get("ownerReferences"):
                    break
                await anyio.sleep(0.2)
