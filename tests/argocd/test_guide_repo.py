"""A config repository written for Argo CD, laid out as public guides lay one out
(tests/fixtures/argocd_guide), runs on fleet in Argo CD mode unchanged: the app-of-apps root
applied with `kubectl apply -n argocd -f`, the ApplicationSet it deploys to the hub, kustomize
overlays per environment, a PreSync migration Job, an HPA-managed replica count, self-heal, and
pruning from the root's manifests. On fleet.sim and on the real kube-apiserver.

The one edit to the repository: its GitHub URL becomes the test's git server's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.group import ARGOCD
from fleet.controllers.runtime import Controller
from fleet.kube import Credentials, NotFound, build_api_client, request_json
from tests.argocd.takeover import argocd_cluster_secret
from tests.clusters.harness import Env, Member
from tests.controllers.harness import controller_settings, running_controller
from tests.git.support import GitDaemon, Upstream
from tests.kubectl import kubectl, require_kubectl

pytestmark = pytest.mark.anyio

Obj = dict[str, Any]

GUIDE = Path(__file__).resolve().parents[1] / "fixtures" / "argocd_guide" / "repo"
GUIDE_URL = "https://github.com/example-org/gitops-config.git"
HUB_NAMESPACE = "argocd"
"""Fixed by the guide's YAML (`metadata.namespace: argocd`), so not one per test."""
APP_NAMESPACE = "guestbook"
ENVIRONMENTS = ("staging", "production")
DEPLOYMENTS = "/apis/apps/v1/namespaces/guestbook/deployments"
JOBS = "/apis/batch/v1/namespaces/guestbook/jobs"
MIGRATION = "guestbook-db-migrate"
FAIL = "fleet.gitops.dev/sim-fail"
"""Both test backends' status agents fail a Job with this annotation (tests/hooks)."""


@pytest.fixture(autouse=True)
def need_kubectl() -> None:
    require_kubectl()


def guide_files(url: str) -> dict[str, str]:
    return {
        str(path.relative_to(GUIDE)): path.read_text().replace(GUIDE_URL, url)
        for path in sorted(GUIDE.rglob("*"))
        if path.is_file()
    }


@dataclass
class Guide:
    env: Env
    hub: ApiClient
    members: dict[str, ApiClient]
    upstream: Upstream
    workdir: Path
    kubeconfig: Path

    async def kubectl(self, *args: str) -> str:
        code, text = await kubectl(self.kubeconfig, *args)
        assert code == 0, f"kubectl {' '.join(args)} failed: {text}"
        return text

    async def register(self, member: Member, env: str) -> None:
        """An Argo CD cluster Secret with an `env` label, as `argocd cluster add --label` makes."""
        body = argocd_cluster_secret(member, HUB_NAMESPACE, {"env": env})
        with suppress(NotFound):
            await request_json(
                self.hub,
                "DELETE",
                f"/api/v1/namespaces/{HUB_NAMESPACE}/secrets/cluster-{member.name}",
            )
        await request_json(
            self.hub, "POST", f"/api/v1/namespaces/{HUB_NAMESPACE}/secrets", body=body
        )

    async def applications(self) -> dict[str, Obj]:
        listing = await request_json(self.hub, "GET", ARGOCD.application.collection(HUB_NAMESPACE))
        return {i["metadata"]["name"]: i for i in listing.get("items") or []}

    async def live(self, member: str, path: str, name: str) -> Obj | None:
        try:
            found: Obj = await request_json(self.members[member], "GET", f"{path}/{name}")
        except NotFound:
            return None
        return found

    async def wait(
        self, check: Callable[[], Awaitable[Any]], what: str, timeout: float = 90
    ) -> Any:
        """Until `await check()` is truthy: a hang guard, not a timing claim."""
        try:
            with anyio.fail_after(timeout):
                while not (result := await check()):
                    await anyio.sleep(0.2)
                return result
        except TimeoutError:
            summary = {
                name: {
                    k: (app.get("status") or {}).get(k)
                    for k in ("sync", "health", "conditions", "operationState")
                }
                for name, app in (await self.applications()).items()
            }
            pytest.fail(f"{what} never happened; Applications: {summary}")

    def fleet(self) -> AbstractAsyncContextManager[Controller]:
        settings = controller_settings(self.workdir, HUB_NAMESPACE, flavour=ARGOCD)
        return running_controller(self.hub, settings)


@asynccontextmanager
async def guide(env: Env, workdir: Path) -> AsyncIterator[Guide]:
    base = workdir / "git" / "srv"
    base.mkdir(parents=True)
    daemon = GitDaemon(base)
    daemon.start()
    upstream = Upstream(base, "config")
    upstream.commit(guide_files(daemon.url("config")), "the guide's repository")
    hub = build_api_client(
        Credentials(server=env.hub.server, token=env.hub.token, ca_pem=env.hub.ca_pem)
    )
    members = {
        m.name: build_api_client(Credentials(server=m.server, token=m.token, ca_pem=m.ca_pem))
        for m in env.members[:2]
    }
    try:
        await install_crds(hub, flavour=ARGOCD)
        with suppress(Exception):  # the real hub may have it from an earlier run
            await request_json(
                hub, "POST", "/api/v1/namespaces", body={"metadata": {"name": HUB_NAMESPACE}}
            )
        made = Guide(env, hub, members, upstream, workdir, env.hub.kubeconfig)
        for member, environment in zip(env.members[:2], ENVIRONMENTS, strict=True):
            await made.register(member, environment)
        yield made
    finally:
        for api in members.values():
            await api.close()
        await hub.close()
        daemon.stop()


def synced_healthy(app: Mapping[str, Any], revision: str) -> bool:
    status = app.get("status") or {}
    return (
        (status.get("sync") or {}).get("status") == "Synced"
        and (status.get("sync") or {}).get("revision") == revision
        and (status.get("health") or {}).get("status") == "Healthy"
    )


def image(deployment: Obj | None) -> str:
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_an_argo_cd_guide_repository_runs_on_fleet_unchanged(
    env: Env, tmp_path: Path
) -> None:
    async with guide(env, tmp_path) as g, g.fleet():
        first = g.upstream.git("rev-parse", "HEAD").strip()
        staging, production = (m.name for m in env.members[:2])
        apps = {"root", f"guestbook-{staging}", f"guestbook-{production}"}

        await g.kubectl(
            "apply", "-n", HUB_NAMESPACE, "-f", str(g.upstream.work / "argocd/root.yaml")
        )

        async def converged(revision: str) -> bool:
            found = await g.applications()
            return set(found) >= apps and all(synced_healthy(found[a], revision) for a in apps)

        await g.wait(
            lambda: converged(first),
            "the root, its ApplicationSet and both Applications Synced and Healthy",
        )
        for member, environment in ((staging, "staging"), (production, "production")):
            deployment = await g.live(member, DEPLOYMENTS, "guestbook-ui")
            assert deployment is not None
            assert deployment["metadata"]["labels"]["environment"] == environment
            job = await g.live(member, JOBS, MIGRATION)
            assert job is not None, "the PreSync migration Job ran (BeforeHookCreation keeps it)"

        # An HPA scales the staging Deployment; a person edits production's image by hand.
        await request_json(
            g.members[staging],
            "PATCH",
            f"{DEPLOYMENTS}/guestbook-ui/scale",
            body={"spec": {"replicas": 3}},
            content_type="application/merge-patch+json",
        )
        await request_json(
            g.members[production],
            "PATCH",
            f"{DEPLOYMENTS}/guestbook-ui",
            body={
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "guestbook-ui", "image": "hand-edited:1"}]}
                    }
                }
            },
            content_type="application/strategic-merge-patch+json",
        )

        async def reverted() -> bool:
            return image(await g.live(production, DEPLOYMENTS, "guestbook-ui")).endswith(":0.2")

        await g.wait(reverted, "self-heal reverting the hand-edited image")

        # A release that syncs: the HPA's replica count stays (ignoreDifferences /spec/replicas).
        service = g.upstream.work / "apps/guestbook/base/service.yaml"
        service.write_text(service.read_text().replace("port: 80\n", "port: 8080\n", 1))
        second = g.upstream.commit({}, "expose the guestbook on 8080")
        await g.wait(lambda: converged(second), "the release Synced and Healthy")
        scaled = await g.live(staging, DEPLOYMENTS, "guestbook-ui")
        assert scaled is not None and scaled["spec"]["replicas"] == 3

        # A release whose migration fails: the sync fails, the old version keeps running.
        deployment = g.upstream.work / "apps/guestbook/base/deployment.yaml"
        deployment.write_text(deployment.read_text().replace("demo:0.2", "demo:0.3"))
        job = g.upstream.work / "apps/guestbook/base/migrate-job.yaml"
        job.write_text(
            job.read_text().replace(
                "    argocd.argoproj.io/hook: PreSync\n",
                f'    argocd.argoproj.io/hook: PreSync\n    {FAIL}: "true"\n',
            )
        )
        third = g.upstream.commit({}, "v0.3 with a migration that fails")

        async def migration_failed() -> Obj | None:
            """The operation of the release names the failed hook (while it retries, per the
            Application's retry policy, and once it gives up)."""
            app = (await g.applications()).get(f"guestbook-{staging}") or {}
            state = (app.get("status") or {}).get("operationState") or {}
            revision = ((state.get("operation") or {}).get("sync") or {}).get("revision")
            named = f"PreSync hook Job/{MIGRATION} in namespace {APP_NAMESPACE} failed"
            return state if revision == third and named in str(state.get("message")) else None

        await g.wait(migration_failed, "the failing PreSync hook reported")
        for member in (staging, production):
            assert image(await g.live(member, DEPLOYMENTS, "guestbook-ui")).endswith(":0.2")

        # Pruning the ApplicationSet from the root's manifests removes the Applications, and
        # their resources finalizer removes what they deployed.
        (g.upstream.work / "argocd/apps/guestbook-appset.yaml").unlink()
        g.upstream.commit({}, "retire the guestbook")

        async def retired() -> bool:
            found = await g.applications()
            gone = not {f"guestbook-{staging}", f"guestbook-{production}"} & set(found)
            return gone and await g.live(staging, DEPLOYMENTS, "guestbook-ui") is None

        await g.wait(retired, "the Applications and their Deployments removed")
        await g.kubectl("delete", "-n", HUB_NAMESPACE, "application", "root", "--wait=false")
        await g.wait(lambda: _no_applications(g), "the root removed")


async def _no_applications(g: Guide) -> bool:
    return not await g.applications()
