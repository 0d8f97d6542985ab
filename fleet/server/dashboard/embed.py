"""The dashboard on an existing aiohttp app: mounted routes, and the controller's feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from fleet.server.dashboard.routes import Dashboard

__all__ = ["Dashboard", "for_controller", "mount", "run_for_controller"]

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
    mount(app, dashboard)
    return dashboard


async def run_for_controller(controller: Controller, dashboard: Dashboard) -> None:
    """Feed and publish until cancelled (a task of the controller's task group)."""
    import anyio

    from fleet.server.dashboard.feeds import ControllerFeed

    async with anyio.create_task_group() as tg:
        await tg.start(dashboard.events.run)
        await tg.start(ControllerFeed(controller, dashboard.store).run)
