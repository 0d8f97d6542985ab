"""The health port: /healthz and /readyz answered from the liveness loop, never behind reconciles.

Why a port of its own (as controller-runtime's `--health-probe-bind-address`): the main port's
handlers (webhooks, /metrics) read the controller's state and run on its busy event loop; a
kubelet probe queued behind reconcile work would time out and restart a healthy, busy pod. This
app runs on fleet.controllers.liveness' loop, in its own thread, and judges the main loop by its
heartbeat: slow is healthy, silent for longer than the stall limit is not (a blocking call or a
deadlock that no amount of waiting fixes; a restart does).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

DEFAULT_STALL = 60.0
"""Seconds without a main-loop heartbeat after which /healthz fails: far beyond any busy
period (the heartbeat runs every second on a loop whose work is bounded), short enough for the
kubelet to restart a stuck controller within a few minutes."""


def make_health_app(
    ready: Callable[[], str | None],
    silence: Callable[[], float],
    *,
    stall: float = DEFAULT_STALL,
) -> web.Application:
    """`ready()`: None when ready, else what is missing; `silence()`: seconds since the main
    loop last beat. Both are read from another thread: they must only read flags."""

    def stalled() -> str | None:
        quiet = silence()
        if quiet > stall:
            return f"the controller's event loop has not run for {quiet:.0f} s (limit {stall:g} s)"
        return None

    async def healthz(_request: web.Request) -> web.Response:
        problem = stalled()
        if problem is not None:
            return web.Response(status=503, text=f"unhealthy: {problem}\n")
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        missing = stalled() or ready()
        if missing is not None:
            return web.Response(status=503, text=f"not ready: {missing}\n")
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
