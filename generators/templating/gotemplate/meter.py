"""The allocation and time meter of one template execution, charged by template functions.

A step limit alone does not bound memory: one step can double a string, and a loop of steps can
accumulate lists. So every function that builds something (a string, a list, a map, a decoded
document) charges what it built to the running execution's meter, and functions that do work
proportional to their input's square (`uniq`, `without`) tick it, so the execution's deadline is
seen even inside one call. Functions find the meter through a context variable set by the
interpreter, which keeps their signatures Go's. Outside an execution (a function called directly)
nothing is charged; the per-result caps (`check_size`) still hold.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

MIB = 1 << 20
MAX_STRING = 1 << 20
"""No function may build a string larger than this (the output limit of one field)."""
MAX_ITEMS = 1 << 17
"""No function may build a list or map with more entries than this (131,072)."""
ITEM_COST = 64
"""Bytes charged per list or map entry built: about a pointer plus a small object."""
CHECK_EVERY = 1024
"""Units of work (steps, charges, comparisons) between two looks at the clock."""


class LimitFuncError(Exception):
    """A function hit a limit of the execution; reported as a LimitExceededError.

    Not a FuncError: functions that turn their own errors into a value (Sprig's `toJson`
    returns "" on failure, `regexMatch` false) must not swallow a limit and carry on."""

    def __init__(self, msg: str, limit: str) -> None:
        super().__init__(msg)
        self.limit = limit


class Meter:
    __slots__ = ("alloc", "deadline", "max_alloc", "next_check", "ticks", "timeout")

    def __init__(self, max_alloc: int, deadline: float, timeout: float) -> None:
        self.alloc = 0
        self.max_alloc = max_alloc
        self.deadline = deadline
        self.timeout = timeout
        self.ticks = 0
        self.next_check = CHECK_EVERY

    def charge(self, n: int, what: str) -> None:
        self.alloc += n
        if self.alloc > self.max_alloc:
            raise LimitFuncError(
                f"{what}: the template allocated more than {self.max_alloc // MIB} MiB "
                "(the memory limit of one template execution)",
                "template_memory_bytes",
            )
        self.tick(1 + (n >> 10))  # building costs time too: a megabyte reads the clock

    def overdue(self, units: int = 1) -> bool:
        """Count `units` of work; about every CHECK_EVERY units, read the clock: is the
        deadline past?"""
        self.ticks += units
        if self.ticks < self.next_check:
            return False
        self.next_check = self.ticks + CHECK_EVERY
        return time.monotonic() > self.deadline

    def timeout_message(self) -> str:
        return f"expansion took longer than the limit of {self.timeout:g}s and was stopped"

    def tick(self, units: int = 1) -> None:
        if self.overdue(units):
            raise LimitFuncError(self.timeout_message(), "timeout")


CURRENT: ContextVar[Meter | None] = ContextVar("fleet_template_meter", default=None)


def charge(n: int, what: str) -> None:
    """Charge `n` bytes built by `what` to the running execution, if any."""
    meter = CURRENT.get()
    if meter is not None:
        meter.charge(n, what)


def tick(units: int = 1) -> None:
    """Work inside a function (about one comparison a unit): lets a long call see the
    deadline."""
    meter = CURRENT.get()
    if meter is not None:
        meter.tick(units)


def check_size(n: int, what: str) -> None:
    """Refuse before allocating: `repeat 1000000000` must fail, not exhaust memory.

    A cap on one result; what results add up to is charged by the interpreter (`cost`)."""
    if n > MAX_STRING:
        raise LimitFuncError(
            f"{what}: the result would be {n} bytes, over the limit of {MAX_STRING} bytes "
            "for one string",
            "template_memory_bytes",
        )


def check_items(n: int, what: str) -> None:
    """Refuse before building a list or map of `n` entries."""
    if n > MAX_ITEMS:
        raise LimitFuncError(
            f"{what}: the result would hold {n} entries, over the limit of {MAX_ITEMS} "
            "for one list or map",
            "template_memory_bytes",
        )


def cost(v: object) -> int:
    """What a function result is charged: its length for a string, entries for containers."""
    t = type(v)
    if t is str:
        return len(v)  # type: ignore[arg-type]
    if t is list or t is dict or t is tuple:
        return ITEM_COST * (len(v) + 1)  # type: ignore[arg-type]
    return ITEM_COST
