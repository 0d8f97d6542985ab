"""Many clusters in one process: fast start, lazy per-cluster state, shared discovery."""

from __future__ import annotations

import time

import pytest

from fleet.sim import SimServer
from tests.sim.conftest import Raw

pytestmark = pytest.mark.anyio


async def test_thousand_clusters_start_fast_and_stay_lazy() -> None:
    start = time.monotonic()
    async with SimServer(1000) as sim:
        elapsed = time.monotonic() - start
        assert elapsed < 3.0
        assert len(sim.clusters) == 1000
        assert sim.clusters["cluster-1000"].server.endswith("/clusters/cluster-1000")
        assert not any(c.started for c in sim.clusters.values())


async def test_only_used_clusters_get_state(raw: Raw, sim: SimServer) -> None:
    code, _ = await raw.request("GET", "/api/v1/namespaces")
    assert code == 200
    assert sim.clusters["cluster-1"].started
    assert not sim.clusters["cluster-2"].started


async def test_clusters_are_isolated(raw: Raw, sim: SimServer) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "only-here"}}
    await raw.request("POST", "/api/v1/namespaces/default/configmaps", body)
    other = sim.clusters["cluster-2"]
    code, _ = await raw.request("GET", "/api/v1/namespaces/default/configmaps/only-here")
    assert code == 200
    raw2 = Raw(other, raw.session, other.token)
    code, _ = await raw2.request("GET", "/api/v1/namespaces/default/configmaps/only-here")
    assert code == 404


async def test_discovery_documents_are_shared_between_clusters(sim: SimServer) -> None:
    first = sim.clusters["cluster-1"].state.registry.documents()
    second = sim.clusters["cluster-2"].state.registry.documents()
    assert first is second
