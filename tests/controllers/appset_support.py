"""Fixtures and helpers for the ApplicationSet controller tests: a fleet.sim hub with fleet's
CRDs, a real RepoCache/RepoHub, and a cluster list the test controls."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.resources import APPLICATION, APPLICATION_SET, APPSET_LABEL
from fleet.controllers.appset import (
    ApplicationSetController,
    AppSetSettings,
    ClustersUnavailable,
)
from fleet.controllers.repos import RepoHub
from fleet.git.cache import RepoCache
from fleet.kube import Credentials, NotFound, build_api_client, request_json
from generators.base import Cluster

SETTINGS = AppSetSettings(in_cluster_enabled=False, resync_period=600.0)


@dataclass
class Clusters:
    """The cluster list the controller sees; `unavailable` makes it raise ClustersUnavailable."""

    items: list[Cluster] = field(default_factory=list)
    unavailable: str | None = None

    def __call__(self) -> Sequence[Cluster]:
        if self.unavailable is not None:
            raise ClustersUnavailable(self.unavailable)
        return list(self.items)


def cluster(name: str, **labels: str) -> Cluster:
    return Cluster(name=name, server=f"https://{name}.example", labels=labels)


@asynccontextmanager
async def sim_hub(tmp_path: Path) -> AsyncIterator[tuple[ApiClient, str]]:
    """A fleet.sim hub with fleet's CRDs and a fresh namespace: (client, namespace)."""
    async with sim_hub_kubeconfig(tmp_path) as (api, namespace, _):
        yield api, namespace


@asynccontextmanager
async def sim_hub_kubeconfig(tmp_path: Path) -> AsyncIterator[tuple[ApiClient, str, Path]]:
    """As `sim_hub`, plus the hub's admin kubeconfig file (for CLI tests)."""
    from fleet.sim import SimServer

    async with SimServer(names=["hub"], port_per_cluster=True, kubeconfig_dir=tmp_path) as sim:
        hub = sim.clusters["hub"]
        api = build_api_client(
            Credentials(server=hub.server, token=hub.token, ca_pem=base64.b64decode(hub.ca_data))
        )
        async with api:
            await install_crds(api)
            namespace = f"fleet-{uuid.uuid4().hex[:8]}"
            await request_json(
                api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}}
            )
            yield api, namespace, hub.kubeconfig


@dataclass
class Running:
    hub: ApiClient
    namespace: str
    controller: ApplicationSetController
    clusters: Clusters
    cache: RepoCache


@asynccontextmanager
async def running(
    hub: ApiClient,
    namespace: str,
    cache_dir: Path,
    clusters: Clusters | None = None,
    settings: AppSetSettings = SETTINGS,
) -> AsyncIterator[Running]:
    """The controller running against the hub until the block ends."""
    clusters = clusters if clusters is not None else Clusters()
    async with RepoCache(cache_dir) as cache:
        controller = ApplicationSetController(
            hub, namespace, repos=RepoHub(cache), clusters=clusters, settings=settings
        )
        async with anyio.create_task_group() as tg:
            await tg.start(controller.run)
            yield Running(hub, namespace, controller, clusters, cache)
            tg.cancel_scope.cancel()


def list_appset(
    name: str,
    elements: list[dict[str, Any]],
    *,
    namespace: str,
    template: dict[str, Any] | None = None,
    sync_policy: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "generators": [{"list": {"elements": elements}}],
            "template": template or app_template(),
            **spec,
        },
    }
    if sync_policy is not None:
        body["spec"]["syncPolicy"] = sync_policy
    return body


def app_template(revision: str = "main") -> dict[str, Any]:
    return {
        "metadata": {"name": "{{name}}-guestbook"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://git.example/apps.git",
                "path": "guestbook",
                "targetRevision": revision,
            },
            "destination": {"name": "{{name}}", "namespace": "guestbook"},
        },
    }


def clusters_appset(name: str, namespace: str, selector: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"generators": [{"clusters": {"selector": selector}}], "template": app_template()},
    }


async def create_appset(hub: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    ns = body["metadata"]["namespace"]
    made: dict[str, Any] = await request_json(
        hub, "POST", APPLICATION_SET.collection(ns), body=body
    )
    return made


async def replace_appset_spec(
    hub: ApiClient, namespace: str, name: str, spec: dict[str, Any]
) -> None:
    await request_json(
        hub,
        "PATCH",
        APPLICATION_SET.item(namespace, name),
        body={"spec": spec},
        content_type="application/merge-patch+json",
    )


async def get_appset(hub: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = await request_json(hub, "GET", APPLICATION_SET.item(namespace, name))
    return obj


async def applications(hub: ApiClient, namespace: str, appset: str) -> dict[str, dict[str, Any]]:
    listing = await request_json(
        hub,
        "GET",
        APPLICATION.collection(namespace),
        query={"labelSelector": f"{APPSET_LABEL}={appset}"},
    )
    # An Application being deleted waits for its resources finalizer (the Application
    # controller's job, not running here): it is gone as far as the ApplicationSet goes.
    return {
        item["metadata"]["name"]: item
        for item in listing.get("items") or []
        if not item["metadata"].get("deletionTimestamp")
    }


async def get_app(hub: ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = await request_json(hub, "GET", APPLICATION.item(namespace, name))
        return obj
    except NotFound:
        return None


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, what: str = "condition"
) -> None:
    """Poll `check` until true; fail naming `what` after `timeout` seconds (not a timing claim)."""
    try:
        with anyio.fail_after(timeout):
            while not await check():
                await anyio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def settle(run: Running) -> None:
    """Until the controller's queue has nothing ready and nothing running."""
    await anyio.sleep(0.2)
    await run.controller.queue.wait_idle()


async def app_names_become(
    run: Running, appset: str, names: set[str], *, timeout: float = 20.0
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    async def check() -> bool:
        nonlocal found
        found = await applications(run.hub, run.namespace, appset)
        return set(found) == names

    await eventually(check, timeout=timeout, what=f"Applications {sorted(names)}")
    return found


def condition(appset: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in (appset.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    raise AssertionError(f"no {kind} condition in {appset.get('status')}")
