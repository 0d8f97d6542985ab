"""Moving from Argo CD (docs/migration.md), on fleet.sim and on the real kube-apiserver: a hub
as Argo CD leaves it when its controllers are scaled to zero, then `fleet controller run
--api argocd`. Every Application keeps its history and converges, nothing on a member is
recreated, what Argo CD deployed for an Application is adopted (and pruned when it leaves
Git), and nothing belonging to another Application or only labelled like it is touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.api.group import ARGOCD
from fleet.kube import request_json
from tests.argocd.takeover import FINALIZER, TRACKING, Takeover, manifest, uid, web_files
from tests.clusters.harness import Env
from tests.controllers.harness import configmap, synced_and_healthy

Obj = dict[str, Any]

pytestmark = pytest.mark.anyio


async def test_fleet_takes_over_an_argo_cd_application_keeping_history_and_objects(
    env: Env, tmp_path: Path
) -> None:
    async with Takeover.open(env, tmp_path) as hub:
        first = hub.upstream.commit(
            {"apps/web/configmap.yaml": configmap("web-config", {"color": "blue"})}, "first"
        )
        deployed = hub.upstream.commit(web_files(stale=True), "Argo CD synced this one")
        # What Argo CD applied at `deployed`, plus what other owners put beside it.
        applied = {
            name: await hub.applied_by_argocd("web", manifest(text))
            for name, text in (
                ("web-config", configmap("web-config", {"color": "blue"})),
                ("stale-config", configmap("stale-config", {"old": "yes"})),
                ("web", web_files(stale=False)["apps/web/deployment.yaml"]),
            )
        }
        other_app = await hub.applied_by_argocd("api", manifest(configmap("api-config", {})))
        helm_labelled = manifest(configmap("chart-config", {}))
        helm_labelled["metadata"]["labels"] = {"app.kubernetes.io/instance": "web"}
        helm_labelled["metadata"]["namespace"] = hub.app_namespace
        helm_labelled = await request_json(
            hub.member, "POST", hub.collection("", "ConfigMap"), body=helm_labelled
        )
        status = hub.argocd_status(
            "web", [first, deployed], [hub.resource_entry(o) for o in applied.values()]
        )
        app = await hub.create_application(
            "web", hub.app_spec("apps/web"), status, finalizers=[FINALIZER]
        )
        await hub.put_default_project()
        # While Argo CD was scaled down, stale.yaml left Git.
        hub.upstream.git("rm", "-q", "apps/web/stale.yaml")
        head = hub.upstream.commit({}, "stale-config is gone")

        async with hub.fleet():

            async def converged() -> Obj | None:
                web = (await hub.applications()).get("web") or {}
                gone = await hub.live("", "ConfigMap", "stale-config") is None
                return web if gone and synced_and_healthy(web, head) else None

            web = await hub.wait(converged, "web Synced and Healthy at HEAD, stale-config pruned")

        history = web["status"]["history"]
        assert [h["id"] for h in history] == [0, 1, 2]
        assert history[:2] == status["history"], "Argo CD's entries are kept as they were"
        assert history[2]["revision"] == head
        assert uid(web) == uid(app)
        for name, kind, group in (("web-config", "ConfigMap", ""), ("web", "Deployment", "apps")):
            live = await hub.live(group, kind, name)
            assert uid(live) == uid(applied[name]), f"{kind} {name} was recreated"
            assert live is not None
            assert "fleet.gitops.dev/tracking-id" in live["metadata"]["annotations"]
        kept = await hub.live("", "ConfigMap", "api-config")
        assert uid(kept) == uid(other_app), "another Application's object is untouched"
        assert kept is not None and kept["metadata"]["annotations"][TRACKING].startswith("api:")
        assert uid(await hub.live("", "ConfigMap", "chart-config")) == uid(helm_labelled)


async def test_an_adopted_object_leaving_git_later_is_pruned(env: Env, tmp_path: Path) -> None:
    async with Takeover.open(env, tmp_path) as hub:
        deployed = hub.upstream.commit(web_files(stale=False), "deployed by Argo CD")
        applied = [
            await hub.applied_by_argocd("web", manifest(text))
            for text in web_files(stale=False).values()
        ]
        status = hub.argocd_status("web", [deployed], [hub.resource_entry(o) for o in applied])
        await hub.create_application("web", hub.app_spec("apps/web"), status)
        async with hub.fleet():
            await hub.wait(
                lambda: _synced(hub, deployed, history=2), "web Synced by fleet (history 2)"
            )
            hub.upstream.git("rm", "-q", "apps/web/deployment.yaml")
            head = hub.upstream.commit({}, "no more Deployment")

            async def pruned() -> bool:
                gone = await hub.live("apps", "Deployment", "web") is None
                return gone and bool(await _synced(hub, head, history=3))

            await hub.wait(pruned, "the Deployment pruned after leaving Git")
        assert uid(await hub.live("", "ConfigMap", "web-config")) == uid(applied[0])


async def test_applications_an_argo_cd_applicationset_generated_are_adopted_not_recreated(
    env: Env, tmp_path: Path
) -> None:
    async with Takeover.open(env, tmp_path) as hub:
        hub.upstream.commit(web_files(stale=False), "apps")
        appset = await request_json(
            hub.hub,
            "POST",
            ARGOCD.application_set.collection(hub.namespace),
            body={
                "apiVersion": ARGOCD.api_version,
                "kind": "ApplicationSet",
                "metadata": {"name": "team", "namespace": hub.namespace},
                "spec": {
                    "goTemplate": True,
                    "generators": [{"list": {"elements": [{"svc": "web"}]}}],
                    "template": {
                        "metadata": {"name": "{{.svc}}"},
                        "spec": hub.app_spec("apps/{{.svc}}"),
                    },
                },
            },
        )
        owner = {
            "apiVersion": ARGOCD.api_version,
            "kind": "ApplicationSet",
            "name": "team",
            "uid": appset["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        app = await hub.create_application(
            "web", hub.app_spec("apps/web"), ownerReferences=[owner], finalizers=[FINALIZER]
        )
        async with hub.fleet():

            async def adopted() -> Obj | None:
                web = (await hub.applications()).get("web") or {}
                labels = web.get("metadata", {}).get("labels") or {}
                ok = labels.get("fleet.gitops.dev/applicationset") == "team"
                return web if ok and synced_and_healthy(web) else None

            web = await hub.wait(adopted, "the generated Application adopted and Synced")
        assert uid(web) == uid(app)
        assert web["metadata"]["ownerReferences"] == [owner]


async def _synced(hub: Takeover, revision: str, history: int) -> Obj | None:
    web = (await hub.applications()).get("web") or {}
    entries = (web.get("status") or {}).get("history") or []
    return web if synced_and_healthy(web, revision) and len(entries) == history else None
