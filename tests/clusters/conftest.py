"""Fixtures: every backend-parametrised test runs on fleet.sim and on real kube-apiservers.

The real harness (etcd + hub + 2 members) is started once per session; the simulator is
started per test (well under a second) so fault injection never leaks between tests.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from tests.clusters.harness import (
    BIN_DIR,
    Env,
    Member,
    create_namespace,
    hub_client,
    install_crd,
    require_real,
    simulated_env,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def real_env() -> Iterator[Env]:
    require_real()
    from e2e.realapi import RealClusters

    with tempfile.TemporaryDirectory(prefix="fleet-clusters-") as workdir:
        harness = RealClusters(members=2, workdir=Path(workdir), bin_dir=BIN_DIR)
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
                        client_cert_pem=c.client_cert_file.read_bytes(),
                        client_key_pem=c.client_key_file.read_bytes(),
                    )
                )
            yield Env("real", members[0], members[1:])
        finally:
            harness.stop()


async def _sim_env(tmp_path: Path) -> AsyncIterator[Env]:
    async with simulated_env(tmp_path, ["member-1", "member-2"]) as env:
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
    """The simulator only: for fault injection (refuse, hang, error rate)."""
    async for made in _sim_env(tmp_path):
        yield made


@pytest.fixture
async def hub(env: Env) -> AsyncIterator[ApiClient]:
    async with hub_client(env) as api:
        await install_crd(api)
        yield api


@pytest.fixture
async def namespace(hub: ApiClient) -> str:
    return await create_namespace(hub)


@pytest.fixture
async def sim_hub(sim_env: Env) -> AsyncIterator[ApiClient]:
    async with hub_client(sim_env) as api:
        await install_crd(api)
        yield api


@pytest.fixture
async def sim_namespace(sim_hub: ApiClient) -> str:
    return await create_namespace(sim_hub)
