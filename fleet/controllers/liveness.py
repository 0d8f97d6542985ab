"""A second event loop, in its own thread, for the work that reconcile load must never delay.

Why: under load the controller's main event loop is saturated by renders, compares and applies;
a Lease renewal queued behind them times out, the replica must then give up its shards by the
safety rule, and the fleet stops exactly when it is busiest. Lease renewal and presence run here
instead, on their own loop with their own hub client (its own connection pool), so a busy but
healthy replica keeps its shards and gives them up only when it truly cannot reach the hub.

The main loop proves it is alive by a heartbeat (`beat`), which the health endpoint judges from
here: a main loop that is slow still beats; one that is stuck (a blocking call, a deadlock) stops
beating, and /healthz says so while this loop stays responsive.

Thread rules: this loop's objects (its hub client, the ShardCoordinator's anyio primitives) are
touched only from this thread; the main loop reaches them through `call` and `spawn`, and hears
back through `asyncio.AbstractEventLoop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

import anyio
import structlog
from kubernetes_asyncio.client import ApiClient

log = structlog.get_logger("fleet.liveness")

T = TypeVar("T")

START_TIMEOUT = 30.0
"""Seconds for the thread's loop and hub client to come up before the controller gives up."""
STOP_TIMEOUT = 10.0


class LivenessError(RuntimeError):
    """The liveness loop could not start (its hub client could not be built)."""


class LivenessLoop:
    """Use: `async with LivenessLoop(make_hub) as live:`; `live.hub` is usable only through
    `await live.call(lambda: coroutine_using(live.hub))` or `live.spawn(...)`."""

    def __init__(self, make_hub: Callable[[], ApiClient], *, beat_interval: float = 1.0) -> None:
        self._make_hub = make_hub
        self.beat_interval = beat_interval
        self._hub: ApiClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[Future[Any]] = set()
        self.last_beat = time.monotonic()

    # -- lifecycle (main loop) ---------------------------------------------------------------

    async def __aenter__(self) -> LivenessLoop:
        self._thread = threading.Thread(target=self._main, name="fleet-liveness", daemon=True)
        self._thread.start()
        ready = await anyio.to_thread.run_sync(self._started.wait, START_TIMEOUT)
        if self._error is not None or not ready:
            await self._join()
            raise LivenessError(f"liveness loop did not start: {self._error or 'timed out'}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self._join()

    async def _join(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            await anyio.to_thread.run_sync(self._thread.join, STOP_TIMEOUT)

    # -- the thread --------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to __aenter__; never kills the process
            self._error = error
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self._hub = self._make_hub()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        try:
            self._started.set()
            await self._stop.wait()
            for task in list(self._tasks):
                task.cancel()
            # Let cancelled tasks run their cleanup (a shielded release, say) before closing.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if pending:
                await asyncio.wait(pending, timeout=STOP_TIMEOUT)
        finally:
            await self._hub.close()

    @property
    def hub(self) -> ApiClient:
        """This loop's own hub client (use it only on this loop)."""
        if self._hub is None:
            raise LivenessError("liveness loop is not running")
        return self._hub

    # -- reaching the loop from the main loop -------------------------------------------------

    def _submit(self, fn: Callable[[], Awaitable[T]]) -> Future[T]:
        if self._loop is None:
            raise LivenessError("liveness loop is not running")

        async def run() -> T:
            return await fn()

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn()` on the liveness loop and wait for its result here; cancelling the wait
        cancels it there too."""
        return await asyncio.wrap_future(self._submit(fn))

    def spawn(self, fn: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run `fn()` on the liveness loop until it ends or the loop stops; a failure is logged
        (never silently lost)."""

        def done(future: Future[Any]) -> None:
            if future.cancelled():
                return
            error = future.exception()
            if error is not None:
                log.error("liveness.task_failed", task=what, error=repr(error))

        self._submit(fn).add_done_callback(done)

    # -- the main loop's heartbeat -------------------------------------------------------------

    async def beat(self) -> None:
        """Run on the main loop: how late it runs is how busy (or stuck) that loop is."""
        while True:
            self.last_beat = time.monotonic()
            await anyio.sleep(self.beat_interval)

    def main_loop_silence(self) -> float:
        """Seconds since the main loop last beat (about `beat_interval` when it is idle)."""
        return time.monotonic() - self.last_beat


def notifier(callback: Callable[[], None]) -> Callable[[], None]:
    """`callback` made callable from any thread: it runs on the loop current now (the main one)."""
    loop = asyncio.get_running_loop()

    def notify() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    return notify
