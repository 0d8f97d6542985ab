"""Fixtures of the sync engine suite: every cluster test runs on fleet.sim and on a real
kube-apiserver (with e2e.realapi.StatusAgent settling workloads), one harness per session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from fleet.kube import request_json
from tests.contract.backends import Backend, real_backend, sim_backend


@contextmanager
def real_with_agent() -> Iterator[Backend]:
    """The contract suite's real backend plus a StatusAgent in a background event loop."""
    from anyio.from_thread import start_blocking_portal

    from e2e.realapi.status_agent import StatusAgent

    with real_backend() as backend, start_blocking_portal() as portal:

        async def build() -> client.ApiClient:
            return make_client(backend)  # aiohttp wants the portal's running loop

        api = portal.call(build)
        agent = StatusAgent(api, delay=0.2)
        future, _ = portal.start_task(agent.run)
        try:
            yield backend
        finally:
            future.cancel()
            portal.call(api.close)


@pytest.fixture(scope="session", params=["sim", "real"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    starter = sim_backend if request.param == "sim" else real_with_agent
    with starter() as started:
        yield started


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_client(backend: Backend) -> client.ApiClient:
    config = client.Configuration()
    config.host = backend.server
    config.ssl_ca_cert = str(backend.ca_file)
    config.api_key = {"BearerToken": backend.token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(config)


@dataclass
class Requests:
    """Requests seen on one client, by method; `writes` excludes dry runs and reads."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, u) for m, u in self.seen if m not in ("GET", "HEAD") and "dryRun=All" not in u]


def count_requests(api: client.ApiClient) -> Requests:
    """Attach an aiohttp trace config to the client's session (test-only hook)."""
    seen = Requests()

    async def on_start(_s: Any, _c: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.seen.append((params.method, str(params.url)))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.freeze()
    api.rest_client.pool_manager._trace_configs.append(trace)
    return seen


@pytest.fixture
async def api(backend: Backend) -> AsyncIterator[client.ApiClient]:
    async with make_client(backend) as api_client:
        yield api_client


@pytest.fixture
async def namespace(api: client.ApiClient) -> AsyncIterator[str]:
    """A fresh namespace name (created by the engine's CreateNamespace=true), deleted after."""
    name = f"sync-{uuid.uuid4().hex[:8]}"
    yield name
    with suppress(Exception):
        await request_json(api, "DELETE", f"/api/v1/namespaces/{name}")
