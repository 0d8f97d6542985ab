"""Bounds on one ApplicationSet expansion: wall clock, template memory and output sizes.

Templates, generator specs and the files git generators read come from whoever can write an
ApplicationSet or push to a repository it reads. Expansion is pure Python running inside the
controller's process, so an unbounded template (`{{ $s = print $s $s }}` forty times, a matrix of
three 1,000-element lists, a 1 MB template repeating a parameter) would take the process's memory
or hold a worker thread for hours. Each expansion therefore runs against a `Budget`:

- a wall-clock deadline, checked cooperatively: by the Go template interpreter every few
  thousand steps and inside costly functions, by generators, and before every Application;
- an allocation budget per template execution (see `gotemplate.meter`): every function that
  builds a string, list, map or decoded document is charged, so a loop accumulating data fails
  at the budget instead of at MemoryError;
- the size of one rendered Application (about etcd's object limit: it could not be stored
  anyway) and of the whole expansion, in both template modes;
- the number of parameter sets a generator may produce (a matrix multiplies them).

Hitting any bound raises `LimitExceededError` naming the field and the limit. An expansion that
stopped on a limit is incomplete, and an incomplete expansion never deletes anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from generators.errors import LimitExceededError

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class ExpansionLimits:
    timeout: float = 60.0
    """Seconds of wall clock one ApplicationSet's expansion may take."""
    max_application_bytes: int = MIB
    """One rendered Application, about its JSON size. etcd refuses objects over 1.5 MiB and
    the Application's status needs room too, so a larger one could never be stored."""
    max_expansion_bytes: int = 64 * MIB
    """Every Application of one expansion together (about their JSON size). Python holds them
    in about four times that: 64 MiB is some 100,000 typical Applications and 250 MiB of
    memory, inside the 1 GiB the deployment (deploy/) gives the controller."""
    max_parameter_sets: int = 100_000
    """Parameter sets one generator (a matrix or merge included) may produce."""
    template_memory_bytes: int = 64 * MIB
    """What one template execution may allocate in total: strings, lists, maps, decoded data."""


DEFAULT_LIMITS = ExpansionLimits()


class Budget:
    """One expansion's running totals against its limits; used by one thread at a time."""

    __slots__ = ("applications_bytes", "deadline", "limits")

    def __init__(self, limits: ExpansionLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout
        self.applications_bytes = 0

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    def check_time(self, field: str) -> None:
        """Raise once the deadline has passed; `field` says what was being expanded."""
        if time.monotonic() > self.deadline:
            raise deadline_error(self.limits.timeout, field)

    def check_parameter_sets(self, count: int, field: str) -> None:
        limit = self.limits.max_parameter_sets
        if count > limit:
            raise LimitExceededError(
                f"generates more than {limit} parameter sets (the limit per generator); "
                "narrow the generators (selectors, fewer matrix children)",
                field=field,
                limit="max_parameter_sets",
            )

    def count_application(self, size: int, field: str) -> None:
        self.applications_bytes += size
        limit = self.limits.max_expansion_bytes
        if self.applications_bytes > limit:
            raise LimitExceededError(
                f"the Applications generated so far exceed {limit // MIB} MiB together "
                "(the limit for one ApplicationSet); split it into several ApplicationSets",
                field=field,
                limit="max_expansion_bytes",
            )


def deadline_error(timeout: float, field: str) -> LimitExceededError:
    return LimitExceededError(
        f"expansion took longer than the limit of {timeout:g}s and was stopped",
        field=field,
        limit="timeout",
    )


def application_size_error(limit: int, field: str) -> LimitExceededError:
    return LimitExceededError(
        f"the rendered Application exceeds {limit // 1024} KiB, about the largest object "
        "etcd stores (1.5 MiB) less room for its status",
        field=field,
        limit="max_application_bytes",
    )


_ACTIVE: ContextVar[Budget | None] = ContextVar("fleet_expansion_budget", default=None)


def current() -> Budget | None:
    """The budget of the expansion running in this thread (or task), if any."""
    return _ACTIVE.get()


@contextmanager
def activated(budget: Budget) -> Iterator[Budget]:
    """Make `budget` the one template executions in this context are checked against."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)
