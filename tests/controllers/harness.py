"""A controller scenario: hub namespace, registered members, a git server with a config repo,
and the controller running in the test's event loop (or as a real process).

Every scenario gets its own hub namespace and destination namespace, so scenarios sharing the
session's real clusters never see each other's objects.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.resources import API_VERSION, APPLICATION, APPLICATION_SET, PROJECT
from fleet.controllers.runtime import Controller, ControllerSettings
from fleet.kube import Credentials, NotFound, build_api_client, request_json
from fleet.render import RenderTools
from tests.clusters.harness import FAST, Env, Member, create_namespace, put_cluster, put_secret
from tests.git.support import GitDaemon, Upstream

ROOT = Path(__file__).resolve().parents[2]
RENDER_BIN = Path(os.environ.get("FLEET_RENDER_BIN_DIR") or ROOT / ".cache" / "bin")

Obj = dict[str, Any]


def configmap(name: str, data: Mapping[str, str]) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}
    )


def deployment(name: str, replicas: int = 1) -> str:
    labels = {"app": name}
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
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


CONFIG_REPO = {
    "apps/web/configmap.yaml": configmap("web-config", {"color": "blue"}),
    "apps/web/deployment.yaml": deployment("web"),
    "apps/api/configmap.yaml": configmap("api-config", {"mode": "fast"}),
}


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def synced_and_healthy(app: Mapping[str, Any], revision: str | None = None) -> bool:
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    return (
        sync.get("status") == "Synced"
        and (status.get("health") or {}).get("status") == "Healthy"
        and (revision is None or sync.get("revision") == revision)
    )


def controller_settings(workdir: Path, namespace: str, **overrides: Any) -> ControllerSettings:
    """Controller settings for a test: quick polls and probes, an ephemeral port, the cache
    under `workdir`; `overrides` as ControllerSettings fields."""
    values: dict[str, Any] = {
        "cache_dir": workdir / "controller-cache",
        "namespace": namespace,
        "listen_port": 0,
        "resync_period": 30.0,
        "git_poll_interval": 0.5,
        "manager": FAST,
        "render_tools": RenderTools.discover(RENDER_BIN),
        "wave_timeout": 60.0,
    }
    values.update(overrides)
    return ControllerSettings(**values)


@asynccontextmanager
async def running_controller(
    hub: ApiClient, settings: ControllerSettings
) -> AsyncIterator[Controller]:
    """The controller running in this event loop (started within 30 s) until the block ends."""
    controller = Controller(hub, settings)
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(30):
            await tg.start(controller.run)
        try:
            yield controller
        finally:
            tg.cancel_scope.cancel()


@dataclass
class Scenario:
    env: Env
    hub: ApiClient
    namespace: str
    """The hub namespace the controller watches."""
    app_namespace: str
    """The destination namespace of every Application on the members."""
    workdir: Path
    git: GitDaemon
    upstream: Upstream
    members: dict[str, ApiClient] = field(default_factory=dict)

    @classmethod
    @asynccontextmanager
    async def open(cls, env: Env, workdir: Path) -> AsyncIterator[Scenario]:
        base = workdir / "git" / "srv"
        base.mkdir(parents=True)
        daemon = GitDaemon(base)
        daemon.start()
        upstream = Upstream(base, "config")
        upstream.commit(CONFIG_REPO, "initial")
        hub = build_api_client(
            Credentials(server=env.hub.server, token=env.hub.token, ca_pem=env.hub.ca_pem)
        )
        try:
            await install_crds(hub)
            namespace = await create_namespace(hub, "fleet")
            scenario = cls(
                env, hub, namespace, f"apps-{uuid.uuid4().hex[:6]}", workdir, daemon, upstream
            )
            for m in env.members:
                scenario.members[m.name] = build_api_client(
                    Credentials(server=m.server, token=m.token, ca_pem=m.ca_pem)
                )
            yield scenario
        finally:
            for api in scenario.members.values() if "scenario" in locals() else ():
                await api.close()
            await hub.close()
            daemon.stop()

    @property
    def repo_url(self) -> str:
        return self.git.url("config")

    def member(self, index: int) -> Member:
        return self.env.members[index]

    # -- registration and resources on the hub -----------------------------------------------------

    async def register(self, member: Member, labels: Mapping[str, str] | None = None) -> None:
        secret = f"cluster-{member.name}"
        await put_secret(
            self.hub, self.namespace, secret, {"token": member.token, "ca.crt": member.ca_pem}
        )
        await put_cluster(
            self.hub,
            self.namespace,
            member.name,
            member.server,
            secret,
            {"fleet-test": "on", **dict(labels or {})},
        )

    async def relabel(self, member: Member, labels: Mapping[str, str]) -> None:
        path = f"/apis/{API_VERSION}/namespaces/{self.namespace}/clusters/{member.name}"
        await request_json(
            self.hub,
            "PATCH",
            path,
            body={"spec": {"labels": dict(labels)}},
            content_type="application/merge-patch+json",
        )

    def appset(self, name: str = "demo", **spec: Any) -> Obj:
        """clusters(fleet-test=on) x git directories apps/*, automated sync with prune."""
        body: Obj = {
            "goTemplate": False,
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {"clusters": {"selector": {"matchLabels": {"fleet-test": "on"}}}},
                            {
                                "git": {
                                    "repoURL": self.repo_url,
                                    "revision": "main",
                                    "directories": [{"path": "apps/*"}],
                                }
                            },
                        ]
                    }
                }
            ],
            "template": {
                "metadata": {"name": "{{path.basename}}-{{name}}"},
                "spec": {
                    "project": "default",
                    "source": {
                        "repoURL": self.repo_url,
                        "targetRevision": "main",
                        "path": "{{path}}",
                    },
                    "destination": {"name": "{{name}}", "namespace": self.app_namespace},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                    },
                },
            },
        }
        body.update(spec)
        return {
            "apiVersion": API_VERSION,
            "kind": "ApplicationSet",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": body,
        }

    async def apply_appset(self, doc: Obj) -> None:
        """As `kubectl apply --server-side` would: no read-modify-write race with the
        controller's status writes."""
        await request_json(
            self.hub,
            "PATCH",
            APPLICATION_SET.item(self.namespace, doc["metadata"]["name"]),
            body=doc,
            query={"fieldManager": "fleet-tests", "force": "true"},
            content_type="application/apply-patch+yaml",
        )

    async def put_project(self, name: str, spec: Obj) -> None:
        doc = {
            "apiVersion": API_VERSION,
            "kind": "Project",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        await request_json(self.hub, "POST", PROJECT.collection(self.namespace), body=doc)

    def api_spec(self, sync_policy: Obj) -> Obj:
        """An Application spec for `apps/api` (one ConfigMap, `api-config`) of the config repo
        on the first member."""
        return {
            "project": "default",
            "source": {"repoURL": self.repo_url, "targetRevision": "main", "path": "apps/api"},
            "destination": {"name": self.member(0).name, "namespace": self.app_namespace},
            "syncPolicy": sync_policy,
        }

    async def create_application(self, name: str, spec: Obj) -> None:
        doc = {
            "apiVersion": API_VERSION,
            "kind": "Application",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        await request_json(self.hub, "POST", APPLICATION.collection(self.namespace), body=doc)

    async def applications(self) -> dict[str, Obj]:
        listing = await request_json(self.hub, "GET", APPLICATION.collection(self.namespace))
        return {i["metadata"]["name"]: i for i in listing.get("items") or []}

    async def converged_metrics(self) -> str:
        """Every member registered, the default ApplicationSet converged (two Applications a
        member), then the controller's /metrics text."""
        for member in self.env.members:
            await self.register(member)
        expected = 2 * len(self.env.members)
        async with self.controller() as controller:
            await self.apply_appset(self.appset())
            await self.wait_apps(
                lambda apps: len(apps) == expected and all(map(synced_and_healthy, apps.values())),
                what=f"all {expected} Applications Synced and Healthy",
            )
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{controller.port}/metrics") as response,
            ):
                return await response.text()

    async def wait_apps(
        self,
        predicate: Callable[[dict[str, Obj]], bool],
        timeout: float = 60.0,
        what: str = "applications",
    ) -> dict[str, Obj]:
        apps: dict[str, Obj] = {}
        try:
            with anyio.fail_after(timeout):
                while True:
                    apps = await self.applications()
                    if predicate(apps):
                        return apps
                    await anyio.sleep(0.2)
        except TimeoutError:
            summary = {
                n: {
                    "sync": (a.get("status") or {}).get("sync"),
                    "health": (a.get("status") or {}).get("health"),
                    "conditions": (a.get("status") or {}).get("conditions"),
                    "op": ((a.get("status") or {}).get("operationState") or {}).get("message"),
                }
                for n, a in apps.items()
            }
            pytest.fail(f"{what} never matched; last: {summary}")

    # -- members -----------------------------------------------------------------------------------

    async def member_object(self, member: Member, kind_path: str, name: str) -> Obj | None:
        """GET `kind_path` (e.g. `api/v1/configmaps`) in the destination namespace."""
        group_path, _, plural = kind_path.rpartition("/")
        path = f"/{group_path}/namespaces/{self.app_namespace}/{plural}/{name}"
        try:
            obj: Obj = await request_json(self.members[member.name], "GET", path)
            return obj
        except NotFound:
            return None

    async def wait_member(
        self,
        member: Member,
        kind_path: str,
        name: str,
        predicate: Callable[[Obj | None], bool],
        timeout: float = 60.0,
    ) -> Obj | None:
        obj: Obj | None = None
        try:
            with anyio.fail_after(timeout):
                while True:
                    obj = await self.member_object(member, kind_path, name)
                    if predicate(obj):
                        return obj
                    await anyio.sleep(0.2)
        except TimeoutError:
            pytest.fail(f"{member.name} {kind_path}/{name} never matched; last: {obj}")

    # -- the controller ----------------------------------------------------------------------------

    def settings(self, **overrides: Any) -> ControllerSettings:
        return controller_settings(self.workdir, self.namespace, **overrides)

    def controller(self, **overrides: Any) -> AbstractAsyncContextManager[Controller]:
        return running_controller(self.hub, self.settings(**overrides))

    def kubeconfig_of_hub(self) -> Path:
        return self.env.hub.kubeconfig

    def start_process(
        self, log: Path, port: int, *extra: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """`fleet controller run` as a real process against this scenario's hub: one process
        unless `extra` says `--workers N` (a later option wins); `env` is added to ours."""
        command = [
            sys.executable,
            "-m",
            "fleet.cli",
            "controller",
            "run",
            "--hub-kubeconfig",
            str(self.kubeconfig_of_hub()),
            "--namespace",
            self.namespace,
            "--listen",
            f"127.0.0.1:{port}",
            "--health-listen",
            "127.0.0.1:0",
            "--cache-dir",
            str(self.workdir / "process-cache"),
            "--resync-period",
            "30",
            "--git-poll-interval",
            "0.5",
            "--workers",
            "1",
            *extra,
        ]
        environment = {
            **os.environ,
            **dict(env or {}),
            "PATH": f"{RENDER_BIN}{os.pathsep}{os.environ['PATH']}",
        }
        handle = log.open("ab")
        return subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=environment, cwd=ROOT
        )


async def wait_ready(port: int, timeout: float = 30.0) -> None:
    """Until the controller's /readyz answers 200."""
    async with aiohttp.ClientSession() as session:
        with anyio.fail_after(timeout):
            while True:
                with suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            return
                await anyio.sleep(0.1)


def stop_process(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60
) -> int:
    with suppress(ProcessLookupError):
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)
