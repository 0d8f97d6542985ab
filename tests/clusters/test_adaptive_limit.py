"""Concurrency toward a cluster follows the server: halves on overload, grows with success."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from fleet.kube import KubeError, request_json
from fleet.kube.adaptive import AdaptiveLimit, AdaptiveSettings
from fleet.kube.client import FleetApiClient
from tests.clusters.harness import hub_client, simulated_env

pytestmark = pytest.mark.anyio


async def test_a_request_waits_for_a_slot_when_the_limit_is_reached() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=1))
    await limit.acquire()
    got_it = anyio.Event()

    async def second() -> None:
        await limit.acquire()
        got_it.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert not got_it.is_set() and limit.waiting == 1
        limit.release(status=200)
        await got_it.wait()
    assert limit.inflight == 1


@pytest.mark.parametrize("status", [429, 500, 503, 504])
async def test_an_overloaded_answer_halves_the_limit(status: int) -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=8))
    await limit.acquire()
    limit.release(status=status)
    assert limit.limit == 4


async def test_a_timeout_halves_the_limit_and_a_refused_connection_does_not() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=8))
    await limit.acquire()
    limit.release(error=ConnectionRefusedError())
    assert limit.limit == 8
    await limit.acquire()
    limit.release(error=TimeoutError())
    assert limit.limit == 4


async def test_a_burst_of_failures_halves_once_per_cooldown_not_to_the_minimum() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=16, cooldown=60))
    for _ in range(16):
        await limit.acquire()
    for _ in range(16):
        limit.release(status=503)
    assert limit.limit == 8
    assert limit.throttled == 16


async def answer_while_a_request_waits(limit: AdaptiveLimit, latency: float) -> None:
    """Every slot taken and one more request waiting, then one answer comes back (the waiter
    keeps the freed slot)."""
    while limit.inflight < limit.limit:
        await limit.acquire()
    async with anyio.create_task_group() as tg:
        tg.start_soon(limit.acquire)
        await anyio.wait_all_tasks_blocked()
        limit.release(status=200, latency=latency)


async def test_the_limit_grows_while_requests_wait_and_answers_come_fast() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=2, maximum=6))
    for _ in range(3):  # about one window of `limit` answers: +1
        await answer_while_a_request_waits(limit, latency=0.001)
    assert limit.limit == 3
    for _ in range(100):
        await answer_while_a_request_waits(limit, latency=0.001)
    assert limit.limit == 6


async def test_the_limit_does_not_grow_when_no_request_waits() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=2))
    for _ in range(100):
        await limit.acquire()
        limit.release(status=200, latency=0.001)
    assert limit.limit == 2


async def test_the_limit_does_not_grow_on_answers_slower_than_the_recent_fastest() -> None:
    """A slow answer means a queue (in the server or in this busy process): more requests in
    flight would only lengthen it, and each costs a TLS connection."""
    limit = AdaptiveLimit(AdaptiveSettings(initial=2))
    await limit.acquire()
    limit.release(status=200, latency=0.001)  # the floor
    for _ in range(100):
        await answer_while_a_request_waits(limit, latency=0.5)
    assert limit.limit == 2


async def test_an_answer_without_its_latency_does_not_grow_the_limit() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=2))
    while limit.inflight < limit.limit:
        await limit.acquire()
    async with anyio.create_task_group() as tg:
        tg.start_soon(limit.acquire)
        await anyio.wait_all_tasks_blocked()
        limit.release(status=200)
    assert limit.limit == 2


async def test_the_wait_for_a_slot_is_bounded_and_leaves_the_line_on_timeout() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=1))
    assert await limit.acquire(timeout=1.0) == 0.0  # a free slot: no wait
    with pytest.raises(TimeoutError):
        await limit.acquire(timeout=0.05)
    assert (limit.waiting, limit.inflight) == (0, 1)


async def test_a_cancelled_waiter_leaves_the_line_and_the_next_gets_the_slot() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=1))
    await limit.acquire()
    first, served = anyio.CancelScope(), anyio.Event()

    async def cancelled_waiter() -> None:
        with first:
            await limit.acquire()

    async def served_waiter() -> None:
        await limit.acquire()
        served.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancelled_waiter)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(served_waiter)
        await anyio.wait_all_tasks_blocked()
        first.cancel()  # it leaves the line
        await anyio.wait_all_tasks_blocked()
        limit.release()  # no signal: the limit stays 1
        with anyio.fail_after(5):
            await served.wait()
    assert limit.inflight == 1


async def test_a_cluster_answering_500s_gets_fewer_requests_and_then_more_again(
    tmp_path: Path,
) -> None:
    async with simulated_env(tmp_path, ["busy"]) as env:
        member = env.members[0]
        async with hub_client(env.__class__("sim", member, [])) as api:
            assert isinstance(api, FleetApiClient)
            start = api.limit.limit
            member.sim.faults.error_rate = 1.0
            with pytest.raises(KubeError):
                await request_json(api, "GET", "/api/v1/namespaces")
            assert api.limit.limit < start
            member.sim.faults.error_rate = 0.0

            async def reads() -> None:
                for _ in range(50):
                    await request_json(api, "GET", "/api/v1/namespaces/default")

            async with anyio.create_task_group() as tg:  # more at once than the limit allows
                for _ in range(8):
                    tg.start_soon(reads)
            assert api.limit.limit > start


async def test_a_slot_given_to_a_waiter_cancelled_meanwhile_comes_back() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(initial=1))
    await limit.acquire()
    first, served = anyio.CancelScope(), anyio.Event()

    async def cancelled_waiter() -> None:
        """As the client's request does: whatever happens after the slot, it is released."""
        with first:
            await limit.acquire()
            try:
                await anyio.sleep_forever()
            finally:
                limit.release()

    async def served_waiter() -> None:
        await limit.acquire()
        served.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancelled_waiter)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(served_waiter)
        await anyio.wait_all_tasks_blocked()
        limit.release()  # the slot goes to the first waiter...
        first.cancel()  # ...which is cancelled before it runs
        with anyio.fail_after(5):
            await served.wait()
    assert limit.inflight == 1
