"""A hub as Argo CD leaves it when its controllers are scaled to zero: Argo CD's CRDs, a cluster
Secret, an AppProject, Applications with the status Argo CD wrote, and on a member the objects
Argo CD applied (its tracking annotation, client-side apply's last-applied-configuration, its
field manager). Then fleet in Argo CD mode takes over (docs/migration.md)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.group import ARGOCD
from fleet.controllers.runtime import Controller, ControllerSettings
from fleet.kube import Credentials, NotFound, build_api_client, request_json
from tests.clusters.harness import Env, Member, create_namespace
from tests.controllers.harness import configmap, controller_settings, deployment, running_controller
from tests.git.support import GitDaemon, Upstream

Obj = dict[str, Any]

ARGOCD_MANAGER = "argocd-controller"
"""The field manager Argo CD's client-side apply writes with."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TRACKING = "argocd.argoproj.io/tracking-id"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
STAMP = "2026-11-30T10:00:00Z"

KIND_PATHS = {
    ("", "ConfigMap"): ("/api/v1", "configmaps"),
    ("apps", "Deployment"): ("/apis/apps/v1", "deployments"),
}


def manifest(text: str) -> Obj:
    doc: Obj = yaml.safe_load(text)
    return doc


def web_files(*, stale: bool) -> dict[str, str]:
    files = {
        "apps/web/configmap.yaml": configmap("web-config", {"color": "blue"}),
        "apps/web/deployment.yaml": deployment("web"),
    }
    if stale:
        files["apps/web/stale.yaml"] = configmap("stale-config", {"old": "yes"})
    return files


def argocd_cluster_secret(
    member: Member, namespace: str, labels: Mapping[str, str] | None = None
) -> Obj:
    """An Argo CD cluster Secret for `member`, as `argocd cluster add [--label]` writes it."""
    config = {
        "bearerToken": member.token,
        "tlsClientConfig": {"caData": base64.b64encode(member.ca_pem).decode()},
    }
    data = {"name": member.name, "server": member.server, "config": json.dumps(config)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"cluster-{member.name}",
            "namespace": namespace,
            "labels": {"argocd.argoproj.io/secret-type": "cluster", **(labels or {})},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


@dataclass
class Takeover:
    env: Env
    hub: ApiClient
    member: ApiClient
    namespace: str
    """Argo CD's namespace on the hub (a fresh one per test)."""
    app_namespace: str
    """The destination namespace on the member."""
    workdir: Path
    git: GitDaemon
    upstream: Upstream
    commits: list[str] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def open(cls, env: Env, workdir: Path) -> AsyncIterator[Takeover]:
        base = workdir / "git" / "srv"
        base.mkdir(parents=True)
        daemon = GitDaemon(base)
        daemon.start()
        upstream = Upstream(base, "config")
        target = env.members[0]
        hub = build_api_client(
            Credentials(server=env.hub.server, token=env.hub.token, ca_pem=env.hub.ca_pem)
        )
        member = build_api_client(
            Credentials(server=target.server, token=target.token, ca_pem=target.ca_pem)
        )
        try:
            await install_crds(hub, flavour=ARGOCD)
            namespace = await create_namespace(hub, "argocd")
            app_namespace = await create_namespace(member, "apps")
            made = cls(env, hub, member, namespace, app_namespace, workdir, daemon, upstream)
            await made.register_cluster(target)
            yield made
        finally:
            await member.close()
            await hub.close()
            daemon.stop()

    @property
    def repo_url(self) -> str:
        return self.git.url("config")

    @property
    def target(self) -> Member:
        return self.env.members[0]

    # -- what Argo CD left -------------------------------------------------------------------

    async def register_cluster(self, member: Member) -> None:
        body = argocd_cluster_secret(member, self.namespace)
        path = f"/api/v1/namespaces/{self.namespace}/secrets"
        await request_json(self.hub, "POST", path, body=body)

    async def put_default_project(self) -> None:
        body = {
            "apiVersion": ARGOCD.api_version,
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": self.namespace},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"namespace": "*", "server": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
        await request_json(self.hub, "POST", ARGOCD.project.collection(self.namespace), body=body)

    async def applied_by_argocd(self, app: str, obj: Obj) -> Obj:
        """`obj` created on the member as Argo CD's client-side apply leaves it."""
        out = json.loads(json.dumps(obj))
        meta = out.setdefault("metadata", {})
        meta["namespace"] = self.app_namespace
        group = out["apiVersion"].rpartition("/")[0] if "/" in out["apiVersion"] else ""
        annotations = meta.setdefault("annotations", {})
        annotations[TRACKING] = f"{app}:{group}/{out['kind']}:{self.app_namespace}/{meta['name']}"
        annotations[LAST_APPLIED] = json.dumps(out, sort_keys=True)
        path = self.collection(group, out["kind"])
        made: Obj = await request_json(
            self.member, "POST", path, body=out, query={"fieldManager": ARGOCD_MANAGER}
        )
        return made

    def collection(self, group: str, kind: str) -> str:
        prefix, plural = KIND_PATHS[(group, kind)]
        return f"{prefix}/namespaces/{self.app_namespace}/{plural}"

    async def live(self, group: str, kind: str, name: str) -> Obj | None:
        try:
            obj: Obj = await request_json(
                self.member, "GET", f"{self.collection(group, kind)}/{name}"
            )
        except NotFound:
            return None
        return obj

    def argocd_status(self, app: str, history: list[str], resources: list[Obj]) -> Obj:
        """The status Argo CD's controller wrote after syncing `history[-1]` (field names and
        shapes of Argo CD's ApplicationStatus)."""
        source = {"repoURL": self.repo_url, "path": f"apps/{app}", "targetRevision": "main"}
        entries = [
            {
                "id": number,
                "revision": revision,
                "deployStartedAt": STAMP,
                "deployedAt": STAMP,
                "source": source,
                "initiatedBy": {"automated": True},
            }
            for number, revision in enumerate(history)
        ]
        return {
            "sync": {
                "status": "Synced",
                "revision": history[-1],
                "comparedTo": {
                    "source": source,
                    "destination": {"name": self.target.name, "namespace": self.app_namespace},
                },
            },
            "health": {"status": "Healthy", "lastTransitionTime": STAMP},
            "history": entries,
            "operationState": {
                "operation": {
                    "sync": {"revision": history[-1], "prune": True},
                    "initiatedBy": {"automated": True},
                    "retry": {"limit": 5},
                },
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "startedAt": STAMP,
                "finishedAt": STAMP,
                "syncResult": {"revision": history[-1], "source": source, "resources": []},
            },
            "resources": resources,
            "reconciledAt": STAMP,
            "sourceType": "Directory",
            "summary": {"images": ["nginx:1.27"]},
            "controllerNamespace": "argocd",
        }

    def resource_entry(self, obj: Obj) -> Obj:
        api_version = str(obj["apiVersion"])
        group, _, version = api_version.rpartition("/")
        entry: Obj = {
            "group": group,
            "version": version,
            "kind": obj["kind"],
            "namespace": self.app_namespace,
            "name": obj["metadata"]["name"],
            "status": "Synced",
        }
        if not group:
            entry.pop("group")
        return entry

    async def create_application(
        self, name: str, spec: Obj, status: Obj | None = None, **meta: Any
    ) -> Obj:
        """As Argo CD's API or a `kubectl apply` created it; with no status subresource in
        Argo CD's CRD, the status Argo CD wrote goes in with the object."""
        body: Obj = {
            "apiVersion": ARGOCD.api_version,
            "kind": "Application",
            "metadata": {"name": name, "namespace": self.namespace, **meta},
            "spec": spec,
        }
        if status is not None:
            body["status"] = status
        made: Obj = await request_json(
            self.hub, "POST", ARGOCD.application.collection(self.namespace), body=body
        )
        return made

    def app_spec(self, path: str, **policy: Any) -> Obj:
        return {
            "project": "default",
            "source": {"repoURL": self.repo_url, "targetRevision": "main", "path": path},
            "destination": {"name": self.target.name, "namespace": self.app_namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, **policy},
        }

    async def applications(self) -> dict[str, Obj]:
        listing = await request_json(self.hub, "GET", ARGOCD.application.collection(self.namespace))
        return {i["metadata"]["name"]: i for i in listing.get("items") or []}

    async def wait(self, check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        """Until `await check()` is truthy (a hang guard, not a timing claim)."""
        last: Any = None
        try:
            with anyio.fail_after(timeout):
                while True:
                    last = await check()
                    if last:
                        return last
                    await anyio.sleep(0.2)
        except TimeoutError:
            apps = await self.applications()
            summary = {
                n: {
                    k: (a.get("status") or {}).get(k)
                    for k in ("sync", "health", "conditions", "operationState")
                }
                for n, a in apps.items()
            }
            pytest.fail(f"{what} never happened; Applications: {summary}")

    # -- fleet -------------------------------------------------------------------------------

    def settings(self, **overrides: Any) -> ControllerSettings:
        values: dict[str, Any] = {"flavour": ARGOCD, "in_cluster_enabled": False, **overrides}
        return controller_settings(self.workdir, self.namespace, **values)

    def fleet(self, **overrides: Any) -> AbstractAsyncContextManager[Controller]:
        return running_controller(self.hub, self.settings(**overrides))


def uid(obj: Mapping[str, Any] | None) -> str:
    assert obj is not None
    return str(obj["metadata"]["uid"])


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
