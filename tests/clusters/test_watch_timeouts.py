"""Idle watches stay open for minutes (bookmarks keep them alive), not re-opened every minute."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from aiohttp import web

from fleet.kube import Credentials, build_api_client
from fleet.kube.watch import MIN_WATCH_TIMEOUT, list_and_watch

pytestmark = pytest.mark.anyio


async def test_each_watch_asks_the_server_to_keep_it_open_five_to_ten_minutes() -> None:
    asked: list[int] = []
    enough = anyio.Event()

    async def configmaps(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "1":
            return web.json_response({"items": [], "metadata": {"resourceVersion": "7"}})
        asked.append(int(request.query["timeoutSeconds"]))
        if len(asked) == 3:
            enough.set()
        return web.Response(text="")  # the stream ends at once: the client watches again

    app = web.Application()
    app.router.add_get("/api/v1/configmaps", configmaps)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    async def ignore(*_: Any) -> None:
        return None

    try:
        async with (
            build_api_client(Credentials(server=f"http://127.0.0.1:{port}")) as api,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(
                lambda: list_and_watch(api, "/api/v1/configmaps", on_reset=ignore, on_event=ignore)
            )
            with anyio.fail_after(10):
                await enough.wait()
            tg.cancel_scope.cancel()
    finally:
        await runner.cleanup()
    assert all(MIN_WATCH_TIMEOUT <= t <= 2 * MIN_WATCH_TIMEOUT for t in asked)
