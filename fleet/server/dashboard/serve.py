"""`fleet dashboard`: the dashboard outside the controller, over one hub watch per process.

The same routes as in the controller, within the same HTTP limits (fleet.server.limits), fed by
a HubFeed instead of the controller's caches. Exits 2 on an unusable kubeconfig or --listen,
0 on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

import anyio
import structlog
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from fleet.api.group import ApiFlavour, flavour
from fleet.server.app import HttpServer
from fleet.server.dashboard.embed import mount
from fleet.server.dashboard.feeds import HubFeed
from fleet.server.dashboard.model import Store
from fleet.server.dashboard.routes import Dashboard
from fleet.server.limits import HttpLimits

log = structlog.get_logger("fleet.server.dashboard")


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8090")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve(
    hub: ApiClient,
    namespace: str,
    api: ApiFlavour,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None] | None = None,
    title: str = "fleet",
) -> None:
    """Serve until cancelled; `ready(url)` once listening and the hub lists are read."""
    store = Store()
    dashboard = Dashboard(store, hub, namespace, flavour=api, title=title)
    app = web.Application()
    mount(app, dashboard)
    limits = HttpLimits()
    server = HttpServer(app, limits=limits)
    feed = HubFeed(hub, namespace, store, flavour=api)
    async with anyio.create_task_group() as tg:
        await tg.start(dashboard.events.run)
        await tg.start(feed.run)
        bound = await server.start(host, port)
        try:
            url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}/dashboard/"
            log.info("dashboard.serving", url=url, namespace=namespace)
            if ready is not None:
                ready(url)
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await server.stop()


def main(args: argparse.Namespace) -> int:
    from fleet.clusters.credentials import CredentialsError
    from fleet.clusters.hub import hub_client

    try:
        host, port = parse_listen(args.listen)
    except ValueError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 2
    api = flavour(args.api)
    namespace = args.namespace or api.namespace

    async def run() -> None:
        try:
            hub = hub_client(args.hub_kubeconfig, args.hub_context)
        except CredentialsError as error:
            raise SystemExit(f"fleet: {error}") from None
        async with hub, anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(stop_on_signal)
            tg.start_soon(
                lambda: serve(hub, namespace, api, host, port, ready=lambda u: print(u, flush=True))
            )

    try:
        anyio.run(run)
    except OSError as error:
        print(f"fleet: --listen {args.listen}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0
