"""Concurrency toward one API server that follows what the server says it can take (AIMD).

Why: a fixed number of requests in flight per cluster is too many for a struggling API server
(each 429, 5xx or timeout is retried, so it only gets worse) and too few for a fast one. As TCP
does, the limit grows by one per `limit` successful requests (additive increase) and halves on a
sign of overload (multiplicative decrease), at most once per `cooldown`, so a burst of failures
from one bad moment costs one halving, not a collapse to the minimum.

Signs of overload: HTTP 429 and 5xx (except 501, which is an answer, not a strain) and request
timeouts. A refused connection is not one (the cluster is down, not busy: the circuit breaker
in fleet.clusters handles that). Watches never hold a slot: they are long-lived by design.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import aiohttp
import anyio

OVERLOAD_STATUSES = frozenset({429, *range(500, 600)}) - {501}
TIMEOUTS: tuple[type[BaseException], ...] = (asyncio.TimeoutError, aiohttp.ServerTimeoutError)


@dataclass(frozen=True)
class AdaptiveSettings:
    initial: int = 8
    minimum: int = 1
    maximum: int = 64
    decrease: float = 0.5
    cooldown: float = 1.0
    """Seconds after a decrease during which further overload signs do not decrease again."""


class AdaptiveLimit:
    """Slots for requests to one server. Use: `await limit.acquire()`, then exactly one
    `limit.release(status=...)` / `release(error=...)` / `release()` (neither: no signal)."""

    def __init__(self, settings: AdaptiveSettings | None = None) -> None:
        self.settings = settings or AdaptiveSettings()
        self._limit = float(max(self.settings.minimum, self.settings.initial))
        self.inflight = 0
        self.throttled = 0
        """How many overload signs were seen (each decrease and each sign in a cooldown)."""
        self._last_decrease = -float("inf")
        self._waiters: deque[anyio.Event] = deque()

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        if self.inflight < self.limit and not self._waiters:
            self.inflight += 1
            return
        event = anyio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():  # woken for a slot it will not use: pass it on
                self.inflight -= 1
                self._wake()
            else:
                self._waiters.remove(event)
            raise

    def release(self, *, status: int | None = None, error: BaseException | None = None) -> None:
        self.inflight -= 1
        if (status is not None and status in OVERLOAD_STATUSES) or isinstance(error, TIMEOUTS):
            self._overloaded()
        elif status is not None and status < 500:
            self._limit = min(float(self.settings.maximum), self._limit + 1.0 / self._limit)
        self._wake()

    def _overloaded(self) -> None:
        self.throttled += 1
        now = time.monotonic()
        if now - self._last_decrease < self.settings.cooldown:
            return
        self._last_decrease = now
        self._limit = max(float(self.settings.minimum), self._limit * self.settings.decrease)

    def _wake(self) -> None:
        """Hand free slots to waiters in arrival order (a slot is taken on their behalf)."""
        while self._waiters and self.inflight < self.limit:
            self.inflight += 1
            self._waiters.popleft().set()
