"""Fixtures for the api tests: a hub on fleet.sim (per test) and on a real kube-apiserver
(one per session: starting etcd + kube-apiserver costs seconds), with fleet's CRDs installed.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.kube import Credentials, build_api_client, request_json
from tests.clusters.harness import Env


@dataclass(frozen=True)
class Hub:
    backend: str
    server: str
    token: str = field(repr=False)
    ca_pem: bytes = field(repr=False)

    def client(self) -> ApiClient:
        return build_api_client(
            Credentials(server=self.server, token=self.token, ca_pem=self.ca_pem)
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def real_hub(shared_real: Env) -> Hub:
    """The session's real hub (tests/realshared.py)."""
    hub = shared_real.hub
    return Hub("real", hub.server, hub.token, hub.ca_pem)


@pytest.fixture(params=["sim", "real"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    """The hub on both backends, CRDs not installed yet."""
    if request.param == "real":
        yield request.getfixturevalue("real_hub")
        return
    from fleet.sim import SimServer

    async with SimServer(names=["hub"], port_per_cluster=True, kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["hub"]
        yield Hub("sim", c.server, c.token, base64.b64decode(c.ca_data))


@pytest.fixture
async def real_api(real_hub: Hub) -> AsyncIterator[ApiClient]:
    """A client of the real hub with fleet's CRDs installed."""
    async with real_hub.client() as api:
        await install_crds(api)
        yield api


async def create_namespace(api: ApiClient) -> str:
    name = f"api-{uuid.uuid4().hex[:8]}"
    await request_json(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name
