"""Fixtures of the controller suites: a hub and three members on fleet.sim or on real
kube-apiservers (with StatusAgents settling workloads), a git server, and the controller."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.clusters.harness import BIN_DIR, Env, Member, require_real, simulated_env
from tests.controllers.harness import Scenario


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def _real_env() -> Iterator[Env]:
    from anyio.from_thread import start_blocking_portal

    from e2e.realapi import RealClusters
    from e2e.realapi.status_agent import StatusAgent
    from fleet.kube import Credentials, build_api_client

    require_real()
    with tempfile.TemporaryDirectory(prefix="fleet-controllers-") as workdir:
        harness = RealClusters(members=3, workdir=Path(workdir), bin_dir=BIN_DIR)
        try:
            started = harness.start()
            members = []
            for c in started:
                assert c.token is not None
                members.append(
                    Member(
                        name=c.name,
                        server=c.server,
                        ca_pem=c.ca_file.read_bytes(),
                        token=c.token,
                        readonly_token=c.readonly_token,
                        kubeconfig=c.kubeconfig,
                    )
                )
            with start_blocking_portal() as portal:
                clients = []
                agents = []
                for m in members[1:]:

                    async def build(m: Member = m) -> object:
                        return build_api_client(
                            Credentials(server=m.server, token=m.token, ca_pem=m.ca_pem)
                        )

                    api = portal.call(build)
                    clients.append(api)
                    future, _ = portal.start_task(StatusAgent(api, delay=0.2).run)  # type: ignore[arg-type]
                    agents.append(future)
                try:
                    yield Env("real", members[0], members[1:])
                finally:
                    for future in agents:
                        future.cancel()
                    for api in clients:
                        portal.call(api.close)  # type: ignore[attr-defined]
        finally:
            harness.stop()


@pytest.fixture(scope="session")
def real_env() -> Iterator[Env]:
    with _real_env() as env:
        yield env


async def _sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    async with simulated_env(tmp_path, ["m1", "m2", "m3"]) as env:
        yield env


@pytest.fixture(params=["sim", "real"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    if request.param == "real":
        yield request.getfixturevalue("real_env")
        return
    async for made in _sim_env(tmp_path):
        yield made


@pytest.fixture
async def sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    async for made in _sim_env(tmp_path):
        yield made


@pytest.fixture
async def scenario(env: Env, tmp_path: Path) -> AsyncIterator[Scenario]:
    async with Scenario.open(env, tmp_path) as made:
        yield made


@pytest.fixture
async def sim_scenario(sim_env: Env, tmp_path: Path) -> AsyncIterator[Scenario]:
    async with Scenario.open(sim_env, tmp_path) as made:
        yield made
