"""The circuit breaker as a pure state machine (a fake clock, no sleeping)."""

from __future__ import annotations

import pytest

from fleet.clusters.breaker import CircuitBreaker, State


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(threshold=threshold, base=1.0, cap=8.0, jitter=0.0, clock=clock)


def test_it_stays_closed_below_the_threshold() -> None:
    b = breaker(Clock())
    b.record_failure()
    b.record_failure()
    assert b.state is State.CLOSED and b.allow()


def test_it_opens_after_n_consecutive_failures() -> None:
    b = breaker(Clock())
    for _ in range(3):
        b.record_failure()
    assert b.state is State.OPEN
    assert not b.allow()


def test_a_success_resets_the_failure_count() -> None:
    b = breaker(Clock())
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is State.CLOSED


def test_it_half_opens_after_the_backoff() -> None:
    clock = Clock()
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 0.99
    assert not b.allow()
    clock.now += 0.02
    assert b.allow()
    assert b.state is State.HALF_OPEN
    assert not b.allow()  # one trial at a time


def test_a_failed_trial_reopens_with_a_doubled_backoff_up_to_the_cap() -> None:
    clock = Clock()
    b = breaker(clock, threshold=1)
    delays = []
    for _ in range(6):
        b.record_failure()
        delays.append(b.seconds_until_retry())
        clock.now = b.retry_at
        assert b.allow()
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_successful_trial_closes_it() -> None:
    clock = Clock()
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now = b.retry_at
    assert b.allow()
    b.record_success()
    assert b.state is State.CLOSED and b.openings == 0


def test_jitter_stays_within_its_band() -> None:
    b = CircuitBreaker(threshold=1, base=10.0, cap=10.0, jitter=0.2, rng=lambda: 1.0)
    assert b.backoff() == pytest.approx(12.0)
    b = CircuitBreaker(threshold=1, base=10.0, cap=10.0, jitter=0.2, rng=lambda: 0.0)
    assert b.backoff() == pytest.approx(8.0)
