"""A circuit breaker per cluster: stop sending work to a cluster that keeps failing.

Why: without it every reconciler keeps opening connections to a dead cluster, each waiting for
its timeout, holding memory and concurrency slots (Argo CD issue 19816). After `threshold`
consecutive failures the breaker opens: `allow()` is False and callers get `CircuitOpen` at
once. After a backoff (exponential from `base` to `cap`, with jitter) one trial (half-open) is
allowed; its success closes the breaker, its failure reopens it with a longer backoff.

Pure state machine with an injectable clock, so it is tested without sleeping.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 3,
        base: float = 1.0,
        cap: float = 60.0,
        jitter: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be >= 1")
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self._clock = clock
        self._rng = rng
        self.state = State.CLOSED
        self.failures = 0
        self.openings = 0
        """Consecutive times the breaker opened without a success: the backoff exponent."""
        self.retry_at = 0.0

    def backoff(self) -> float:
        """Seconds the breaker stays open this time: base * 2^(openings-1), capped, jittered."""
        delay = min(self.cap, self.base * 2 ** max(0, self.openings - 1))
        return float(delay * (1 - self.jitter + 2 * self.jitter * self._rng()))

    def allow(self) -> bool:
        """Whether a call may go out now. When an open breaker's backoff has passed it turns
        half-open and lets exactly one trial call through."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN and self._clock() >= self.retry_at:
            self.state = State.HALF_OPEN
            return True
        return False

    def seconds_until_retry(self) -> float:
        if self.state is State.CLOSED:
            return 0.0
        return max(0.0, self.retry_at - self._clock())

    def record_success(self) -> None:
        self.state = State.CLOSED
        self.failures = 0
        self.openings = 0

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is State.HALF_OPEN or (
            self.state is State.CLOSED and self.failures >= self.threshold
        ):
            self.openings += 1
            self.state = State.OPEN
            self.retry_at = self._clock() + self.backoff()
