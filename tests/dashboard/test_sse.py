"""The SSE hub: coalesced batches, a bound on followers, slow followers dropped."""

from __future__ import annotations

import json

import anyio
import pytest

from fleet.server.dashboard.model import Store
from fleet.server.dashboard.sse import Busy, EventHub
from tests.dashboard.test_model import app

pytestmark = pytest.mark.anyio


async def test_changes_within_the_interval_reach_a_follower_as_one_event() -> None:
    store = Store()
    hub = EventHub(store, interval=0.05)
    async with anyio.create_task_group() as tg:
        await tg.start(hub.run)
        receive = hub.subscribe()
        for i in range(50):
            store.put_app(app(f"app-{i}", sync="OutOfSync" if i % 2 else "Synced"))
        store.put_app(app("app-0", health="Degraded", version="2"))
        with anyio.fail_after(30):
            message = await receive.receive()
        tg.cancel_scope.cancel()
    event, data = message.strip().split("\n")
    assert event == "event: changes"
    changes = json.loads(data.removeprefix("data: "))
    assert len(changes["app"]) == 50
    assert changes["app"]["app-0"]["health"] == "Degraded"  # the latest state only
    assert changes["counts"] == {"total": 50, "good": 24, "problems": 26}


async def test_followers_beyond_the_bound_are_refused() -> None:
    hub = EventHub(Store(), max_subscribers=2)
    hub.subscribe()
    hub.subscribe()
    with pytest.raises(Busy):
        hub.subscribe()


async def test_a_follower_that_does_not_read_is_dropped_not_waited_for() -> None:
    store = Store()
    hub = EventHub(store, interval=0.01)
    receive = hub.subscribe()
    async with anyio.create_task_group() as tg:
        await tg.start(hub.run)
        with anyio.fail_after(30):
            i = 0
            while hub.subscribers:
                store.put_app(app(f"app-{i}"))
                i += 1
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    backlog = 0
    with pytest.raises(anyio.EndOfStream):
        while True:
            await receive.receive()
            backlog += 1
    assert backlog == 32  # what its buffer held, then the end: the browser reconnects
