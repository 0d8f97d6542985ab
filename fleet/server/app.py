"""The controller's aiohttp application: /healthz, /readyz, /metrics and the git webhook.

The webhook receiver is fleet.git.webhooks' application (signed push events -> repository
refresh); the probes and metrics are added to it, so one port serves everything the Service in
deploy/ exposes.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from fleet.git.cache import RepoCache
from fleet.git.webhooks import WebhookSecrets, make_webhook_app
from fleet.server.metrics import Metrics


def make_app(
    cache: RepoCache,
    secrets: WebhookSecrets,
    metrics: Metrics,
    ready: Callable[[], str | None],
) -> web.Application:
    """`ready()` returns None when ready, else what is still missing (shown by /readyz)."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        missing = ready()
        if missing is None:
            return web.Response(text="ok\n")
        return web.Response(status=503, text=f"not ready: {missing}\n")

    async def metrics_page(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = make_webhook_app(cache, secrets)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app
