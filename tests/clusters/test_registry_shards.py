"""The registry follows the shards: a replica builds clients for, probes and writes the status
of only the clusters it owns, while it still knows every registered cluster (the leader's
clusters generator needs them all). Without that, N replicas (or `--workers N`) would multiply
probes, client memory and Cluster status writes by N."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.kube import observe
from tests.clusters.harness import (
    Env,
    get_cluster,
    put_cluster,
    put_secret,
    ready,
    reason_is,
    running,
    wait_cluster,
)

pytestmark = pytest.mark.anyio


@contextmanager
def requests_by_cluster() -> Iterator[set[str]]:
    """The clusters (client labels) that any request of this process went to."""
    seen: set[str] = set()

    def record(cluster: str, _verb: str, _seconds: float, _outcome: str) -> None:
        seen.add(cluster)

    observe.add_observer(record)
    try:
        yield seen
    finally:
        observe.remove_observer(record)


async def register_both(env: Env, hub: ApiClient, namespace: str) -> None:
    for member in env.members:
        data = {"token": member.token, "ca.crt": member.ca_pem}
        await put_secret(hub, namespace, member.name, data)
        await put_cluster(hub, namespace, member.name, member.server, member.name, {"m": "1"})


async def test_a_replica_builds_clients_probes_and_writes_status_only_for_its_shards_clusters(
    sim_env: Env, sim_hub: ApiClient, sim_namespace: str
) -> None:
    hub, ns = sim_hub, sim_namespace
    mine, theirs = sim_env.members
    await register_both(sim_env, hub, ns)
    await put_cluster(hub, ns, "broken-theirs", mine.server, "no-such-secret")
    owned = {mine.name}
    with requests_by_cluster() as seen:
        async with running(sim_env, ns, owns=lambda name: name in owned) as (manager, registry):
            await wait_cluster(hub, ns, mine.name, ready)
            # Probes of the owned cluster have come and gone; the other was never contacted.
            await manager.wait_for(mine.name, lambda h: h.probes >= 3, timeout=15)
            assert manager.names() == [mine.name]
            assert theirs.name not in seen and mine.name in seen
            # Its metadata is still known (generators need every cluster and its labels).
            assert set(registry.registered) == {mine.name, theirs.name}
            assert registry.registered[theirs.name].labels == {"m": "1"}
            # Nobody here wrote the other replica's Clusters' status, not even a problem.
            assert "status" not in await get_cluster(hub, ns, theirs.name)
            assert "status" not in await get_cluster(hub, ns, "broken-theirs")


async def test_when_shards_move_clients_are_built_and_dropped(
    sim_env: Env, sim_hub: ApiClient, sim_namespace: str
) -> None:
    hub, ns = sim_hub, sim_namespace
    first, second = sim_env.members
    await register_both(sim_env, hub, ns)
    await put_cluster(hub, ns, "broken", first.server, "no-such-secret")
    owned = {first.name}
    async with running(sim_env, ns, owns=lambda name: name in owned) as (manager, registry):
        await wait_cluster(hub, ns, first.name, ready)
        assert not registry.serves(second.name)
        owned.clear()
        owned.update({second.name, "broken"})
        await registry.refresh()
        # Once the refresh returns, the gained cluster has a client and the lost one none.
        assert manager.names() == [second.name]
        assert registry.serves(second.name) and not registry.serves(first.name)
        await wait_cluster(hub, ns, second.name, ready)
        # A gained cluster with a problem is reported by its new owner.
        await wait_cluster(hub, ns, "broken", reason_is("SecretNotFound"))


async def test_without_shards_the_registry_serves_every_cluster(
    sim_env: Env, sim_hub: ApiClient, sim_namespace: str
) -> None:
    hub, ns = sim_hub, sim_namespace
    await register_both(sim_env, hub, ns)
    async with running(sim_env, ns) as (manager, registry):
        for member in sim_env.members:
            await wait_cluster(hub, ns, member.name, ready)
        with anyio.fail_after(30):  # a hang guard
            while len(manager.names()) < 2:
                await anyio.sleep(0.05)
        assert all(registry.serves(m.name) for m in sim_env.members)
