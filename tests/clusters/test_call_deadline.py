"""`call`: one library call with a deadline, its failures mapped to KubeError."""

from __future__ import annotations

import gc

import anyio
import pytest

from fleet.kube import Unreachable
from fleet.kube.calls import call

pytestmark = pytest.mark.anyio


async def test_a_call_past_its_deadline_is_unreachable_by_timeout() -> None:
    with pytest.raises(Unreachable) as raised:
        await call(lambda: anyio.sleep(30), timeout=0.05)
    assert raised.value.kind == "timeout"


async def test_a_call_within_its_deadline_returns_its_result() -> None:
    async def answer() -> int:
        await anyio.sleep(0)
        return 42

    assert await call(answer, timeout=5) == 42


async def test_a_call_cancelled_from_outside_is_cancelled_not_timed_out() -> None:
    with anyio.move_on_after(0.05) as outer:
        await call(lambda: anyio.sleep(30), timeout=10)
    assert outer.cancelled_caught


async def test_a_waiting_call_holds_no_generator() -> None:
    # Every open watch waits in `call` for its next line: what it holds meanwhile is paid once
    # per watch (fail_after's two generator-based context managers were about 3 KiB).
    waiting = anyio.Event()

    async def wait() -> None:
        waiting.set()
        await anyio.sleep(30)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, wait)
        await waiting.wait()
        gc.collect()
        held = [g for g in gc.get_objects() if type(g).__name__ == "generator"]
        assert not [g for g in held if g.gi_code.co_name in ("fail_after", "fail_at")]
        tg.cancel_scope.cancel()
