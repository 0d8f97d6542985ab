"""The manager under injected faults (fleet.sim only: the real servers cannot be told to hang)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import anyio
import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.clusters.manager import ClusterManager
from fleet.kube import (
    CircuitOpen,
    Credentials,
    KubeError,
    build_api_client,
    get_version,
    observe,
    request_json,
)
from fleet.kube.watch import list_and_watch
from tests.clusters.harness import (
    FAST,
    Env,
    Member,
    condition,
    put_cluster,
    put_secret,
    ready,
    reason_is,
    running,
    wait_cluster,
)

pytestmark = pytest.mark.anyio


def creds(member: Member) -> Credentials:
    return Credentials(server=member.server, token=member.token, ca_pem=member.ca_pem)


async def test_an_unreachable_cluster_shows_reachable_false_and_recovers_by_itself(
    sim_env: Env, sim_hub: ApiClient, sim_namespace: str
) -> None:
    member, ns = sim_env.members[0], sim_namespace
    await put_secret(sim_hub, ns, "m1", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(sim_hub, ns, "m1", member.server, "m1")
    async with running(sim_env, ns):
        await wait_cluster(sim_hub, ns, "m1", ready)
        member.sim.faults.refuse = True
        obj = await wait_cluster(sim_hub, ns, "m1", reason_is("ConnectionRefused", "Reachable"))
        assert condition(obj, "Reachable")["status"] == "False"
        assert condition(obj, "Ready")["status"] == "False"
        member.sim.faults.refuse = False
        await wait_cluster(sim_hub, ns, "m1", ready)


async def test_the_breaker_opens_after_n_failures_and_refuses_work_fast(sim_env: Env) -> None:
    member = sim_env.members[0]
    member.sim.faults.error_rate = 1.0
    settings = replace(FAST, breaker_threshold=3, breaker_base=5.0, breaker_cap=5.0)
    async with ClusterManager(settings) as manager:
        await manager.upsert("m1", creds(member))
        health = await manager.wait_for("m1", lambda h: h.breaker == "open", timeout=10)
        assert health.probes == 3
        started = time.perf_counter()
        with pytest.raises(CircuitOpen):
            async with manager.use("m1"):
                pass
        assert time.perf_counter() - started < 0.05


async def test_the_breaker_half_opens_and_closes_when_the_cluster_is_back(sim_env: Env) -> None:
    member = sim_env.members[0]
    member.sim.faults.error_rate = 1.0
    settings = replace(FAST, breaker_threshold=2, breaker_base=0.3, breaker_cap=0.3)
    async with ClusterManager(settings) as manager:
        await manager.upsert("m1", creds(member))
        opened = await manager.wait_for("m1", lambda h: h.breaker == "open", timeout=10)
        # still failing: the half-open trial fails and the breaker reopens
        reopened = await manager.wait_for(
            "m1", lambda h: h.probes > opened.probes and h.breaker == "open", timeout=5
        )
        assert reopened.probes == opened.probes + 1
        member.sim.faults.error_rate = 0.0
        closed = await manager.wait_for("m1", lambda h: bool(h.ready), timeout=5)
        assert closed.breaker == "closed"
        async with manager.use("m1") as api:
            assert (await get_version(api)).startswith("v1.")


async def test_a_hanging_cluster_does_not_delay_probes_of_the_others(sim_env: Env) -> None:
    dead, alive = sim_env.members
    dead.sim.faults.hang = True
    settings = replace(FAST, probe_interval=0.1, probe_timeout=10.0)
    async with ClusterManager(settings) as manager:
        await manager.upsert("dead", creds(dead))
        await manager.upsert("alive", creds(alive))
        # event-driven, within the dead cluster's first probe (it waits 10 s): a fixed 1.5 s
        # sleep failed on a loaded machine
        await manager.wait_for("alive", lambda h: h.probes >= 5, timeout=8)
        assert manager.health("alive").probes >= 5
        assert manager.health("alive").ready
        assert manager.health("dead").probes == 0  # its first probe is still waiting (10 s)
        dead.sim.faults.hang = False


async def test_a_hanging_cluster_is_reported_as_timeout(sim_env: Env) -> None:
    member = sim_env.members[0]
    member.sim.faults.hang = True
    async with ClusterManager(replace(FAST, probe_timeout=0.3)) as manager:
        await manager.upsert("m1", creds(member))
        health = await manager.wait_for("m1", lambda h: h.reason == "Timeout", timeout=5)
        assert health.reachable is False
        member.sim.faults.hang = False


async def test_use_holds_one_of_the_clusters_concurrency_slots(sim_env: Env) -> None:
    member = sim_env.members[0]
    settings = replace(FAST, concurrency_per_cluster=2)
    async with ClusterManager(settings) as manager:
        await manager.upsert("m1", creds(member))
        inside = 0
        peak = 0

        async def work() -> None:
            nonlocal inside, peak
            async with manager.use("m1"):
                inside += 1
                peak = max(peak, inside)
                await anyio.sleep(0.05)
                inside -= 1

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(work)
        assert peak == 2


async def test_changed_credentials_rebuild_the_client_and_close_the_old_one(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    async with ClusterManager(FAST) as manager:
        await manager.upsert("m1", replace(creds(member), token="wrong"))
        await manager.wait_for("m1", lambda h: h.reason == "Unauthorized", timeout=5)
        old = manager.client("m1")
        assert await manager.upsert("m1", creds(member))
        assert not await manager.upsert("m1", creds(member))  # unchanged: no-op
        assert old.rest_client.pool_manager.closed
        await manager.wait_for("m1", lambda h: bool(h.ready), timeout=5)


async def test_the_hub_watch_recovers_from_a_dropped_connection_and_compaction(
    sim_env: Env, sim_hub: ApiClient, sim_namespace: str
) -> None:
    member, ns = sim_env.members[0], sim_namespace
    await put_secret(sim_hub, ns, "m1", {"token": "stale", "ca.crt": member.ca_pem})
    await put_cluster(sim_hub, ns, "m1", member.server, "m1")
    async with running(sim_env, ns):
        await wait_cluster(sim_hub, ns, "m1", reason_is("Unauthorized"))
        sim_env.hub.sim.faults.refuse = True  # the registry's watches break
        await anyio.sleep(0.3)
        sim_env.hub.sim.compact_history()  # their resourceVersions are now gone (410)
        sim_env.hub.sim.faults.refuse = False
        await put_secret(sim_hub, ns, "m1", {"token": member.token, "ca.crt": member.ca_pem})
        await wait_cluster(sim_hub, ns, "m1", ready, timeout=20)


async def test_a_cluster_busy_with_other_traffic_is_not_probed_but_an_idle_one_is(
    sim_env: Env,
) -> None:
    busy, idle = sim_env.members[0], sim_env.members[1]
    settings = replace(FAST, probe_interval=0.2, passive_health=60.0, idle_backoff=1.0)
    async with ClusterManager(settings) as manager:
        await manager.upsert("busy", creds(busy))
        await manager.upsert("idle", creds(idle))
        await manager.wait_for("busy", lambda h: h.ready is True, timeout=10)
        await manager.wait_for("idle", lambda h: h.ready is True, timeout=10)
        start_busy, start_idle = manager.health("busy").probes, manager.health("idle").probes
        for _ in range(40):  # 2 s of syncs and watches stand-in: one answered request / 50 ms
            async with manager.use("busy") as api:
                await get_version(api)
            await anyio.sleep(0.05)
        busy_probes = manager.health("busy").probes - start_busy
        idle_probes = manager.health("idle").probes - start_idle
    assert busy_probes <= 1  # at most the probe already due when the traffic began
    assert idle_probes >= 4


async def test_a_cluster_whose_watch_keeps_delivering_is_not_probed_even_past_passive_health(
    sim_env: Env,
) -> None:
    """A steady fleet sends nothing beyond its open watches: a watch line (event or bookmark)
    proves the cluster serves this client, so it stands in for probes with no time limit."""
    watched, idle = sim_env.members[0], sim_env.members[1]
    settings = replace(FAST, probe_interval=0.2, passive_health=0.3, idle_backoff=1.0)
    async with ClusterManager(settings) as manager, anyio.create_task_group() as tg:
        await manager.upsert("watched", creds(watched))
        await manager.upsert("idle", creds(idle))
        await manager.wait_for("watched", lambda h: h.ready is True, timeout=10)
        await manager.wait_for("idle", lambda h: h.ready is True, timeout=10)
        async with manager.use("watched") as api:

            async def ignore(*_args: Any) -> None:
                return None

            path = "/api/v1/namespaces/default/configmaps"
            tg.start_soon(lambda: list_and_watch(api, path, on_reset=ignore, on_event=ignore))
            await anyio.sleep(0.3)  # the watch is open
            start_watched = manager.health("watched").probes
            start_idle = manager.health("idle").probes
            async with build_api_client(creds(watched)) as other:  # unlabelled: not observed
                for i in range(20):  # 2 s of events on the watch; the manager sends nothing
                    body = {"metadata": {"name": f"w-{i}"}}
                    await request_json(other, "POST", path, body=body)
                    await anyio.sleep(0.1)
            watched_probes = manager.health("watched").probes - start_watched
            idle_probes = manager.health("idle").probes - start_idle
            tg.cancel_scope.cancel()
    assert watched_probes <= 1  # at most the probe already due when the watch opened
    assert idle_probes >= 4


async def test_requests_timing_out_on_a_busy_cluster_do_not_add_probes_to_its_load(
    sim_env: Env,
) -> None:
    """Timeouts and 429s are signs of load, already met by the adaptive limit: a probe after
    each (one per second per cluster before) only added to the load of an overloaded fleet."""
    member = sim_env.members[0]
    settings = replace(FAST, probe_interval=5.0, passive_health=60.0)
    async with ClusterManager(settings) as manager:
        await manager.upsert("slow", creds(member))
        await manager.wait_for("slow", lambda h: h.ready is True, timeout=10)
        before = manager.health("slow").probes
        member.sim.faults.latency = 0.5
        for _ in range(20):  # 2 s of requests that time out (the next probe is 4-6 s away)
            async with manager.use("slow") as api:
                with pytest.raises(KubeError):
                    await request_json(api, "GET", "/version", timeout=0.1)
        member.sim.faults.latency = 0.0
        assert manager.health("slow").probes == before


async def test_a_ready_clusters_probes_check_read_access_once_per_interval(sim_env: Env) -> None:
    """`GET /version` proves reachability and authentication; the authorised read (a LIST of
    namespaces) that tells Forbidden from Ready runs on every probe only until Ready."""
    member = sim_env.members[0]
    seen: list[tuple[str, str]] = []

    def count(label: str, verb: str, resource: str) -> None:
        if label == "m1":
            seen.append((verb, resource))

    settings = replace(FAST, probe_interval=0.1, passive_health=0, access_check_interval=60.0)
    observe.add_resource_observer(count)
    try:
        async with ClusterManager(settings) as manager:
            await manager.upsert("m1", creds(member))
            await manager.wait_for("m1", lambda h: h.ready is True, timeout=10)
            start = manager.health("m1").probes
            seen.clear()
            await manager.wait_for("m1", lambda h: h.probes >= start + 5, timeout=10)
    finally:
        observe.remove_resource_observer(count)
    assert seen.count(("GET", "version")) >= 5
    assert ("LIST", "namespaces") not in seen


async def test_registered_clusters_hold_no_task_between_probes_and_are_still_probed(
    sim_env: Env,
) -> None:
    settings = replace(FAST, probe_interval=0.3)
    async with ClusterManager(settings) as manager:
        before = len(asyncio.all_tasks())
        for index, member in enumerate(sim_env.members):
            await manager.upsert(f"m{index}", creds(member))
        for index in range(len(sim_env.members)):
            await manager.wait_for(f"m{index}", lambda h: h.probes >= 3, timeout=10)
        with anyio.fail_after(10):  # between two probes, none of them holds a task
            while len(asyncio.all_tasks()) > before:
                await anyio.sleep(0.01)
        assert all(manager.health(f"m{i}").ready for i in range(len(sim_env.members)))


async def test_an_unused_ready_cluster_is_probed_less_often_up_to_the_idle_backoff(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    settings = replace(FAST, probe_interval=0.1, idle_backoff=4.0)
    async with ClusterManager(settings) as manager:
        await manager.upsert("m1", creds(member))
        await manager.wait_for("m1", lambda h: h.ready is True, timeout=10)
        start = manager.health("m1").probes
        await anyio.sleep(3.0)
        probes = manager.health("m1").probes - start
    # every 0.1 s (+-20 %) would be about 30; doubling to at most 0.4 s, at most 3 s / 0.32 s
    assert 2 <= probes <= 10


async def test_an_unused_cluster_that_goes_away_is_seen_within_the_stretched_interval(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    settings = replace(FAST, probe_interval=0.1, idle_backoff=4.0, breaker_threshold=1)
    async with ClusterManager(settings) as manager:
        await manager.upsert("m1", creds(member))
        await manager.wait_for("m1", lambda h: h.ready is True and h.probes >= 4, timeout=10)
        member.sim.faults.refuse = True
        try:
            await manager.wait_for("m1", lambda h: h.reachable is False, timeout=5)
        finally:
            member.sim.faults.refuse = False
        # back: probed at probe_interval again until it is found Ready
        await manager.wait_for("m1", lambda h: h.ready is True, timeout=5)


async def test_new_credentials_do_not_close_the_client_under_a_running_probe(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    seen: list[str] = []

    async def sink(_name: str, health: Any) -> None:
        seen.append(health.reason)

    member.sim.faults.latency = 0.5
    try:
        async with ClusterManager(FAST, sink) as manager:
            await manager.upsert("m1", creds(member))
            await anyio.sleep(0.2)  # the first probe waits for its answer
            same_server = replace(creds(member), server=member.server + "/")  # new fingerprint
            assert await manager.upsert("m1", same_server)
            await manager.wait_for("m1", lambda h: h.probes >= 2, timeout=10)
    finally:
        member.sim.faults.latency = 0
    assert seen and set(seen) == {"Connected"}


async def test_a_ready_cluster_is_not_probed_while_its_reconciles_run_or_wait(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    busy = {"m1"}
    settings = replace(FAST, probe_interval=0.1, idle_backoff=1.0)
    async with ClusterManager(settings) as manager:
        manager.busy_with = busy.__contains__
        await manager.upsert("m1", creds(member))
        await manager.wait_for("m1", lambda h: h.ready is True, timeout=10)
        start = manager.health("m1").probes
        await anyio.sleep(1.0)
        assert manager.health("m1").probes == start  # about 10 probes without the deferral
        assert manager.probes_deferred >= 5
        busy.clear()
        await manager.wait_for("m1", lambda h: h.probes >= start + 3, timeout=5)


async def test_a_busy_cluster_is_still_probed_once_passive_health_has_passed(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    settings = replace(FAST, probe_interval=0.1, idle_backoff=1.0, passive_health=0.5)
    async with ClusterManager(settings) as manager:
        manager.busy_with = lambda _name: True
        await manager.upsert("m1", creds(member))
        first = await manager.wait_for("m1", lambda h: h.ready is True, timeout=10)
        started = time.monotonic()
        await manager.wait_for("m1", lambda h: h.probes > first.probes, timeout=5)
        assert time.monotonic() - started >= 0.35  # deferred at 0.1 s, probed by 0.5 s (+20 %)


async def test_a_busy_cluster_that_goes_away_is_seen_through_its_failing_traffic(
    sim_env: Env,
) -> None:
    member = sim_env.members[0]
    settings = replace(FAST, probe_interval=0.1, idle_backoff=1.0, breaker_threshold=1)
    async with ClusterManager(settings) as manager:
        manager.busy_with = lambda _name: True
        await manager.upsert("m1", creds(member))
        await manager.wait_for("m1", lambda h: h.ready is True, timeout=10)
        member.sim.faults.refuse = True
        try:
            with pytest.raises(KubeError):
                async with manager.use("m1") as api:
                    await get_version(api, timeout=2)
            await manager.wait_for("m1", lambda h: h.reachable is False, timeout=5)
        finally:
            member.sim.faults.refuse = False
