"""The controller's aiohttp application: /healthz, /readyz, /metrics and the git webhook.

The webhook receiver is fleet.git.webhooks' application (signed push events -> repository
refresh); the probes and metrics are added to it, so one port serves everything the Service in
deploy/ exposes. `HttpServer` serves it within HttpLimits (fleet.server.limits): deadlines, a
connection cap that keeps a slot for the kubelet's probe, body bounds, aggregated logging.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from fleet.git.cache import RepoCache
from fleet.git.webhooks import WebhookSecrets, make_webhook_app
from fleet.server.limits import ConnectionGuard, GuardedSite, HttpLimits, Tally, aiohttp_logger
from fleet.server.metrics import Metrics

TALLY_KEY = web.AppKey("fleet.tally", Tally)
"""The app's Tally: its webhook's rejections and the server's drops share one log line."""


def make_app(
    cache: RepoCache,
    secrets: WebhookSecrets,
    metrics: Metrics,
    ready: Callable[[], str | None],
    *,
    limits: HttpLimits | None = None,
) -> web.Application:
    """`ready()` returns None when ready, else what is still missing (shown by /readyz).

    Serve it with `HttpServer(app, limits=limits, metrics=metrics)` and the same limits.
    """
    limits = limits or HttpLimits()
    tally = Tally(limits.log_interval, metrics)

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

    app = make_webhook_app(
        cache,
        secrets,
        max_body=limits.max_body,
        body_timeout=limits.body_timeout,
        max_concurrent=limits.max_webhooks,
        reject=tally.rejected,
    )
    app[TALLY_KEY] = tally
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


class HttpServer:
    """The controller's one port, served within HttpLimits (see fleet.server.limits).

    `make_app(..., limits=...)` must get the same limits (the webhook enforces the body ones);
    the connection guard's middleware is put first in `app` here, before it is frozen.
    """

    def __init__(
        self, app: web.Application, *, limits: HttpLimits, metrics: Metrics | None = None
    ) -> None:
        self.limits = limits
        self.tally = app.get(TALLY_KEY) or Tally(limits.log_interval, metrics)
        self.guard = ConnectionGuard(limits, self.tally)
        app.middlewares.insert(0, self.guard.middleware)
        if metrics is not None:
            metrics.http_open.set_function(lambda: self.guard.open)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            logger=aiohttp_logger(self.tally),
            handler_cancellation=True,  # a client that hangs up cancels its handler
            # aiohttp's own idle timer (from connect, and after each response), behind the
            # guard's header deadline: a second line if the guard ever missed a connection.
            keepalive_timeout=limits.header_timeout + 1.0,
            lingering_time=1.0,
            max_line_size=8190,
            max_field_size=8190,
            max_headers=64,
        )
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); returns the bound port."""
        await self._runner.setup()
        site = GuardedSite(self._runner, self.guard, host, port)
        await site.start()
        self.port = site.port
        return self.port

    @property
    def open_connections(self) -> int:
        return self.guard.open

    async def stop(self) -> None:
        await self._runner.cleanup()
        self.tally.close()
