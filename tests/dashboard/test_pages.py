"""Pages over a Store alone (no hub request is made to serve a page): paging and filters at
scale, the Fleet page's cluster pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kubernetes_asyncio.client import ApiClient, Configuration

from fleet.server.dashboard.embed import mount
from fleet.server.dashboard.model import ClusterView, Store
from fleet.server.dashboard.routes import Dashboard
from tests.dashboard.test_model import app

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    store = Store()
    store.set_clusters(ClusterView(f"c{i:03d}", ready="True") for i in range(250))
    store.reset_apps(
        app(
            f"app-{i:05d}", cluster=f"c{i % 250:03d}", sync="OutOfSync" if i % 97 == 0 else "Synced"
        )
        for i in range(10_000)
    )
    config = Configuration()
    config.host = "https://hub.invalid"  # never contacted: pages read the Store
    async with ApiClient(config) as hub:
        web_app = web.Application()
        mount(web_app, Dashboard(store, hub, "fleet-system"))
        async with TestClient(TestServer(web_app)) as made:
            yield made


async def test_the_applications_page_shows_fifty_rows_problems_first(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/dashboard/apps")
    text = await response.text()
    names = re.findall(r'<tr data-app="([^"]+)"', text)
    assert len(names) == 50
    assert names[:3] == ["app-00000", "app-00097", "app-00194"]  # the OutOfSync ones
    assert "page 1 of 200" in text


async def test_a_filter_and_a_page_number_are_kept_in_the_page_links(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/dashboard/apps?cluster=c007&q=app-0&page=2")
    text = await response.text()
    names = re.findall(r'<tr data-app="([^"]+)"', text)
    assert len(names) == 40  # c007 holds 40 Applications: one page, so page 2 is page 1
    assert all(int(n[4:]) % 250 == 7 for n in names)
    response = await client.get("/dashboard/apps?sync=Synced&page=2")
    text = await response.text()
    names = re.findall(r'<tr data-app="([^"]+)"', text)
    assert len(names) == 50 and all(int(n[4:]) % 97 for n in names)
    assert 'href="/dashboard/apps?sync=Synced&amp;page=1"' in text


async def test_the_fleet_page_shows_clusters_a_hundred_at_a_time(
    client: TestClient[web.Request, web.Application],
) -> None:
    text = await (await client.get("/dashboard/?page=3")).text()
    rows = re.findall(r'<tr data-cluster="([^"]+)"', text)
    assert rows[0] == "c200" and len(rows) == 50
    assert "clusters page 3 of 3" in text
    text = await (await client.get("/dashboard/?q=c24")).text()
    assert re.findall(r'<tr data-cluster="([^"]+)"', text) == [f"c24{i}" for i in range(10)]
