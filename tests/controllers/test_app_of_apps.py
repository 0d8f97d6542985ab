"""App of apps: a root Application whose manifests are Applications deploys them to the hub
(the in-cluster destination, the controller's namespace); fleet reconciles the children; the
root ignores what fleet writes on a child (its status) and does not fight it; removing a child
from Git deletes it with its resources finalizer honoured (its objects go first).

As in Argo CD since v1.8, a child Application has no health of its own in the root (Argo CD
removed the Application health check from its defaults): the root is Healthy once synced."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import yaml

from tests.controllers.harness import Scenario, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio

IN_CLUSTER = "https://kubernetes.default.svc"


def child(scenario: Scenario, name: str, path: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "fleet.gitops.dev/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": name,
                "finalizers": ["resources-finalizer.argocd.argoproj.io"],
            },
            "spec": {
                "project": "default",
                "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": path},
                "destination": {
                    "name": scenario.member(0).name,
                    "namespace": scenario.app_namespace,
                },
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": ["CreateNamespace=true"],
                },
            },
        }
    )


def root_spec(scenario: Scenario) -> Obj:
    return {
        "project": "default",
        "source": {"repoURL": scenario.repo_url, "targetRevision": "main", "path": "argocd/apps"},
        "destination": {"server": IN_CLUSTER, "namespace": scenario.namespace},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }


async def test_a_root_application_deploys_reconciles_and_prunes_its_children(
    scenario: Scenario,
) -> None:
    await scenario.register(scenario.member(0))
    scenario.upstream.commit(
        {
            "argocd/apps/api.yaml": child(scenario, "child-api", "apps/api"),
            "argocd/apps/web.yaml": child(scenario, "child-web", "apps/web"),
        },
        "app of apps",
    )
    everything = {"root", "child-api", "child-web"}
    async with scenario.controller():
        await scenario.create_application("root", root_spec(scenario))
        apps = await scenario.wait_apps(
            lambda a: set(a) == everything and all(map(synced_and_healthy, a.values())),
            what="the root and both children Synced and Healthy",
        )
        assert await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
        syncs = len(apps["root"]["status"]["history"])
        await anyio.sleep(3.0)  # the children's status writes must not make the root re-sync
        apps = await scenario.applications()
        assert synced_and_healthy(apps["root"])
        assert len(apps["root"]["status"]["history"]) == syncs

        (scenario.upstream.work / "argocd/apps/api.yaml").unlink()
        scenario.upstream.commit({}, "remove child-api")  # commits every change in the tree
        await scenario.wait_apps(
            lambda a: set(a) == {"root", "child-web"} and synced_and_healthy(a["root"]),
            what="child-api pruned by the root",
        )
    gone = await scenario.member_object(scenario.member(0), "api/v1/configmaps", "api-config")
    assert gone is None  # the child's resources finalizer ran before it went
