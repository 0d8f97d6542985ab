"""The work queue: de-duplication, dirty re-runs, per-group limits, backoff, requeue-after."""

from __future__ import annotations

import itertools
from collections import Counter

import anyio
import pytest

from fleet.controllers.workqueue import Backoff, WorkQueue

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_key_added_many_times_before_it_runs_runs_once() -> None:
    runs: Counter[str] = Counter()

    async def handler(key: str) -> None:
        runs[key] += 1

    queue = WorkQueue(handler)
    for _ in range(50):
        queue.add("a")
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    assert runs == {"a": 1}


async def test_a_key_added_while_running_runs_once_more_afterwards() -> None:
    runs: list[str] = []
    release = anyio.Event()

    async def handler(key: str) -> None:
        runs.append(key)
        if len(runs) == 1:
            await release.wait()

    queue = WorkQueue(handler)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add("a")
        while queue.running == 0:
            await anyio.sleep(0.001)
        for _ in range(10):
            queue.add("a")
        release.set()
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    assert runs == ["a", "a"]


async def test_a_stalled_group_does_not_hold_back_other_groups() -> None:
    stuck = anyio.Event()
    done: list[str] = []

    async def handler(key: str) -> None:
        if key.startswith("dead/"):
            await stuck.wait()
        done.append(key)

    queue = WorkQueue(handler, workers=4, per_group=2)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        for i in range(10):
            queue.add(f"dead/{i}", group="dead")
        for i in range(20):
            queue.add(f"live/{i}", group="live")
        with anyio.fail_after(5):
            while len(done) < 20:
                await anyio.sleep(0.005)
        assert queue.running_in("dead") == 2
        assert sorted(done) == sorted(f"live/{i}" for i in range(20))
        stuck.set()
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    assert len(done) == 30


async def test_no_group_ever_runs_more_than_its_limit() -> None:
    peak = 0
    now = 0

    async def handler(key: str) -> None:
        nonlocal peak, now
        now += 1
        peak = max(peak, now)
        await anyio.sleep(0.01)
        now -= 1

    queue = WorkQueue(handler, workers=16, per_group=3)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        for i in range(30):
            queue.add(str(i), group="one")
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    assert peak == 3


async def test_a_failing_key_is_retried_with_growing_delays_then_reset_on_success() -> None:
    times: list[float] = []

    async def handler(key: str) -> None:
        times.append(anyio.current_time())
        if len(times) < 4:
            raise RuntimeError("boom")

    queue = WorkQueue(handler, backoff=Backoff(base=0.02, cap=1.0, jitter=0.0))
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add("a")
        with anyio.fail_after(5):
            while len(times) < 4:
                await anyio.sleep(0.005)
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08
    assert queue.failures("a") == 0


def test_backoff_is_capped() -> None:
    backoff = Backoff(base=1.0, cap=30.0, jitter=0.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 10, 100)] == [1.0, 2.0, 4.0, 30.0, 30.0]


async def test_a_handler_asking_for_a_later_look_runs_again_after_that_delay() -> None:
    times: list[float] = []

    async def handler(key: str) -> float | None:
        times.append(anyio.current_time())
        return 0.05 if len(times) < 3 else None

    queue = WorkQueue(handler)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add("a")
        with anyio.fail_after(5):
            while len(times) < 3:
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    assert times[1] - times[0] >= 0.05


async def test_a_forgotten_key_does_not_run_again() -> None:
    runs: list[str] = []

    async def handler(key: str) -> float:
        runs.append(key)
        return 0.3

    queue = WorkQueue(handler)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add("a")
        while not runs:
            await anyio.sleep(0.001)
        await queue.wait_idle()
        queue.forget("a")
        await anyio.sleep(0.5)
        tg.cancel_scope.cancel()
    assert runs == ["a"]


async def test_paused_queue_starts_nothing_new() -> None:
    runs: list[str] = []

    async def handler(key: str) -> None:
        runs.append(key)

    queue = WorkQueue(handler)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.pause()
        queue.add("a")
        await anyio.sleep(0.1)
        tg.cancel_scope.cancel()
    assert runs == [] and queue.depth == 1


async def test_adds_absorbed_by_a_queued_or_running_key_are_counted_as_shed() -> None:
    release = anyio.Event()

    async def handler(key: str) -> None:
        await release.wait()

    queue = WorkQueue(handler)
    for _ in range(50):
        queue.add("a")  # 49 absorbed by the queued key
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        while queue.running == 0:
            await anyio.sleep(0.001)
        for _ in range(10):
            queue.add("a")  # the first marks it dirty, 9 more are absorbed
        release.set()
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    assert queue.coalesced == 49 + 9


async def test_a_key_held_back_by_its_groups_limit_reports_how_long_it_waited() -> None:
    waits: list[float] = []
    release = anyio.Event()

    async def handler(key: str) -> None:
        if key == "first":
            await release.wait()

    queue = WorkQueue(handler, per_group=1, on_wait=waits.append)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add("first", group="c1")
        queue.add("second", group="c1")
        while queue.running == 0:
            await anyio.sleep(0.001)
        await anyio.sleep(0.2)  # "second" is due and waits for c1's only slot
        release.set()
        await queue.wait_idle()
        tg.cancel_scope.cancel()
    assert len(waits) == 2
    assert waits[1] >= 0.2  # a lower bound: it cannot have started before the slot was free


async def test_a_group_is_busy_while_its_keys_run_or_wait_for_a_slot_not_when_due_later() -> None:
    release = anyio.Event()

    async def handler(key: str) -> None:
        await release.wait()

    queue = WorkQueue(handler, workers=1, per_group=1)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add("a/1", group="a")
        queue.add("b/1", group="b")  # ready, waits for the one worker
        queue.add("c/1", group="c", after=60)  # scheduled, not ready
        with anyio.fail_after(5):
            while queue.running == 0:
                await anyio.sleep(0.001)
        assert queue.busy_with("a") and queue.busy_with("b")
        assert not queue.busy_with("c") and not queue.busy_with("unknown")
        release.set()
        with anyio.fail_after(5):
            while queue.busy_with("a") or queue.busy_with("b"):
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
