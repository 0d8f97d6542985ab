"""fleet.sync.pool.each: every item once, at most `workers` at a time, errors as themselves."""

from __future__ import annotations

import anyio
import pytest

from fleet.kube import Conflict
from fleet.sync.pool import each

pytestmark = pytest.mark.anyio


async def test_every_item_is_worked_on_once() -> None:
    done: list[int] = []

    async def work(item: int) -> None:
        await anyio.sleep(0)
        done.append(item)

    await each(range(25), work, workers=4)
    assert sorted(done) == list(range(25))


async def test_no_more_than_the_workers_run_at_once() -> None:
    running, most = 0, 0

    async def work(_item: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await anyio.sleep(0.01)
        running -= 1

    await each(range(20), work, workers=3)
    assert most == 3


async def test_a_failure_is_raised_as_itself_and_stops_the_rest() -> None:
    started: list[int] = []

    async def work(item: int) -> None:
        started.append(item)
        if item == 1:
            raise Conflict("taken")
        await anyio.sleep(0.05)

    with pytest.raises(Conflict, match="taken"):
        await each(range(10), work, workers=2)
    assert len(started) < 10


async def test_one_worker_works_in_order_and_raises_as_itself() -> None:
    done: list[int] = []

    async def work(item: int) -> None:
        if item == 3:
            raise Conflict("third")
        done.append(item)

    with pytest.raises(Conflict):
        await each(range(5), work, workers=1)
    assert done == [0, 1, 2]
