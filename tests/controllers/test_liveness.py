"""Liveness that load cannot starve: Lease renewal runs on its own loop and thread.

The hub here is fleet.sim served from a thread of its own, so blocking the test's (the
controller's) event loop blocks the controller only, as a saturated loop would in production.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import pytest

from fleet.controllers.liveness import LivenessLoop
from fleet.controllers.sharding import ShardSettings
from tests.clusters.harness import Env, hub_client, simulated_env
from tests.controllers.harness import Scenario

pytestmark = pytest.mark.anyio


@contextmanager
def sim_in_a_thread(directory: Path, members: list[str]) -> Iterator[Env]:
    """fleet.sim (hub + members) on an event loop of its own thread."""
    ready = threading.Event()
    made: list[Env] = []
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def serve() -> None:
        async with simulated_env(directory, members) as env:
            stopping = asyncio.Event()
            made.append(env)
            stop.append((asyncio.get_running_loop(), stopping))
            ready.set()
            await stopping.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30), "fleet.sim did not start"
    try:
        yield made[0]
    finally:
        loop, stopping = stop[0]
        loop.call_soon_threadsafe(stopping.set)
        thread.join(30)


@asynccontextmanager
async def threaded_scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    with sim_in_a_thread(tmp_path / "sim", ["m1", "m2"]) as env:
        async with Scenario.open(env, tmp_path / "scenario") as scenario:
            yield scenario


def busy(seconds: float) -> None:
    """Hold the calling thread (here: the controller's event loop) in pure-Python work."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))


async def test_a_replica_whose_event_loop_is_saturated_keeps_its_shards(tmp_path: Path) -> None:
    lease = 2.0
    async with (
        threaded_scenario(tmp_path) as scenario,
        scenario.controller(
            sharding=ShardSettings(
                identity="busy", shards=2, lease_duration=lease, renew_interval=lease / 4
            )
        ) as controller,
    ):
        coordinator = controller.coordinator
        assert coordinator is not None
        assert coordinator.owned() == frozenset({0, 1})
        busy(lease * 1.5)  # no await: the main loop runs nothing else meanwhile
        assert coordinator.owned() == frozenset({0, 1})


async def test_work_on_the_liveness_loop_goes_on_while_the_main_loop_is_blocked(
    tmp_path: Path,
) -> None:
    with sim_in_a_thread(tmp_path, []) as env:
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        async with LivenessLoop(lambda: hub_client(env)) as live:
            live.spawn(tick, "tick")
            with anyio.fail_after(10):
                while not ticks:
                    await anyio.sleep(0.01)
            before = len(ticks)
            busy(0.5)
            assert len(ticks) > before


async def test_a_stuck_main_loop_shows_as_silence_on_the_liveness_side(tmp_path: Path) -> None:
    with sim_in_a_thread(tmp_path, []) as env:
        async with (
            LivenessLoop(lambda: hub_client(env), beat_interval=0.05) as live,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(live.beat)
            await anyio.sleep(0.2)
            assert live.main_loop_silence() < 0.5
            time.sleep(0.6)  # the main loop is stuck: nothing beats
            assert live.main_loop_silence() >= 0.6
            tg.cancel_scope.cancel()


async def test_a_call_returns_the_result_computed_on_the_liveness_thread(tmp_path: Path) -> None:
    with sim_in_a_thread(tmp_path, []) as env:

        async def where() -> str:
            return threading.current_thread().name

        async with LivenessLoop(lambda: hub_client(env)) as live:
            assert await live.call(where) == "fleet-liveness"


def probe_during(url: str, delay: float, answers: list[tuple[int, str]]) -> threading.Thread:
    """GET `url` from another thread `delay` seconds from now with the kubelet's patience
    (a 6 s timeout, generous for a loaded machine: an answer that waits for the blocked loop
    still comes too late)."""

    def run() -> None:
        time.sleep(delay)
        try:
            with urllib.request.urlopen(url, timeout=6) as response:
                answers.append((response.status, response.read().decode()))
        except urllib.error.HTTPError as error:
            answers.append((error.code, error.read().decode()))
        except OSError as error:  # timed out
            answers.append((0, repr(error)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_the_health_port_answers_while_the_event_loop_is_busy(tmp_path: Path) -> None:
    async with (
        threaded_scenario(tmp_path) as scenario,
        scenario.controller(health_port=0) as controller,
    ):
        answers: list[tuple[int, str]] = []
        prober = probe_during(f"http://127.0.0.1:{controller.health_port}/readyz", 0.3, answers)
        busy(8.0)  # the main loop runs nothing meanwhile; the probe comes and times out in it
        prober.join(10)
    assert answers == [(200, "ok\n")]


async def test_the_health_port_fails_once_the_event_loop_is_stuck_past_the_limit(
    tmp_path: Path,
) -> None:
    async with (
        threaded_scenario(tmp_path) as scenario,
        scenario.controller(health_port=0, liveness_stall=0.5) as controller,
    ):
        answers: list[tuple[int, str]] = []
        prober = probe_during(f"http://127.0.0.1:{controller.health_port}/healthz", 1.5, answers)
        time.sleep(8.0)  # a blocking call on the event loop: nothing beats
        prober.join(10)
    [(status, text)] = answers
    assert status == 503
    assert "event loop has not run for" in text
