"""Concurrency toward one API server that follows what the server says it can take (AIMD).

Why: a fixed number of requests in flight per cluster is too many for a struggling API server
(each 429, 5xx or timeout is retried, so it only gets worse) and too few for a fast one. As TCP
does, the limit grows by one per `limit` successful requests (additive increase) and halves on a
sign of overload (multiplicative decrease), at most once per `cooldown`, so a burst of failures
from one bad moment costs one halving, not a collapse to the minimum.

Growth needs two things, because every extra slot is one more TLS connection (a handshake of
about 1.5 ms of CPU on each side, 60-90 KiB held while open):
- demand: requests were waiting for a slot (a limit nobody reaches is no limit, RFC 7661);
- headroom: the answer came about as fast as the fastest recent one (`headroom_factor` times the
  floor plus `headroom_slack`), as TCP Vegas reads it. A slow answer means a queue somewhere,
  in the server or in this process's own busy event loop, and more requests in flight would only
  lengthen it. Without this rule a controller saturating its core opened about 10 connections
  per cluster (5 of them for writes), and handshakes were a fifth of its CPU at 1,000 clusters.

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
    headroom_factor: float = 2.0
    headroom_slack: float = 0.010
    """An answer within `factor x floor + slack` seconds shows headroom (see the module doc)."""
    floor_window: float = 60.0
    """The floor is the fastest answer of the current or the previous window of this many
    seconds, so it follows a server that became slower for good."""


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
        self._floor = self._previous_floor = float("inf")
        self._window_start = time.monotonic()

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, *, timeout: float | None = None) -> float:
        """Take a slot; returns the seconds spent waiting for it (0.0 when one was free).

        TimeoutError after `timeout` seconds of waiting (the request's own bound)."""
        if self.inflight < self.limit and not self._waiters:
            self.inflight += 1
            return 0.0
        started = time.monotonic()
        event = anyio.Event()
        self._waiters.append(event)
        try:
            if timeout is None:
                await event.wait()
            else:
                with anyio.fail_after(timeout):
                    await event.wait()
        except BaseException:
            if event.is_set():  # woken for a slot it will not use: pass it on
                self.inflight -= 1
                self._wake()
            else:
                self._waiters.remove(event)
            raise
        return time.monotonic() - started

    def release(
        self,
        *,
        status: int | None = None,
        error: BaseException | None = None,
        latency: float | None = None,
    ) -> None:
        """`latency`: seconds from the slot to the answer; without it, success never grows the
        limit (no evidence of headroom)."""
        self.inflight -= 1
        if (status is not None and status in OVERLOAD_STATUSES) or isinstance(error, TIMEOUTS):
            self._overloaded()
        elif (
            status is not None
            and status < 500
            and latency is not None
            and self._headroom(latency)  # first: every answer updates the floor
            and self._waiters
        ):
            self._limit = min(float(self.settings.maximum), self._limit + 1.0 / self._limit)
        self._wake()

    def _headroom(self, latency: float) -> bool:
        now = time.monotonic()
        if now - self._window_start > self.settings.floor_window:
            self._previous_floor, self._floor = self._floor, float("inf")
            self._window_start = now
        self._floor = min(self._floor, latency)
        floor = min(self._floor, self._previous_floor)
        return latency <= self.settings.headroom_factor * floor + self.settings.headroom_slack

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
