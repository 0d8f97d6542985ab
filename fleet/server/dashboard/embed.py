"""The dashboard on an existing aiohttp app: mounted routes, and the controller's feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from fleet.api.group import ApiFlavour
from fleet.git.mirror import CommitInfo
from fleet.server.dashboard.routes import Dashboard

__all__ = ["Dashboard", "for_controller", "for_hub", "mount", "run_for_controller", "run_for_hub"]

if TYPE_CHECKING:
    from fleet.controllers.runtime import Controller


def mount(app: web.Application, dashboard: Dashboard) -> None:
    """Serve `dashboard` under /dashboard/ of `app` (before `app` is frozen); `/` leads there."""
    dashboard.add_routes(app)

    async def home(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/dashboard/")

    app.router.add_get("/", home)


def for_controller(controller: Controller, app: web.Application) -> Dashboard:
    """A dashboard over `controller`'s own caches, mounted on its HTTP app (run it with
    `run_for_controller` once the controller's parts exist)."""
    from fleet.server.dashboard.model import Store

    settings = controller.settings
    dashboard = Dashboard(
        Store(),
        controller.hub,
        settings.namespace,
        flavour=settings.flavour,
        render_bin_dir=None,
    )

    async def commits(repo: str, sha: str) -> CommitInfo | None:
        apps = controller.applications
        return await apps.repos.cache.commit(repo, sha) if apps is not None else None

    dashboard.commits = commits

    async def params(document: Mapping[str, Any]) -> list[Any]:
        from fleet.server.dashboard.params import parameter_sets

        apps = controller.applications
        if apps is None:
            return []
        registry = controller.registry
        return list(
            await parameter_sets(
                document,
                registered=list(registry.registered.values()),
                repos=apps.repos,
                in_cluster_enabled=settings.in_cluster_enabled,
                bounds=settings.appset_limits,
                clusters_known=registry.synced.is_set(),
            )
        )

    dashboard.params = params
    mount(app, dashboard)
    return dashboard


async def run_for_controller(controller: Controller, dashboard: Dashboard) -> None:
    """Feed and publish until cancelled (a task of the controller's task group)."""
    import anyio

    from fleet.server.dashboard.feeds import ControllerFeed

    async with anyio.create_task_group() as tg:
        await tg.start(dashboard.events.run)
        events = dashboard.events
        feed = ControllerFeed(controller, dashboard.store, watched=lambda: events.subscribers > 0)
        await tg.start(feed.run)


def for_hub(app: web.Application, hub: ApiClient, namespace: str, flavour: ApiFlavour) -> Dashboard:
    """A dashboard over its own hub watch (a supervisor of workers, which has no caches),
    mounted on `app`; run it with `run_for_hub`."""
    from fleet.server.dashboard.model import Store

    dashboard = Dashboard(Store(), hub, namespace, flavour=flavour)
    mount(app, dashboard)
    return dashboard


async def run_for_hub(dashboard: Dashboard) -> None:
    """Watch the hub and publish until cancelled."""
    import anyio

    from fleet.server.dashboard.feeds import HubFeed

    feed = HubFeed(dashboard.hub, dashboard.namespace, dashboard.store, flavour=dashboard.flavour)
    async with anyio.create_task_group() as tg:
        await tg.start(dashboard.events.run)
        await feed.run()
