"""Watches hold their connections for minutes; they must not take the connections a cluster's
requests need (an Application with as many watched kinds as the client's pool size made every
request to its cluster time out)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.kube import Credentials, build_api_client, get_version
from fleet.kube.watch import list_and_watch
from fleet.sim import SimServer

pytestmark = pytest.mark.anyio

KINDS = ("/api/v1/configmaps", "/api/v1/secrets", "/api/v1/services", "/apis/apps/v1/deployments")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_watches_of_more_kinds_than_the_pool_size_leave_requests_a_connection(
    tmp_path: Path,
) -> None:
    async with SimServer(names=["c1"], kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["c1"]
        creds = Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        opened = 0

        async def on_reset(_items: list[dict[str, Any]]) -> None:
            nonlocal opened
            opened += 1

        async def on_event(_kind: str, _obj: dict[str, Any]) -> None:
            return None

        async with build_api_client(creds, pool_limit=2) as api, anyio.create_task_group() as tg:
            for path in KINDS:
                tg.start_soon(
                    lambda p=path: list_and_watch(api, p, on_reset=on_reset, on_event=on_event)
                )
            with anyio.fail_after(30):
                while opened < len(KINDS):
                    await anyio.sleep(0.05)
                await anyio.sleep(0.5)  # the watch requests themselves are sent after the lists
                assert await get_version(api, timeout=20)
            tg.cancel_scope.cancel()
